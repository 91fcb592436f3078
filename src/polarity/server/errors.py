"""Every error as ``{"error": {"code": ..., "message": ...}}`` with its status; never a bare 500.

Two pure ASGI middlewares run before any route: the bearer-token check and the body size limit,
so an unauthorised or oversized request is refused before its body is read or parsed.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polarity.errors import PolarityError

log = logging.getLogger("polarity.server")

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large", 422: "invalid_request", 503: "not_ready"}


class ApiError(Exception):
    """An error the client should see, with its HTTP status and code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def exception_response(exc: Exception, where: str) -> JSONResponse:
    """The error a request that raised ``exc`` gets: the API's own, the library's (422), else a logged 500."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, PolarityError):
        return error_response(422, "invalid_input", str(exc))
    log.error("unexpected error on %s", where, exc_info=exc)
    return error_response(500, "internal_error", f"unexpected error: {type(exc).__name__}")


async def send_response(send: Send, response: Response) -> None:
    """``response`` sent from ASGI code below the app's routes."""
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def _location(loc: Iterable) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError, content_type: str) -> JSONResponse:
    """400 for a body that is not JSON (or not UTF-8), 422 for JSON of the wrong shape."""
    errors = exc.errors()  # FastAPI's and pydantic's: each has a type, a location and a message
    if invalid := next((e for e in errors if e["type"] == "json_invalid"), None):  # FastAPI's, with ctx.error
        return error_response(400, "invalid_json", f"the body is not valid JSON: {invalid['ctx']['error']} "
                              f"at position {invalid['loc'][-1]}")
    first = errors[0]
    loc = tuple(first["loc"])
    code = "invalid_request"
    if first["type"] == "too_long" and loc[-1:] == ("texts",):
        code = "too_many_texts"
    elif first["type"] == "string_too_long" and loc[1:2] in (("texts",), ("text",)):
        code = "text_too_long"  # a text's limit; other strings (the model name) are invalid requests
    # Messages never echo the input: it may be megabytes, or a float JSON cannot hold (NaN).
    if loc == ("body",) and "json" not in content_type.lower():
        return error_response(422, code, f"the body must be a JSON object sent as Content-Type: application/json "
                              f"(got {content_type or 'no Content-Type'})")
    messages = [f"{_location(e['loc'])}: {e['msg']}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return error_response(422, code, "; ".join(messages) + more)


def install_error_handlers(app: FastAPI) -> None:
    """JSON errors for the API's own errors, the library's, validation, HTTP errors and the unexpected."""

    # ApiError and PolarityError answered by the route's layer; anything else by the outermost one (a 500)
    @app.exception_handler(ApiError)
    @app.exception_handler(PolarityError)
    @app.exception_handler(Exception)
    async def _raised(request: Request, exc: Exception) -> JSONResponse:
        return exception_response(exc, f"{request.method} {request.url.path}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc, request.headers.get("content-type", ""))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        if exc.status_code == 400:  # FastAPI's answer to a body it could not decode (not UTF-8)
            code, message = "invalid_json", "the body is not valid UTF-8 JSON"
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


async def _send_error(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    await send_response(send, error_response(status, code, message, headers))


class BearerAuthMiddleware:
    """With an API key, requests under ``protected`` need ``Authorization: Bearer KEY`` (else 401)."""

    def __init__(self, app: ASGIApp, api_key: str | None, protected: str = "/v1/") -> None:
        self.app, self.protected = app, protected
        self.expected = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or not scope["path"].startswith(self.protected):
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        scheme, _, token = given.partition(b" ")
        bearer, token = scheme.lower() == b"bearer", token.strip()  # scheme names are case-insensitive
        if not (bearer and hmac.compare_digest(token, self.expected)):
            message = "wrong API key" if bearer and token else "missing API key: send Authorization: Bearer KEY"
            await _send_error(send, 401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Reads a request body of at most ``max_bytes`` (413 beyond, from Content-Length or while
    reading a chunked body), then hands it to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send) -> None:
        await _send_error(send, 413, "payload_too_large", f"the request body is over the limit of {self.max_bytes:,} bytes")


def replay(body: bytes, receive: Receive, more: bool = False) -> Receive:
    """A ``receive`` that gives ``body`` once (``more``: more of the body follows from ``receive``),
    then passes on what ``receive`` gives (the rest of the body, or a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed

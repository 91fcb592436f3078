"""``POST /v1/predict`` answered below FastAPI's per-request machinery, with the same results.

Under load the event loop spent about 40 % of each prediction request in FastAPI's routing,
dependency and response layers (docs/PERFORMANCE.md). A well-formed request (a JSON body that
:class:`~polarity.server.schemas.PredictRequest` accepts, naming a model that is ready) is answered
here: validated by the same pydantic model straight from the body's bytes, classified by the same
:class:`~polarity.server.registry.ServedModel`, written as ``JSONResponse`` writes it. Every other
request goes on to the FastAPI route, whose answers (every error, 400/404/413/422/503) stay the
only ones. It runs after the API-key check and the body limit, which have read the whole body.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from polarity.server.errors import ApiError, exception_response, replay, send_response
from polarity.server.registry import ModelSet, ServedModel
from polarity.server.schemas import PredictRequest

JSON_HEADERS = [(b"content-type", b"application/json")]


class PredictFastPath:
    """ASGI middleware: ``POST path`` with a valid JSON body is answered here, anything else by ``app``."""

    def __init__(self, app: ASGIApp, models: ModelSet, path: str = "/v1/predict") -> None:
        self.app, self.models, self.path = app, models, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path or not _sends_json(scope):
            await self.app(scope, receive, send)
            return
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        body = message.get("body", b"")
        accepted = None if message.get("more_body", False) else self._accept(body)
        if accepted is None:
            await self.app(scope, replay(body, receive, more=message.get("more_body", False)), send)
            return
        served, request = accepted
        try:
            results = await served.classify(request.texts, request.threshold)
        except Exception as exc:  # the error the app's handlers give
            await send_response(send, exception_response(exc, f"POST {self.path}"))
            return
        content = _dumps({"model": served.entry.name, "results": results})
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(content)).encode()), *JSON_HEADERS]})
        await send({"type": "http.response.body", "body": content})

    def _accept(self, body: bytes) -> tuple[ServedModel, PredictRequest] | None:
        """The model and the request, or None for anything the FastAPI route should answer."""
        try:
            request = PredictRequest.model_validate_json(body)
            return self.models.get(request.model), request
        except (ValidationError, ApiError):
            return None


def _sends_json(scope: Scope) -> bool:
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
    return content_type.split(b";")[0].strip().lower() == b"application/json"


def _dumps(content: dict) -> bytes:
    """The bytes ``JSONResponse(content)`` sends."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")

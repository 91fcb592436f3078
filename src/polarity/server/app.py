"""The FastAPI application: JSON API under /v1, health and readiness probes, and a page at /.

Routes (with an API key, everything under /v1/ needs ``Authorization: Bearer KEY``):

- ``POST /v1/predict``: labels and probabilities of up to 256 texts, batched with other requests
- ``POST /v1/explain``: each word's contribution to one text's prediction
- ``GET /v1/models``: the models served, their labels and reported metrics
- ``GET /healthz`` (the process answers), ``GET /readyz`` (the models are loaded; 503 before)
- ``GET /`` the page, ``GET /docs`` and ``/openapi.json`` the API's description
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import APIRouter, FastAPI, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer

from polarity import __version__
from polarity.engine.threads import serving_process
from polarity.server.settings import API_KEY_ENV, CONFIG_ENV
from polarity.server.errors import BearerAuthMiddleware, BodyLimitMiddleware, install_error_handlers
from polarity.server.fastpath import PredictFastPath
from polarity.server.registry import ModelSet, read_entries
from polarity.server.schemas import (
    MAX_BODY_BYTES,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    Health,
    ModelsResponse,
    PredictRequest,
    PredictResponse,
    Readiness,
)

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _errors(*statuses: int) -> dict:
    return {status: {"model": ErrorResponse} for status in statuses}


def create_app(model_dirs: Sequence[str | os.PathLike], api_key: str | None = None, *,
               max_batch: int = 256, batch_window: float = 0.005, max_body_bytes: int = MAX_BODY_BYTES,
               device: str = "cpu", cores: int | None = None, freeze_gc: bool = False,
               backend: str = "torch") -> FastAPI:
    """A server of the models in ``model_dirs`` (each named after its folder; the first is the default).

    The folders are checked now (a :class:`~polarity.errors.PolarityError` says what is wrong); the
    models load in a thread once the server starts, and /readyz answers 503 until they have.
    ``max_batch`` texts at most go to a model in one call; a request waits at most ``batch_window``
    seconds for others to join its batch. A model call runs its batch in ``cores`` parts side by side
    (default: PyTorch's thread count), or with ``backend="onnxruntime"`` on ONNX Runtime with that many
    threads. ``freeze_gc`` (for a process that only serves) moves everything
    alive once the models are loaded out of the garbage collector's way (``gc.freeze``).
    """
    models = ModelSet(read_entries(model_dirs), max_batch=max_batch, window=batch_window, device=device, cores=cores,
                      backend=backend)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(_load, models, freeze_gc))
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(loading), timeout=30)
            await models.close()

    app = FastAPI(title="polarity", version=__version__, lifespan=lifespan,
                  description="Sentiment (and other labels) of raw text with polarity's LSTM-family models. "
                  "Errors are `{\"error\": {\"code\": ..., \"message\": ...}}`."
                  + (" Everything under /v1/ needs `Authorization: Bearer KEY`." if api_key else ""))
    app.state.models = models
    install_error_handlers(app)
    app.include_router(_api_router(models, api_key))
    _add_probes(app, models)
    _add_page(app)
    app.add_middleware(PredictFastPath, models=models)  # added first: runs after the key and the body limit
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(BearerAuthMiddleware, api_key=api_key)  # added last: runs first
    return app


def _load(models: ModelSet, freeze_gc: bool) -> None:
    models.load()
    if freeze_gc:
        # Full collections went through every object of PyTorch, FastAPI and the models: about 50 ms
        # each, the slowest 1 % of requests under load (p99 160 -> 110 ms, 50 clients, 2 cores).
        gc.collect()
        gc.freeze()


def _api_router(models: ModelSet, api_key: str | None) -> APIRouter:
    # The middleware checks the key; the dependency only puts the scheme into /openapi.json and /docs.
    security = [Security(HTTPBearer(auto_error=False))] if api_key else []
    router = APIRouter(prefix="/v1", dependencies=security, responses=_errors(401) if api_key else {})
    failures = _errors(400, 404, 413, 422, 503)

    @router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True,
                 responses=failures, summary="classify texts")
    async def predict(request: PredictRequest) -> Response:
        """Label, score and per-label probabilities of each text (`warning` only where the text is empty or
        has no known word). Requests that arrive together share one model call."""
        served = models.get(request.model)
        results = await served.classify(request.texts, request.threshold)
        return JSONResponse({"model": served.entry.name, "results": results})  # built to the schema: not re-validated

    @router.post("/explain", response_model=ExplainResponse, responses=failures,
                 summary="each word's contribution")
    async def explain(request: ExplainRequest) -> dict:
        """Occlusion: each word's contribution is the drop in the explained label's probability without it."""
        served = models.get(request.model)
        return {"model": served.entry.name, **await served.explain(request.text)}

    @router.get("/models", response_model=ModelsResponse, summary="the models served")
    async def list_models() -> dict:
        return {"models": [entry.info(name == models.default) for name, entry in models.entries.items()]}

    return router


def _add_probes(app: FastAPI, models: ModelSet) -> None:
    @app.get("/healthz", response_model=Health, tags=["probes"], summary="the process is alive")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", response_model=Readiness, responses=_errors(503), tags=["probes"],
             summary="the models are loaded")
    async def readyz() -> Response:
        if not models.ready:
            return JSONResponse({"error": {"code": "not_ready", "message": models.not_ready_message()}},
                                status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"status": "ready", "models": list(models.loaded)})


def _add_page(app: FastAPI) -> None:
    """The web page: index.html at /, the other files of STATIC under /static/ (read once, now)."""
    folder = resources.files("polarity.server") / "static"

    def route(name: str) -> Callable[[], Awaitable[Response]]:
        body = (folder / name).read_bytes()

        async def page() -> Response:
            return Response(body, media_type=STATIC[name], headers=PAGE_HEADERS)

        return page

    for name in STATIC:
        app.get("/" if name == "index.html" else f"/static/{name}", include_in_schema=False)(route(name))


def app_from_env() -> FastAPI:
    """The app that `polarity serve` describes in $POLARITY_SERVE_CONFIG (uvicorn's factory, in each
    worker), under the serving thread policy (:func:`polarity.engine.threads.serving_process`)."""
    settings = json.loads(os.environ[CONFIG_ENV])
    cores = serving_process(settings["threads"])
    return create_app(settings["models"], api_key=os.environ.get(API_KEY_ENV) or None, cores=cores, freeze_gc=True,
                      max_batch=settings["max_batch"], batch_window=settings["batch_window"], backend=settings["backend"])

"""The models a server answers with: fixed at start, each under its folder's name, each with its own
model thread and batcher."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool

from polarity.engine.threads import threads_for, torch_threads
from polarity.errors import ConfigError, DataError
from polarity.inference import Predictor
from polarity.inference.explore import explain
from polarity.models.folder import ModelFolder
from polarity.server.batcher import Batcher
from polarity.server.errors import ApiError
from polarity.server.schemas import MAX_EXPLAIN_WORDS

log = logging.getLogger("polarity.server")

INLINE_CHARS = 20_000  # requests with fewer characters are encoded on the event loop (a thread hop costs more)


@dataclass(frozen=True)
class ModelEntry:
    """What a model folder says about itself, read once at start."""

    name: str
    folder: Path
    recipe: str
    labels: list
    metrics_split: str | None
    metrics: dict | None

    def info(self, default: bool) -> dict:
        return {"name": self.name, "recipe": self.recipe, "labels": self.labels, "default": default,
                "metrics_split": self.metrics_split, "metrics": self.metrics}


def read_entry(folder: str | os.PathLike) -> ModelEntry:
    """A model folder's name, recipe, labels and reported metrics (a :class:`ConfigError` if it is none)."""
    model_folder = ModelFolder(Path(folder).expanduser().resolve())
    config, data = model_folder.config(), model_folder.metrics()
    split = data.get("reported_on", "test" if "test" in data else None) if isinstance(data, dict) else None
    metrics = data.get(split) if split else None  # NaN and infinities: the response model writes null
    return ModelEntry(model_folder.path.name, model_folder.path, config.name, list(config.labels), split, metrics)


def read_entries(folders: Sequence[str | os.PathLike]) -> list[ModelEntry]:
    """Entries of all folders; names (folder names) must differ."""
    if not folders:
        raise ConfigError("no model folder given")
    entries = [read_entry(folder) for folder in folders]
    seen: dict[str, Path] = {}
    for entry in entries:
        if entry.name in seen:
            raise ConfigError(f"two models named {entry.name!r} ({seen[entry.name]} and {entry.folder}): "
                              "models are served under their folder names, rename one")
        seen[entry.name] = entry.folder
    return entries


class ServedModel:
    """One loaded model behind a batcher that feeds one model thread (one call at a time): a thin
    adapter over :class:`~polarity.inference.Predictor`, which shares each call out over its workers,
    one per core (docs/PERFORMANCE.md, serving), decides and makes the records."""

    def __init__(self, entry: ModelEntry, predictor: Predictor, *, max_batch: int, window: float,
                 cores: int | None = None) -> None:
        self.entry, self.predictor = entry, predictor
        self.cores = 1 if predictor.device.type != "cpu" else max(1, cores or torch_threads())
        predictor.keep_workers(self.cores)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"polarity-{entry.name}")
        self.batcher: Batcher[list[int], np.ndarray] = Batcher(predictor.call_proba_ids, self.executor,
                                                               max_batch=max_batch, window=window)

    # -- in the model thread ---------------------------------------------------------------------------
    def _explain(self, text: str) -> dict:
        words = len(self.predictor.encoder.tokenize(text))
        if words > MAX_EXPLAIN_WORDS:
            raise ApiError(422, "text_too_long", f"/v1/explain takes texts of up to {MAX_EXPLAIN_WORDS:,} words; "
                           f"this one has {words:,}")
        with threads_for(self.cores):  # its batches side by side on every core
            return explain(self.predictor, text)

    def warm_up(self) -> None:
        """First calls build the kernels (one text alone, and parts side by side): pay before the first request."""
        for texts in (["a warm up"], ["a warm up", "a warm up text, a little longer"]):
            self.executor.submit(self.predictor.call_proba_ids, self.predictor.encode(texts)).result()

    # -- on the event loop -----------------------------------------------------------------------------
    async def classify(self, texts: list[str], threshold: float | None) -> list[dict]:
        """``Predictor.classify(texts, threshold=...)`` records without the text, the model call batched."""
        try:
            self.predictor.check_threshold(threshold)
        except DataError as exc:
            raise ApiError(422, "invalid_threshold", f"{exc} ({self.entry.name!r})") from None
        if sum(map(len, texts)) <= INLINE_CHARS:
            ids = self.predictor.encode(texts)
        else:
            ids = await run_in_threadpool(self.predictor.encode, texts)
        probs = np.asarray(await self.batcher.submit(ids)).reshape(len(texts), len(self.predictor.labels))
        return [result.to_dict(text=False) for result in self.predictor.results(texts, ids, probs, threshold)]

    async def explain(self, text: str) -> dict:
        """``explain``'s record (the response model leaves out its text: answers never echo the input)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._explain, text)

    async def close(self) -> None:
        await self.batcher.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.predictor.close(wait=False)  # on the event loop: never wait for a running part


class ModelSet:
    """The served models by name: entries at once, loaded models once :meth:`load` has run."""

    def __init__(self, entries: list[ModelEntry], *, max_batch: int, window: float, device: str, cores: int | None,
                 backend: str) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self.backend = backend
        self.default = entries[0].name
        self.max_batch, self.window, self.device, self.cores = max_batch, window, device, cores
        self.loaded: dict[str, ServedModel] = {}
        self.error: str | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return len(self.loaded) == len(self.entries)

    def load(self) -> None:
        """Load and warm up every model (in a worker thread; /readyz says 503 until it is done)."""
        try:
            for name, entry in self.entries.items():
                started = time.perf_counter()
                with threads_for(self.cores or torch_threads()):  # ONNX Runtime's threads
                    predictor = Predictor.load(entry.folder, device=self.device, backend=self.backend)
                served = ServedModel(entry, predictor,
                                     max_batch=self.max_batch, window=self.window, cores=self.cores)
                served.warm_up()
                with self._lock:
                    self.loaded[name] = served
                log.info("model %s loaded from %s in %.1f s", name, entry.folder, time.perf_counter() - started)
        except Exception as exc:  # a folder that passed the start-up check but does not load
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("loading the models failed: %s", self.error)

    def get(self, name: str | None) -> ServedModel:
        """The model ``name`` (default: the first), or the API error saying why not."""
        name = self.default if name is None else name
        if name not in self.entries:
            raise ApiError(404, "model_not_found", f"no model named {name!r}; models: {', '.join(self.entries)}")
        served = self.loaded.get(name)
        if served is None:
            raise ApiError(503, "not_ready", self.not_ready_message(), {"Retry-After": "1"})
        return served

    def not_ready_message(self) -> str:
        if self.error:
            return f"the models failed to load: {self.error}"
        return f"loading models: {len(self.loaded)} of {len(self.entries)} ready"

    async def close(self) -> None:
        """Stop every model's batcher and thread; a later start loads them again."""
        with self._lock:
            closing, self.loaded, self.error = list(self.loaded.values()), {}, None
        for served in closing:
            await served.close()

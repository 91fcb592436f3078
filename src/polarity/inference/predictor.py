"""Predict raw text with a model folder: the folder's own text encoder, labels and weights."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from polarity.data.encoder import TextEncoder
from polarity.data.vocab import OOV
from polarity.engine import resolve_device, resolve_precision
from polarity.engine.threads import ShardPool
from polarity.errors import DataError
from polarity.inference.backends import Backend, check_backend, make_backend
from polarity.models.folder import ModelConfig, ModelFolder


@dataclass
class Prediction:
    """One text's result, as Hugging Face pipelines report it: the label, the confidence in it
    (``score``) and the probability of every label."""

    text: str
    label: str | int
    score: float
    probabilities: dict[str, float]
    warning: str | None = None

    def to_dict(self, text: bool = True) -> dict:
        """JSON-ready (``warning`` only where there is one; without the text with ``text=False``)."""
        data = {"text": self.text, "label": self.label, "score": self.score, "probabilities": self.probabilities}
        if not text:
            del data["text"]
        if self.warning is not None:
            data["warning"] = self.warning
        return data


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of str, or a :class:`DataError` saying what is wrong."""
    if isinstance(texts, (str, bytes)):
        raise DataError("expected a list of texts, got one string: wrap it in a list, e.g. predict([text])")
    try:
        texts = list(texts)
    except TypeError as exc:
        raise DataError(f"expected a list of texts, got {type(texts).__name__}") from exc
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"text {i} is {type(text).__name__}, not str")
    return texts


def check_threshold(threshold: float | None, labels: list) -> float:
    """``threshold`` (default 0.5) when it fits a model with ``labels``, else a :class:`DataError`."""
    if threshold is None:
        return 0.5
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise DataError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    if len(labels) != 2:
        raise DataError(f"a threshold applies to two-label models; this one has {len(labels)} labels")
    if not 0.0 <= threshold <= 1.0:
        raise DataError(f"threshold must be between 0 and 1, got {threshold}")
    return threshold


def decide(probs: np.ndarray, labels: list, threshold: float | None = None) -> np.ndarray:
    """Label indices: the most probable label, or for two labels the second one when its probability
    is at least ``threshold`` (default 0.5)."""
    threshold = check_threshold(threshold, labels)
    if len(labels) == 2:
        return (probs[:, 1] >= threshold).astype(np.int64)
    return probs.argmax(axis=1)


class Predictor:
    """A trained model ready for raw text: the one inference path of the CLI, Python, the server and
    the engines. It owns the backend (PyTorch or ONNX Runtime), how texts are batched and shared out
    over the cores, the decision rule with its threshold, and the result records.

    >>> predictor = Predictor.load("runs/default")                     # doctest: +SKIP
    >>> predictor.predict(["A wonderful film.", "Dreadful."])          # doctest: +SKIP
    ['positive', 'negative']
    >>> predictor.predict_proba(["A wonderful film."])                 # doctest: +SKIP
    array([[0.07, 0.93]])
    """

    def __init__(self, model: torch.nn.Module, config: ModelConfig, encoder: TextEncoder, device: torch.device,
                 precision: str = "float32", backend: str = "torch") -> None:
        self.model, self.config, self.encoder, self.device = model, config, encoder, device
        check_backend(backend, device, precision)
        self.precision = resolve_precision(precision, device)
        self.labels: list = list(config.labels)
        self.batching: str = config.batching
        self.name: str = config.name
        self.backend: Backend = make_backend(backend, model, vocab_size=encoder.vocab_size, maxlen=encoder.maxlen,
                                             batching=self.batching, device=device, precision=self.precision)
        self.workers: ShardPool | None = None

    @classmethod
    def load(cls, model_dir: str | os.PathLike, device: str = "cpu", precision: str = "float32",
             backend: str = "torch") -> "Predictor":
        """``precision="bfloat16"`` runs the matrix products in bfloat16: faster on CPUs with native
        bfloat16 (AVX-512 BF16, AMX); where the CPU has no bfloat16 kernels it warns and uses float32.
        ``backend="onnxruntime"`` runs the network on ONNX Runtime (CPU, float32; ``rnn`` models
        without pooling over time and ``mean-embedding`` models: what ``polarity export`` exports)."""
        dev = resolve_device(device)
        loaded = ModelFolder(model_dir).load(dev)
        return cls(loaded.model, loaded.config, loaded.encoder, dev, precision, backend)

    @property
    def maxlen(self) -> int | None:
        return self.encoder.maxlen

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2

    # -- workers for many calls (a server) ------------------------------------------------------------
    def keep_workers(self, cores: int) -> None:
        """Keep ``cores`` single-threaded workers for :meth:`call_proba_ids` (CPU, PyTorch backend)."""
        if cores > 1 and self.device.type == "cpu" and self.backend.name == "torch" and self.workers is None:
            self.workers = ShardPool(cores)

    def close(self, wait: bool = True) -> None:
        if self.workers is not None:
            self.workers.close(wait=wait)
            self.workers = None

    # -- probabilities ---------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids as the model reads them."""
        return self.encoder.encode(check_texts(texts))

    def predict_proba_ids(self, ids: list[list[int]], batch_size: int = 256) -> np.ndarray:
        """(texts, labels) probabilities for texts already encoded by :meth:`encode`."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not ids:
            return np.zeros((0, len(self.labels)))
        return self.backend.probabilities(ids, batch_size=batch_size)

    def call_proba_ids(self, ids: list[list[int]]) -> np.ndarray:
        """One model call for a server's batch: shared out in parts of equal work over the kept
        workers (:meth:`keep_workers`), each text getting what it gets alone."""
        if not ids:
            return np.zeros((0, len(self.labels)))
        parts = self.workers.shards if self.workers is not None else 1
        return self.backend.probabilities(ids, batch_size=len(ids), parts=parts, pool=self.workers)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(texts, labels) probabilities; columns in the order of :attr:`labels`."""
        return self.predict_proba_ids(self.encode(texts), batch_size)

    # -- decisions -----------------------------------------------------------------------------------
    def check_threshold(self, threshold: float | None) -> float:
        """``threshold`` (default 0.5) if it can apply to this model, else a :class:`DataError`."""
        return check_threshold(threshold, self.labels)

    def decide(self, probs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Label indices (:func:`decide`: the most probable label, or for two labels the second one
        when its probability is at least ``threshold``, default 0.5)."""
        return decide(probs, self.labels, threshold)

    def predict(self, texts: Sequence[str], batch_size: int = 256, threshold: float | None = None) -> list:
        """The label of each text (names as in the training data)."""
        return [self.labels[i] for i in self.decide(self.predict_proba(texts, batch_size), threshold)]

    def classify(self, texts: Sequence[str], batch_size: int = 256, threshold: float | None = None) -> list[Prediction]:
        """Label, confidence and per-label probabilities of each text.

        Texts without words, or without a single known word, are still scored (the model reads
        only its start and unknown markers) and carry a ``warning`` saying so.
        """
        texts = check_texts(texts)
        ids = self.encoder.encode(texts)
        return self.results(texts, ids, self.predict_proba_ids(ids, batch_size), threshold)

    def results(self, texts: list[str], ids: list[list[int]], probs: np.ndarray,
                threshold: float | None = None) -> list[Prediction]:
        """The records of texts already encoded and predicted (:meth:`classify` without the model call)."""
        chosen = self.decide(probs, threshold)
        names = [str(label) for label in self.labels]
        start = self.encoder.vocab.start_char
        return [Prediction(text, self.labels[k], float(p[k]), dict(zip(names, map(float, p))),
                           input_warning(text, seq, start))
                for text, seq, p, k in zip(texts, ids, probs, chosen.tolist())]


def input_warning(text: str, ids: list[int], start_char: int | None) -> str | None:
    words = [i for i in ids if i != start_char]
    if not text.strip() or not words:
        return "empty text: scored from the start marker alone"
    if all(i == OOV for i in words):
        return "no known words: every word is out of the model's vocabulary"
    return None

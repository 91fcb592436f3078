"""Export a model folder's network for other runtimes: ONNX or TorchScript, plus its preprocessing as JSON.

The exported network takes pre-padded token ids ``ids`` (int64, ``(batch, time)``, 0 = padding) and
the true lengths ``lengths`` (int64, ``(batch,)``), both with dynamic batch and time axes, and returns
``probabilities`` (float32, ``(batch, labels)``): one column per label in the order of ``labels``
(for two-label models ``[1 - p, p]`` from the sigmoid, else a softmax).

:class:`ExportModule` wraps a model's own ``forward`` in eval mode, which is written in tensor
operations only (:mod:`polarity.models.masking`): masking left-aligns each row with a gather, a
masked RNN gathers its output at each row's last word and runs its backward direction on each row
reversed within its length; the time segments a CPU prediction uses are left out while tracing, and
dropouts and weight-drop are training-only.

``tests/test_export.py`` checks the wrapper against ``model.forward`` and the exported files against
PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from polarity.data.tokenizer import BR_TAG, CLAUSE_END, NEGATION
from polarity.engine.predict import reads_alone
from polarity.errors import ConfigError, PolarityError
from polarity.files import atomic_path, atomic_write, json_text

FORMATS = ("onnx", "torchscript")
OPSET = 18  # ai.onnx opset of the exported graph: ONNX Runtime >= 1.14 and most other runtimes read it
PREPROCESSING_FORMAT = "polarity.preprocessing/1"
INPUTS = {"ids": {"dtype": "int64", "shape": ["batch", "time"]}, "lengths": {"dtype": "int64", "shape": ["batch"]}}
SAMPLE_TEXTS = ["One of the best films I have seen this year: moving, funny and beautifully shot.",
                "I wanted to like it, but the script is lazy and the ending makes no sense.<br /><br />Avoid.",
                ""]


class ExportModule(nn.Module):
    """``(ids, lengths) -> probabilities`` for a ``rnn`` or ``mean-embedding`` classifier: the model's
    own forward pass, traced."""

    def __init__(self, model: nn.Module, alone: bool = False) -> None:
        """``alone``: each row computed as if without padding (the masked computation), as polarity
        predicts models trained with bucketed batches; otherwise an unmasked RNN reads the padding."""
        super().__init__()
        from polarity.models.classifiers import MeanEmbeddingClassifier, RecurrentClassifier, hard_sigmoid_gates

        self.model = model.eval()
        self.kind = "mean" if isinstance(model, MeanEmbeddingClassifier) else "rnn"
        if not isinstance(model, (MeanEmbeddingClassifier, RecurrentClassifier)):
            raise ConfigError(f"cannot export a {type(model).__name__}: only 'rnn' and 'mean-embedding' models")
        if getattr(model, "pooling", "last") != "last" or hard_sigmoid_gates(getattr(model, "rnn", None)):
            raise ConfigError("cannot export an rnn with pooling over time or hard_sigmoid gates (a step loop): only "
                              "the last step of a fused LSTM/GRU is exported")
        self.binary = model.output.out_features == 1
        self.alone = alone
        self.masked = bool(model.mask_padding) or (alone and self.kind == "rnn")

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = self.logits(ids, lengths)
        if self.binary:
            p = torch.sigmoid(logits)
            return torch.cat([1.0 - p, p], dim=1)
        return torch.softmax(logits, dim=1)

    def logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(batch, outputs)`` logits: the model's own output, with the one-logit axis kept."""
        from polarity.models.classifiers import exporting

        with exporting():
            logits = self.model(ids, lengths, alone=self.alone)
        return logits.unsqueeze(1) if logits.ndim == 1 else logits


# -- export ------------------------------------------------------------------------------------------------
def example_inputs(vocab_size: int, maxlen: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A small pre-padded batch (3 rows of different lengths, time >= 2) to trace with."""
    generator = torch.Generator().manual_seed(seed)
    width = max(2, min(maxlen or 12, 12))
    lengths = torch.tensor([width, max(1, width // 2), 1])
    ids = torch.randint(3, max(4, vocab_size), (3, width), generator=generator)
    positions = torch.arange(width).unsqueeze(0)
    return ids.masked_fill(positions < width - lengths.unsqueeze(1), 0), lengths


def export_model(model_dir: str | os.PathLike, out: str | os.PathLike, format: str = "onnx", *,
                 opset: int = OPSET) -> dict:
    """Write ``out`` (the network, ONNX or TorchScript) and ``out`` with suffix ``.preprocessing.json``.

    Returns what was written: paths, format, inputs and outputs, labels, and the largest difference
    from PyTorch's probabilities on a check batch (ONNX: only when ``onnxruntime`` is installed).
    """
    from polarity.models.folder import ModelFolder

    if format not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    loaded = ModelFolder(model_dir).load("cpu")
    model, config, encoder = loaded.model, loaded.config, loaded.encoder
    labels = list(config.labels)
    module = ExportModule(model, alone=reads_alone(config.batching, encoder.maxlen)).eval()  # as Predictor computes
    out = Path(out)
    sample = example_inputs(encoder.vocab_size, encoder.maxlen)
    if format == "onnx":
        onnx_modules()
    with atomic_path(out) as tmp:  # only a file that passed the check replaces ``out``
        if format == "onnx":
            write_onnx(module, sample, tmp, opset)
        else:
            write_torchscript(module, sample, tmp)
        check = check_export(module, tmp, format, encoder.vocab_size)
    preprocessing = out.with_suffix(".preprocessing.json")
    write_preprocessing(preprocessing, preprocessing_spec(config, encoder, module, out, format, opset))
    result = {
        "model": str(out), "format": format, "bytes": out.stat().st_size, "preprocessing": str(preprocessing),
        "inputs": INPUTS, "outputs": {"probabilities": {"dtype": "float32", "shape": ["batch", len(labels)]}},
        "labels": labels, "vocabulary_words": len(encoder.vocab.utf8_index()), "maxlen": encoder.maxlen,
    }
    if format == "onnx":
        result["opset"] = opset
    result["check"] = check
    return result


def onnx_modules() -> None:
    missing = [name for name in ("onnx", "onnxscript") if not _importable(name)]
    if missing:
        raise ConfigError(f"ONNX export needs {' and '.join(missing)}: pip install 'polarity[export]' "
                          "(onnx, onnxscript, onnxruntime)")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def write_onnx(module: ExportModule, sample: tuple[torch.Tensor, torch.Tensor], out: Path, opset: int) -> None:
    """torch.export-based exporter (``dynamo=True``), both axes dynamic, weights inside the file."""
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    forget_rnn_decompositions()
    with quiet_exporter(), torch.no_grad():
        torch.onnx.export(module, sample, str(out), dynamo=True, opset_version=opset, external_data=False,
                          input_names=["ids", "lengths"], output_names=["probabilities"],
                          dynamic_shapes={"ids": {0: batch, 1: time}, "lengths": {0: batch}}, verbose=False)


def forget_rnn_decompositions() -> None:
    """Work around a torch 2.13 quirk: after one ONNX export in a process, the Python dispatcher's
    cache of ``aten.lstm``/``aten.gru`` holds their decompositions, so the next export unrolls the
    RNN over the sample's time steps and freezes the time axis (ONNX Runtime then rejects any other
    length). Clearing that cache gives every export the fresh process's result: one ONNX LSTM/GRU op."""
    for name in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        packet = getattr(torch.ops.aten, name)
        for overload in packet.overloads():
            cache = getattr(getattr(packet, overload), "_dispatch_cache", None)
            if isinstance(cache, dict):
                cache.clear()


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence what torch.onnx.export says about itself in 2.13: progress lines on stdout, log
    warnings (torchvision operators it skips) and FutureWarnings from torch.export's internals."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def write_torchscript(module: ExportModule, sample: tuple[torch.Tensor, torch.Tensor], out: Path) -> None:
    """A traced module (``torch.jit.trace``; deprecated in PyTorch 2.10+ but still read by LibTorch)."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # nn.LSTM's own shape checks, constant per model
        module.requires_grad_(False)  # outputs that callers can turn into arrays without detach()
        traced = torch.jit.trace(module, sample, check_trace=False)
        torch.jit.save(traced, str(out))


def check_inputs(vocab_size: int, rows: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch with other sizes than the traced one (5 x 17, traced: 3 x <= 12): catches axes frozen by
    export. The network takes any width, also beyond maxlen."""
    generator = torch.Generator().manual_seed(seed)
    width = 17
    lengths = torch.randint(1, width + 1, (rows,), generator=generator)
    lengths[0] = width
    ids = torch.randint(1, max(2, vocab_size), (rows, width), generator=generator)
    return ids.masked_fill(torch.arange(width).unsqueeze(0) < width - lengths.unsqueeze(1), 0), lengths


def run_exported(path: Path, format: str, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Probabilities from the written file: ONNX Runtime (None when it is not installed) or LibTorch."""
    if format == "onnx":
        if not _importable("onnxruntime"):
            return None
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(["probabilities"], {"ids": ids, "lengths": lengths})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        return loaded(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()


def check_export(module: ExportModule, path: Path, format: str, vocab_size: int) -> dict:
    ids, lengths = check_inputs(vocab_size)
    with torch.no_grad():
        expected = module(ids, lengths).numpy()
    try:
        got = run_exported(path, format, ids.numpy(), lengths.numpy())
    except Exception as exc:  # e.g. ONNX Runtime rejecting a batch whose axes the export froze
        raise PolarityError(f"the exported network fails on a {tuple(ids.shape)} check batch: {exc}") from exc
    if got is None:
        return {"runtime": None, "note": "onnxruntime is not installed: the file was not run"}
    runtime = "onnxruntime" if format == "onnx" else "torch.jit"
    diff = float(np.abs(got - expected).max())
    if not diff < 1e-4:
        raise PolarityError(f"the exported network differs from PyTorch by {diff:.2g} on a check batch")
    return {"runtime": runtime, "rows": int(ids.shape[0]), "max_abs_diff": diff}


# -- the preprocessing file --------------------------------------------------------------------------------
def preprocessing_spec(config, encoder, module: ExportModule, out: Path, format: str, opset: int) -> dict:
    """Everything another runtime needs to turn raw text into the network's inputs."""
    tokenizer, vocab = encoder.tokenizer, encoder.vocab
    batching = config.batching
    # an unmasked RNN reads its padding only where polarity pads to maxlen (exact batching); elsewhere
    # each text is computed as if alone (ExportModule's ``alone``)
    reads_padding = module.kind == "rnn" and not module.masked
    samples = encoder.encode(SAMPLE_TEXTS)
    probs = []
    for seq in samples:  # one review per batch, padded as polarity pads it alone
        width = encoder.maxlen if reads_padding else len(seq)
        ids = torch.tensor([[0] * (width - len(seq)) + seq], dtype=torch.int64)
        with torch.no_grad():
            probs.append(module(ids, torch.tensor([len(seq)])).numpy()[0])
    return {
        "format": PREPROCESSING_FORMAT,
        "model": {"file": out.name, "format": format, **({"opset": opset} if format == "onnx" else {}),
                  "inputs": INPUTS, "outputs": {"probabilities": {"dtype": "float32", "shape": ["batch", "labels"]}}},
        "labels": list(config.labels),
        "tokenizer": tokenizer_spec(tokenizer),
        "ids": {
            "pad": 0, "start": vocab.start_char, "unknown": vocab.oov_char, "index_from": vocab.index_from,
            "num_words": vocab.num_words, "skip_top": vocab.skip_top,
            "rule": "ids = start_ids + [vocabulary.get(word, unknown) for word in words] (unknown None: drop the "
                    "word); start_ids is [start] (or [unknown] when skip_top drops it; [] when start is None)",
            "start_ids": vocab.start_ids(),
        },
        "maxlen": encoder.maxlen,
        "truncating": encoder.truncating,
        "truncating_rule": "pre: keep the last maxlen ids (the start id is cut first); post: keep the first maxlen",
        "padding": "pre",
        "padding_rule": "ids[b] = [0] * (time - len(seq)) + seq; lengths[b] = len(seq)",
        "batching": batching,
        "padding_changes_output": reads_padding,
        "pad_to": "maxlen" if reads_padding else "any",
        "vocabulary": {w.decode("utf-8", "surrogatepass"): i for w, i in vocab.utf8_index().items()},
        "examples": [{"text": t, "ids": s, "padded_to": encoder.maxlen if reads_padding else len(s),
                      "probabilities": [round(float(p), 6) for p in row]} for t, s, row in zip(SAMPLE_TEXTS, samples, probs)],
    }


def tokenizer_spec(tokenizer) -> dict:
    """The tokenizer's settings and its steps, in order, for another runtime."""
    steps = ["if strip_html_breaks: replace every match of html_break_pattern (case-insensitive) with ' '",
             "if lower: lower-case (Python's str.lower: full Unicode mapping, final sigma included)",
             "if remove: delete every match of the regular expression remove",
             "if negation_scope: after each match of negation_pattern, prefix every word (\\w+) up to the next "
             "match of clause_end_pattern with 'NEG'",
             "replace each character of filters with split",
             "split on split and drop empty words (Keras's text_to_word_sequence)",
             "drop the words listed in stop_words"]
    return {**tokenizer.to_dict(), "html_break_pattern": BR_TAG.pattern if tokenizer.strip_html_breaks else None,
            "negation_pattern": NEGATION.pattern if tokenizer.negation_scope else None,
            "clause_end_pattern": CLAUSE_END.pattern if tokenizer.negation_scope else None, "steps": steps}


def write_preprocessing(path: Path, spec: dict) -> None:
    """JSON with one top-level key per line (the vocabulary on one line): readable, and still plain JSON."""
    lines = [f"  {json.dumps(key)}: {json_text(value)}" for key, value in spec.items()]
    with atomic_write(path) as handle:
        handle.write("{\n" + ",\n".join(lines) + "\n}\n")


def read_preprocessing(path: str | os.PathLike) -> dict:
    """The preprocessing file written beside an exported network."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != PREPROCESSING_FORMAT:
        raise ConfigError(f"{path} is not a polarity preprocessing file (expected format {PREPROCESSING_FORMAT})")
    return data

"""Where a :class:`~polarity.inference.predictor.Predictor`'s network runs: PyTorch (CPU or GPU,
float32 or bfloat16), or ONNX Runtime on the CPU.

Both take token ids and give probabilities; tokenising, batching plans and decisions stay the
Predictor's own. ONNX Runtime runs the graph ``polarity export`` writes, exported in memory when the
predictor loads (a few seconds); models with pooling over time and hybrids do not export.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from polarity.data.batching import collate
from polarity.engine import EncodedSet, plan_batches, predict_logits, probabilities
from polarity.engine.predict import padded_width, reads_alone
from polarity.engine.threads import ShardPool, torch_threads
from polarity.errors import ConfigError

BACKENDS = ("torch", "onnxruntime")
# Texts per batch of a server call on ONNX Runtime, whose exported graph runs every row to its batch's longest:
# batches of similar lengths (50 clients, 20 s: 1,749-1,881 requests/s in parts of 16, 1,382-1,428 in one batch).
ONNX_PART = 16


class Backend(Protocol):
    name: str

    def probabilities(self, ids: list[list[int]], *, batch_size: int, parts: int | None = None,
                      pool: ShardPool | None = None) -> np.ndarray:
        """(texts, labels) probabilities of encoded texts, in batches of ``batch_size`` (or ``parts``
        batches of equal work, side by side on ``pool``'s workers where the backend can)."""


class TorchBackend:
    """The model on PyTorch: batches side by side on single-threaded CPU workers."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, *, batching: str, maxlen: int | None, device: torch.device,
                 precision: str) -> None:
        self.model, self.batching, self.maxlen, self.device, self.precision = model, batching, maxlen, device, precision

    def probabilities(self, ids: list[list[int]], *, batch_size: int, parts: int | None = None,
                      pool: ShardPool | None = None) -> np.ndarray:
        logits = predict_logits(self.model, EncodedSet.unlabelled(ids), batching=self.batching, maxlen=self.maxlen,
                                device=self.device, batch_size=batch_size, precision=self.precision, parts=parts,
                                pool=pool)
        return probabilities(logits)


class OnnxBackend:
    """``(pre-padded ids, lengths) -> probabilities`` on an ONNX Runtime session (CPU, float32), one
    batch after another (the runtime uses every core); a server call goes in parts of :data:`ONNX_PART`."""

    name = "onnxruntime"

    def __init__(self, model: torch.nn.Module, *, vocab_size: int, maxlen: int | None, batching: str,
                 threads: int | None = None) -> None:
        onnxruntime = _onnxruntime()
        from polarity.inference.export import OPSET, ExportModule, example_inputs, onnx_modules, write_onnx

        onnx_modules()  # onnx and onnxscript, or a one-line error naming the extra
        try:
            module = ExportModule(model.cpu(), alone=reads_alone(batching, maxlen))
        except ConfigError as exc:
            raise ConfigError(f"the onnxruntime backend runs what polarity export exports ({exc}); "
                              "use the torch backend for this model") from exc
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            write_onnx(module, example_inputs(vocab_size, maxlen), path, OPSET)
            graph = path.read_bytes()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch_threads()
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.batching, self.width = batching, padded_width(batching, maxlen)

    def probabilities(self, ids: list[list[int]], *, batch_size: int, parts: int | None = None,
                      pool: ShardPool | None = None) -> np.ndarray:
        batch_size = ONNX_PART if parts else batch_size
        out = None
        for indices in plan_batches(EncodedSet.unlabelled(ids), self.batching, batch_size, seed=None):
            padded, lengths = collate(ids, indices, maxlen=self.width)
            probs = self.session.run(None, {"ids": padded, "lengths": lengths})[0]
            out = np.zeros((len(ids), probs.shape[1]), dtype=np.float64) if out is None else out
            out[indices] = probs
        return out


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError('the onnxruntime backend needs ONNX Runtime: pip install "polarity[export]"') from exc
    return onnxruntime


def check_backend(name: str, device: torch.device, precision: str) -> None:
    """A one-line error for a backend that does not exist or cannot run what was asked."""
    if name not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "onnxruntime" and (device.type != "cpu" or precision != "float32"):
        raise ConfigError("the onnxruntime backend runs float32 on the CPU: drop --device and --precision")


def make_backend(name: str, model: torch.nn.Module, *, vocab_size: int, maxlen: int | None, batching: str,
                 device: torch.device, precision: str) -> Backend:
    """The backend ``name`` for a loaded model (``precision`` already resolved for the machine)."""
    if name == "torch":
        return TorchBackend(model, batching=batching, maxlen=maxlen, device=device, precision=precision)
    return OnnxBackend(model, vocab_size=vocab_size, maxlen=maxlen, batching=batching)

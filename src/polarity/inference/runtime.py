"""ONNX Runtime as the network under a :class:`~polarity.inference.predictor.Predictor`.

The model folder's network is exported in memory (:mod:`polarity.export`, the same graph as
``polarity export``, a few seconds) when the predictor loads, then every batch runs on ONNX
Runtime's CPU kernels (speed: docs/PERFORMANCE.md, ``python -m bench.rawtext``). Tokenising,
batching and decisions stay polarity's own. Models with pooling over time and hybrids do not export.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from polarity.errors import ConfigError

BACKENDS = ("torch", "onnxruntime")


class OnnxRuntimeNetwork:
    """``(pre-padded ids, lengths) -> probabilities`` on an ONNX Runtime session (CPU)."""

    def __init__(self, model: torch.nn.Module, *, vocab_size: int, maxlen: int | None, alone: bool,
                 threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise ConfigError('the onnxruntime backend needs ONNX Runtime: pip install "polarity[export]"') from exc
        from polarity.export import OPSET, ExportModule, _onnx_modules, example_inputs, write_onnx

        _onnx_modules()  # onnx and onnxscript, or a one-line error naming the extra
        try:
            module = ExportModule(model.cpu(), alone=alone)
        except ConfigError as exc:
            raise ConfigError(f"the onnxruntime backend runs what polarity export exports ({exc}); "
                              "use the torch backend for this model") from exc
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            write_onnx(module, example_inputs(vocab_size, maxlen), path, OPSET)
            graph = path.read_bytes()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"ids": ids, "lengths": lengths})[0]


def check_backend(backend: str, device: torch.device, precision: str) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "onnxruntime" and (device.type != "cpu" or precision != "float32"):
        raise ConfigError("the onnxruntime backend runs float32 on the CPU: drop --device and --precision")

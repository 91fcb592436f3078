"""Device, numeric precision and the process-wide CPU settings the recurrent kernels need.

Backpropagation through a few hundred LSTM steps drives gradients into the subnormal range
(below about 1e-38), where x86 CPUs compute up to 100 times slower. TensorFlow flushes subnormals
to zero in its worker threads; PyTorch leaves them on. The flag belongs to each thread, and a new
thread inherits it from the thread that starts it, so :func:`flush_denormals` must run before
PyTorch starts its CPU worker threads (its first parallel operation): ``polarity.models`` calls it
when imported. Called later, it reaches only the calling thread (and threads started afterwards).
Values that small carry no information a float32 model can use.
"""

from __future__ import annotations

import functools
import warnings

import torch

from polarity.errors import ConfigError

PRECISIONS = ("float32", "bfloat16")


def flush_denormals() -> bool:
    """Flush subnormal floats to zero in this thread and the threads it starts from now on.

    Returns False where the CPU does not support it (then nothing changed).
    """
    return torch.set_flush_denormal(True)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` (CUDA when PyTorch sees a GPU, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} was asked for, but PyTorch sees no CUDA device")
    return torch.device(name)


@functools.cache
def bfloat16_supported(device_type: str = "cpu") -> bool:
    """Whether this machine runs the models' kernels in bfloat16.

    On CPU the answer comes from running a tiny LSTM under bfloat16 autocast: oneDNN has bfloat16
    LSTM kernels only for CPUs with AVX-512 (native bfloat16 with AVX-512 BF16 or AMX), and
    elsewhere (e.g. AVX2-only CPUs) it refuses to build them.
    """
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    try:
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16):
            lstm(torch.zeros(1, 2, 4))
    except RuntimeError:
        return False
    return True


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision`` if this machine runs it; ``bfloat16`` falls back to ``float32`` with a warning."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bfloat16" and not bfloat16_supported(device.type):
        warnings.warn(f"this {device.type.upper()} has no bfloat16 LSTM kernels (they need AVX-512 on CPU): "
                      "running in float32", RuntimeWarning, stacklevel=2)
        return "float32"
    return precision


def autocast(device: torch.device, precision: str = "float32"):
    """Mixed precision for the forward pass: ``bfloat16`` matrix products (weights stay float32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")

"""Process-wide CPU settings that make the recurrent kernels run at full speed.

Backpropagation through a few hundred LSTM steps drives gradients into the subnormal range
(below about 1e-38), where x86 CPUs compute up to 100 times slower. TensorFlow flushes subnormals
to zero in its worker threads; PyTorch leaves them on. The flag belongs to each thread, and a new
thread inherits it from the thread that starts it, so :func:`flush_denormals` must run before
PyTorch starts its CPU worker threads (its first parallel operation): ``polarity.models`` calls it
when imported. Called later, it reaches only the calling thread (and threads started afterwards).
Values that small carry no information a float32 model can use.
"""

from __future__ import annotations

import torch


def flush_denormals() -> bool:
    """Flush subnormal floats to zero in this thread and the threads it starts from now on.

    Returns False where the CPU does not support it (then nothing changed).
    """
    return torch.set_flush_denormal(True)

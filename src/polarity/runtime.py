"""Process-wide CPU settings that make the recurrent kernels run at full speed.

Backpropagation through a few hundred LSTM steps drives gradients into the subnormal range
(below about 1e-38), where x86 CPUs compute up to 100 times slower. TensorFlow flushes subnormals
to zero in its worker threads; PyTorch leaves them on. :func:`flush_denormals` turns them off in
the calling thread *and* in the OpenMP threads that run PyTorch's CPU kernels (the flag is per
thread: setting it only in the calling thread leaves most of the gain on the table once the thread
pool exists). Values that small carry no information a float32 model can use.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import torch

_lock = threading.Lock()
_configured_teams: set[tuple[int, int]] = set()


def _openmp_candidates() -> list[str]:
    """OpenMP runtimes PyTorch may use: its bundled libgomp first, then any already loaded (Linux)."""
    bundled = sorted(str(p) for p in (Path(torch.__file__).parent / "lib").glob("libgomp*.so*"))
    loaded = []
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            path = line.split()[-1]
            if any(name in Path(path).name for name in ("libgomp", "libiomp5", "libomp")) and path not in loaded:
                loaded.append(path)
    except OSError:
        pass
    return bundled + loaded


def _openmp_library() -> ctypes.CDLL | None:
    """The OpenMP runtime that runs PyTorch's CPU kernels, if this build uses one (GNU, Intel and
    LLVM runtimes all export ``GOMP_parallel``)."""
    if "OpenMP" not in torch.__config__.parallel_info():
        return None
    for path in _openmp_candidates():
        try:
            library = ctypes.CDLL(path)
            library.GOMP_parallel  # noqa: B018 - raises AttributeError when the symbol is missing
        except (OSError, AttributeError):
            continue
        return library
    return None


def _in_every_openmp_thread(function, threads: int) -> bool:
    """Run ``function()`` once in each thread of the calling thread's OpenMP team."""
    library = _openmp_library()
    if library is None:
        return False
    callback_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    callback = callback_type(lambda _data: function())
    library.GOMP_parallel.argtypes = [callback_type, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    library.GOMP_parallel.restype = None
    library.GOMP_parallel(callback, None, threads, 0)
    return True


def flush_denormals() -> bool:
    """Flush subnormal floats to zero in this thread and in PyTorch's CPU worker threads.

    Returns False where the CPU does not support it (then nothing changed). Safe to call often:
    each calling thread's OpenMP team is configured once per thread count.
    """
    if not torch.set_flush_denormal(True):
        return False
    team = (threading.get_ident(), torch.get_num_threads())
    with _lock:
        if team[1] > 1 and team not in _configured_teams:
            _in_every_openmp_thread(lambda: torch.set_flush_denormal(True), team[1])
            _configured_teams.add(team)
    return True

"""Subnormal floats are flushed in PyTorch's worker threads too, once polarity.models is imported."""

from __future__ import annotations

import subprocess
import sys

import torch

# Fresh processes: the flag is per thread and threads inherit it when they start.
PROBE = """
import sys, torch
torch.set_num_threads(2)
if sys.argv[1] == "import-first":
    import polarity.models                        # sets the flag before PyTorch's threads start
x = torch.full((1 << 20,), 1e-39)                 # subnormal float32 values
x * 1.0                                           # starts the OpenMP threads
if sys.argv[1] == "set-late":
    torch.set_flush_denormal(True)                # the calling thread only
print(torch.get_num_threads(), int(((x * 1.0) != 0).sum()))
"""


def survivors(mode: str) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    threads, left = map(int, done.stdout.split())
    return threads, left


def test_importing_models_flushes_in_every_thread():
    if not torch.set_flush_denormal(True):
        return  # this CPU cannot flush subnormals: nothing to check
    assert survivors("import-first")[1] == 0  # every element multiplied by a flushing thread
    threads, left_late = survivors("set-late")
    if threads > 1:
        assert left_late > 0  # what setting the flag after the threads exist leaves behind


def test_flush_denormals_is_idempotent():
    from polarity.engine import flush_denormals

    first = flush_denormals()
    assert flush_denormals() == first
    if first:
        assert torch.tensor([1e-39]).mul(1.0).item() == 0.0

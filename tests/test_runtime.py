"""flush_denormals reaches PyTorch's worker threads, not only the calling one."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

# Runs in a fresh process: the OpenMP team must exist *before* the flag is set, as it does in a
# program that used torch before training, and the flag must not leak into other tests' process.
PROBE = """
import torch
torch.set_num_threads(2)
x = torch.full((1 << 20,), 1e-39)                 # subnormal float32 values
x * 1.0                                           # starts the OpenMP team
torch.set_flush_denormal(True)                    # the calling thread only
calling_thread_only = int(((x * 1.0) != 0).sum())
from polarity.runtime import flush_denormals
assert flush_denormals()
everywhere = int(((x * 1.0) != 0).sum())
print(torch.get_num_threads(), calling_thread_only, everywhere)
"""


def test_flush_denormals_reaches_worker_threads():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    if "AssertionError" in out.stderr:
        pytest.skip("this CPU cannot flush subnormal numbers")
    assert out.returncode == 0, out.stderr
    threads, calling_thread_only, everywhere = map(int, out.stdout.split())
    assert everywhere == 0  # every element multiplied by flushed threads
    if threads > 1:
        assert calling_thread_only > 0  # what torch.set_flush_denormal alone leaves behind


def test_flush_denormals_is_idempotent():
    from polarity.runtime import flush_denormals

    first = flush_denormals()
    assert flush_denormals() == first
    if first:
        assert torch.tensor([1e-39]).mul(1.0).item() == 0.0

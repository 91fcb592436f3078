"""The CPU-thread policy of every entry point, in one place: how many cores there are, how many
PyTorch threads run, how they wait, and the single-threaded workers that run batches side by side.

On a few cores, one LSTM batch on all of them spends much of each time step waiting at the OpenMP
barrier. Running each shard of a batch (or each batch of a prediction) on its own single-threaded
worker keeps every core busy (docs/PERFORMANCE.md, experiment 12). Nothing here imports PyTorch at
module level: :func:`choose_wait_policy` must run before PyTorch starts its threads.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def busy_cores(seconds: float = 0.25) -> float:
    """How many cores other processes keep busy right now (from /proc/stat; 0 where unavailable)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # all time, idle + iowait

    try:
        total_a, idle_a = sample()
        time.sleep(seconds)
        total_b, idle_b = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    cores = os.cpu_count() or 1
    return cores * (1.0 - (idle_b - idle_a) / max(total_b - total_a, 1))


def choose_wait_policy() -> str | None:
    """Let PyTorch's OpenMP threads sleep instead of spinning when other processes already keep a
    core busy, set before PyTorch starts them: with one of two cores taken, a training step went
    from 322 to 155 ms (docs/RELIABILITY.md); on idle cores spinning is 15 % faster, so it stays.
    The setting changes no result, only how threads wait. ``OMP_WAIT_POLICY`` set by the user, or
    PyTorch already imported, wins."""
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return None
    if busy_cores() >= 0.5:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return None


def torch_threads() -> int:
    """PyTorch's intra-op threads now."""
    import torch

    return torch.get_num_threads()


def set_torch_threads(count: int) -> None:
    """PyTorch's intra-op threads (this setting reaches every thread started afterwards)."""
    import torch

    torch.set_num_threads(count)


@contextmanager
def threads_for(count: int) -> Iterator[None]:
    """PyTorch's thread count set to ``count`` for a block (it reaches every thread: keep blocks short)."""
    before = torch_threads()
    if count != before:
        set_torch_threads(count)
    try:
        yield
    finally:
        if count != before:
            set_torch_threads(before)


def serving_process(threads: int | None) -> int:
    """A server process's policy: PyTorch on one thread (a single text then runs on one core, about
    twice as fast as on two threads waiting for each other at every step, and the other core is
    left to the HTTP side), and a batch in parts side by side, one per core. Returns the cores.

    The model thread takes the GIL back after every PyTorch call; with the event loop busy it waited
    up to the default 5 ms each time: 0.5 ms halved the model time per batch under load (50 clients,
    2 cores: 74 -> 39 ms and 51 -> 33 ms, two alternating runs each)."""
    cores = int(threads or available_cores())
    set_torch_threads(1)
    sys.setswitchinterval(0.0005)
    return cores


def single_threaded() -> None:
    """A worker thread's initializer: PyTorch on one intra-op thread, subnormal floats flushed."""
    from polarity.engine.device import flush_denormals

    set_torch_threads(1)  # this thread's OpenMP and MKL setting
    flush_denormals()


class ShardPool:
    """``shards`` worker threads, each running PyTorch with one intra-op thread. Gradients summed in a
    fixed order and dropout masks from per-shard seeded generators keep a sharded run reproducible."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self._threads_before = torch_threads()
        # Setting the thread count also fixes process-wide library modes (MKL's dynamic threads) that
        # the workers' own setting would otherwise change under the caller's later computations.
        set_torch_threads(self._threads_before)
        self._pool = ThreadPoolExecutor(shards, thread_name_prefix="polarity-shard", initializer=single_threaded)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``function`` on every item at once; results in the order of ``items``."""
        futures = [self._pool.submit(function, item) for item in items]
        return [future.result() for future in futures]

    def close(self, wait: bool = True) -> None:
        """Stop the workers (``wait=False``: without waiting for a running item; queued ones are dropped)."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
        set_torch_threads(self._threads_before)  # the workers' setting also reaches new threads

    def __enter__(self) -> "ShardPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

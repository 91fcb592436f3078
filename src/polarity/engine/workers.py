"""Worker threads for data parallelism inside one CPU process: the shards of a training batch (or
the batches of a prediction) run at once, one thread each.

On a few cores, one LSTM batch on all of them spends much of each time step waiting at the OpenMP
barrier. Running each shard of the batch on its own single-threaded worker keeps every core busy
(measured in docs/PERFORMANCE.md, experiment 12). Gradients are summed in a fixed order and each
shard draws its dropout masks from its own seeded generator, so a run stays reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from polarity.engine.device import flush_denormals

T = TypeVar("T")
R = TypeVar("R")


def single_threaded() -> None:
    """A worker thread's initializer: PyTorch on one intra-op thread, subnormal floats flushed."""
    torch.set_num_threads(1)  # this thread's OpenMP and MKL setting
    flush_denormals()


class ShardPool:
    """``shards`` worker threads, each running PyTorch with one intra-op thread."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self._threads_before = torch.get_num_threads()
        # Setting the thread count also fixes process-wide library modes (MKL's dynamic threads) that
        # the workers' own setting would otherwise change under the caller's later computations.
        torch.set_num_threads(self._threads_before)
        self._pool = ThreadPoolExecutor(shards, thread_name_prefix="polarity-shard", initializer=single_threaded)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``function`` on every item at once; results in the order of ``items``."""
        futures = [self._pool.submit(function, item) for item in items]
        return [future.result() for future in futures]

    def close(self, wait: bool = True) -> None:
        """Stop the workers (``wait=False``: without waiting for a running item; queued ones are dropped)."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
        torch.set_num_threads(self._threads_before)  # the workers' setting also reaches new threads

    def __enter__(self) -> "ShardPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

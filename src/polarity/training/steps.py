"""How one optimizer step's gradients are computed, chosen once per run: in one process, as shards
of the batch at once on single-threaded CPU workers (``training.shards``), or as this process's
share of a batch under torchrun (DistributedDataParallel averages the gradients).

Every strategy leaves the gradients of the batch's mean loss on the parameters and returns the
batch's summed loss and its right answers. Batches are shared out by length
(:func:`polarity.engine.batches.deal_by_length`); each shard draws its dropout masks from its own
seeded generator and gradients are summed in a fixed order, so a sharded run stays reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn

from polarity.engine import distributed
from polarity.engine.batches import deal_by_length
from polarity.engine.threads import ShardPool
from polarity.errors import ConfigError
from polarity.models.classifiers import random_source


class StepTask(Protocol):
    model: nn.Module

    def lengths(self, indices: np.ndarray) -> Sequence[int]: ...
    def forward(self, indices: np.ndarray, network: nn.Module) -> tuple[torch.Tensor, int]: ...


class StepStrategy(Protocol):
    def gradients(self, task: StepTask, indices: np.ndarray, step: int) -> tuple[float, int]:
        """Gradients of the batch's mean loss (``step``: the run's optimizer steps so far); returns its
        summed loss and right answers."""

    def close(self) -> None:
        """Release what the strategy holds (its threads' pool); nothing by default."""


def split_batch(indices: np.ndarray, lengths: Sequence[int], shards: int) -> list[np.ndarray]:
    """The batch's items dealt out by length: shards of equal work. Empty shards are dropped."""
    return [indices[part] for part in deal_by_length(lengths, shards) if len(part)]


def shard_seed(seed: int, step: int, shard: int) -> int:
    """The seed of one shard's random generator at one optimizer step."""
    return int(np.random.SeedSequence([seed, step, shard]).generate_state(1)[0])


def rank_share(indices: np.ndarray, lengths: Sequence[int], world: int, rank: int) -> np.ndarray:
    """Process ``rank``'s part of a batch shared by ``world`` processes (possibly empty when the batch
    has fewer items than processes)."""
    return indices[deal_by_length(lengths, world)[rank]]


class OneProcess(StepStrategy):
    """The whole batch at once, on this process's threads."""

    def gradients(self, task: StepTask, indices: np.ndarray, step: int) -> tuple[float, int]:
        loss, correct = task.forward(indices, task.model)
        task.model.zero_grad(set_to_none=True)
        loss.backward()
        return loss.item() * len(indices), correct


class Shards(StepStrategy):
    """The batch as ``count`` shards at once, one single-threaded CPU worker each."""

    def __init__(self, count: int, seed: int) -> None:
        self.count, self.seed = count, seed
        self._pool: ShardPool | None = None

    def gradients(self, task: StepTask, indices: np.ndarray, step: int) -> tuple[float, int]:
        if self._pool is None:
            self._pool = ShardPool(self.count)
        parts = split_batch(indices, task.lengths(indices), self.count)
        params = [p for p in task.model.parameters() if p.requires_grad]
        seed = self.seed

        def run(shard: tuple[int, np.ndarray]):
            k, part = shard
            with random_source(torch.Generator().manual_seed(shard_seed(seed, step, k))):
                loss, correct = task.forward(part, task.model)
            grads = torch.autograd.grad(loss * (len(part) / len(indices)), params, allow_unused=True)
            return grads, loss.item() * len(part), correct

        results = self._pool.map(run, list(enumerate(parts)))
        for i, param in enumerate(params):
            grads = [r[0][i] for r in results if r[0][i] is not None]
            param.grad = torch.stack(grads).sum(0) if grads else None
        return sum(r[1] for r in results), sum(r[2] for r in results)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


class DataParallel(StepStrategy):
    """This process's share of each batch; DistributedDataParallel averages the gradients. Each share's
    mean loss is weighted by its size, so the average is the whole batch's mean loss."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        from torch.nn.parallel import DistributedDataParallel

        self.world, self.rank, self.device = distributed.world_size(), distributed.rank(), device
        self.network = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def gradients(self, task: StepTask, indices: np.ndarray, step: int) -> tuple[float, int]:
        part = rank_share(indices, task.lengths(indices), self.world, self.rank)
        loss, correct = task.forward(part if len(part) else indices[:1], self.network)  # every process must step
        weight = len(part) * self.world / len(indices)
        task.model.zero_grad(set_to_none=True)
        (loss * weight).backward()
        totals = torch.tensor([loss.item() * len(part), correct if len(part) else 0], dtype=torch.float64)
        totals = distributed.sum_all(totals, self.device)
        return float(totals[0]), int(totals[1])


def choose_strategy(model: nn.Module, device: torch.device, shards: int, seed: int) -> StepStrategy:
    """The run's strategy: DDP under torchrun, shards for ``shards > 1``, else one process."""
    world = distributed.world_size()
    if shards > 1 and device.type != "cpu":
        raise ConfigError(f"training.shards = {shards} splits batches over CPU threads; use 1 on {device.type}")
    if world > 1 and shards > 1:
        raise ConfigError("training.shards > 1 splits batches over threads of one process; with torchrun use 1")
    if world > 1:
        return DataParallel(model, device)
    return Shards(shards, seed) if shards > 1 else OneProcess()

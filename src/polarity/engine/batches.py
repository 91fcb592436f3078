"""Encoded reviews and the batches the fit loop and prediction draw from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from polarity.data.batching import BucketBatchSampler, collate, sequential_batches


@dataclass
class EncodedSet:
    """Token ids (already truncated to ``maxlen``) and label indices of one split."""

    sequences: list[list[int]]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=len(self.sequences))

    def head(self, count: int) -> "EncodedSet":
        """The first ``count`` texts."""
        return self if count >= len(self) else EncodedSet(self.sequences[:count], self.labels[:count])

    @classmethod
    def unlabelled(cls, sequences: list[list[int]]) -> "EncodedSet":
        return cls(sequences, np.zeros(len(sequences), dtype=np.int64))


def deal_by_length(lengths, parts: int) -> list[np.ndarray]:
    """Positions ``0..n-1`` dealt out by length, shortest first, to ``parts`` parts in turn: parts of
    nearly equal work, each padded only to its own longest row (some empty when ``n < parts``). The
    one way polarity splits a batch: over shards, over processes, over the cores of a model call."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[k::parts] for k in range(parts)]


def plan_batches(data: EncodedSet, batching: str, batch_size: int, *, seed: int | None, epoch: int = 0) -> list[np.ndarray]:
    """Index batches for one pass: ``exact`` in Keras's random order (or in order when ``seed`` is
    None), ``bucketed`` grouped by length (shuffled when ``seed`` is given, else sorted)."""
    if batching == "exact":
        return sequential_batches(len(data), batch_size, seed=seed, epoch=epoch)
    sampler = BucketBatchSampler(data.lengths, batch_size, seed=seed or 0, shuffle=seed is not None)
    return sampler.batches(epoch)


def make_batch(data: EncodedSet, indices: np.ndarray, width: int | None, device: torch.device):
    """(ids, lengths, labels) tensors; ``width`` pads to a fixed length (exact mode), None to the batch's longest."""
    ids, lengths = collate(data.sequences, indices, maxlen=width)
    labels = torch.as_tensor(np.asarray(data.labels[indices], dtype=np.int64))
    return (
        torch.from_numpy(ids).to(device, non_blocking=True),
        torch.from_numpy(lengths).to(device, non_blocking=True),
        labels.to(device, non_blocking=True),
    )

"""Training one batch as shards at once on single-threaded CPU workers (``training.shards``).

Each shard draws its dropout masks from its own seeded generator and gradients are summed in a
fixed order, so a sharded run stays reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def split_batch(indices: np.ndarray, lengths: Sequence[int], shards: int) -> list[np.ndarray]:
    """Deal the reviews out by length (shortest to shard 0, next to shard 1, ...): shards of equal
    work, each padded only to its own longest review. Empty shards are dropped."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    parts = [indices[order[k::shards]] for k in range(shards)]
    return [part for part in parts if len(part)]


def shard_seed(seed: int, step: int, shard: int) -> int:
    """The seed of one shard's random generator at one optimizer step."""
    return int(np.random.SeedSequence([seed, step, shard]).generate_state(1)[0])


def rank_share(indices: np.ndarray, lengths: Sequence[int], world: int, rank: int) -> np.ndarray:
    """Process ``rank``'s part of a batch shared by ``world`` processes, dealt out by length as
    :func:`split_batch` does (possibly empty when the batch has fewer reviews than processes)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return indices[order[rank::world]]

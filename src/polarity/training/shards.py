"""Training one batch as shards at once on single-threaded CPU workers (``training.shards``).

Each shard draws its dropout masks from its own seeded generator and gradients are summed in a
fixed order, so a sharded run stays reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polarity.engine.batches import deal_by_length


def split_batch(indices: np.ndarray, lengths: Sequence[int], shards: int) -> list[np.ndarray]:
    """The batch's reviews dealt out by length: shards of equal work. Empty shards are dropped."""
    return [indices[part] for part in deal_by_length(lengths, shards) if len(part)]


def shard_seed(seed: int, step: int, shard: int) -> int:
    """The seed of one shard's random generator at one optimizer step."""
    return int(np.random.SeedSequence([seed, step, shard]).generate_state(1)[0])


def rank_share(indices: np.ndarray, lengths: Sequence[int], world: int, rank: int) -> np.ndarray:
    """Process ``rank``'s part of a batch shared by ``world`` processes, dealt out by length
    (possibly empty when the batch has fewer reviews than processes)."""
    return indices[deal_by_length(lengths, world)[rank]]

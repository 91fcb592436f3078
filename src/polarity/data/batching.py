"""Batches of token ids: Keras-style fixed padding, or length buckets padded to their own longest review."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from polarity.data.sequence import pad_sequences


class BucketBatchSampler:
    """Yields index batches of reviews with similar lengths, in a seeded random order.

    Each epoch shuffles all indices, cuts them into pools of ``pool_batches`` batches, sorts each pool
    by length, cuts it into batches and shuffles the batches. Padding then costs almost nothing while
    every batch is still a random draw. ``epoch`` selects a reproducible order (a resumed run replays it).
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
        shuffle: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if pool_batches < 1:
            raise ValueError(f"pool_batches must be >= 1, got {pool_batches}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self, epoch: int | None = None) -> list[np.ndarray]:
        """The batches of ``epoch`` (default: the current one), each an array of indices."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        else:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(n)
            pool = self.batch_size * self.pool_batches
            batches = []
            for start in range(0, n, pool):
                chunk = order[start : start + pool]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches())

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def sequential_batches(n: int, batch_size: int, *, seed: int | None = None, epoch: int = 0) -> list[np.ndarray]:
    """Batches in a seeded random order (``seed`` None: in order), as Keras's ``fit`` shuffles."""
    order = np.arange(n) if seed is None else np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def truncate(sequences: Sequence[Sequence[int]], maxlen: int | None, truncating: str = "pre") -> list[Sequence[int]]:
    """Cut each sequence to at most ``maxlen`` ids (keeping the end for ``pre``, as Keras does)."""
    if maxlen is None:
        return list(sequences)
    if truncating == "pre":
        return [s[-maxlen:] if len(s) > maxlen else s for s in sequences]
    return [s[:maxlen] for s in sequences]


def collate(sequences: Sequence[Sequence[int]], indices: np.ndarray, maxlen: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pre-pad the chosen sequences to ``maxlen`` (or to their own longest): (ids, lengths)."""
    chosen = [sequences[i] for i in indices]
    lengths = np.fromiter((len(s) for s in chosen), dtype=np.int64, count=len(chosen))
    width = maxlen if maxlen is not None else max(1, int(lengths.max(initial=0)))
    return pad_sequences(chosen, maxlen=width, dtype="int64", padding="pre", truncating="pre"), np.minimum(lengths, width)

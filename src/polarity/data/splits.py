"""The labelled splits a model is trained and judged on, from IMDB or from the user's files.

Training and evaluation both call :func:`fit_valid_split`, so ``evaluate --split valid`` scores
exactly the reviews the model was validated on and never one it was trained on: the split is
made first, and ``--limit`` samples inside each part afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polarity.data.imdb import ImdbCorpus, ReviewSet
from polarity.data.labelled import LabelledTexts, read_labelled, split_labelled, stratified_indices
from polarity.errors import DataError

RATING_BANDS = {"1-2": (1, 2), "3-4": (3, 4), "7-8": (7, 8), "9-10": (9, 10)}
TARGETS = ("sentiment", "rating-bands")

DataSource = str | os.PathLike | LabelledTexts | tuple[Sequence[str], Sequence]


def imdb_labelled(reviews: ReviewSet, target: str = "sentiment") -> LabelledTexts:
    """IMDB reviews labelled by sentiment (negative/positive) or by rating band (1-2, 3-4, 7-8, 9-10 stars)."""
    if target == "sentiment":
        return reviews.labelled()
    if target != "rating-bands":
        raise DataError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    names = list(RATING_BANDS)
    bands = np.full(len(reviews), -1, dtype=np.int64)
    for index, (low, high) in enumerate(RATING_BANDS.values()):
        bands[(reviews.ratings >= low) & (reviews.ratings <= high)] = index
    if (bands < 0).any():
        raise DataError(f"{reviews.name}: rating bands need ratings 1-4 or 7-10 (unlabelled reviews have none)")
    return LabelledTexts(list(reviews.texts), bands, names, source=reviews.name)


def as_labelled(source: DataSource, *, names: list | None = None, text_column: str | None = None,
                label_column: str | None = None) -> LabelledTexts:
    """A path (file or folder), a ``(texts, labels)`` pair, or :class:`LabelledTexts` as labelled texts."""
    if isinstance(source, LabelledTexts):
        if names is not None and list(source.names) != list(names):
            return LabelledTexts.from_lists(source.texts, [source.names[i] for i in source.labels], names, source.source)
        return source
    if isinstance(source, (str, os.PathLike)):
        return read_labelled(Path(source), text_column=text_column, label_column=label_column, names=names)
    if isinstance(source, tuple) and len(source) == 2:
        return LabelledTexts.from_lists(list(source[0]), list(source[1]), names)
    raise DataError(f"expected a file or folder path, a (texts, labels) pair or LabelledTexts, got {type(source).__name__}")


def sample(data: LabelledTexts, n: int, seed: int) -> LabelledTexts:
    """``n`` texts drawn with the label balance of ``data`` (all of them when ``n`` >= its size)."""
    if n >= len(data):
        return data
    _, chosen = stratified_indices(data.labels, n / len(data), seed, total=n)
    return data.subset(chosen)


def fit_valid_split(train: LabelledTexts, valid_fraction: float, seed: int,
                    limit: int | None = None) -> tuple[LabelledTexts, LabelledTexts]:
    """(fit, valid): a seeded stratified split of ``train``; with ``limit``, about ``limit`` texts
    in all, drawn inside each part (so a limited run's validation reviews are still held out)."""
    fit, valid = split_labelled(train, valid_fraction, seed)
    if limit:
        valid = sample(valid, int(round(limit * valid_fraction)), seed)
        fit = sample(fit, max(1, limit - len(valid)), seed)
    return fit, valid


def imdb_splits(corpus: ImdbCorpus, target: str = "sentiment") -> tuple[LabelledTexts, LabelledTexts]:
    """(train, test) of the IMDB corpus for ``target``."""
    return imdb_labelled(corpus.train, target), imdb_labelled(corpus.test, target)

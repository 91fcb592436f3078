"""Pairs of reviews that differ in meaning: an original beside a copy edited so that its label flips.

The counterfactually-augmented IMDb reviews of Kaushik, Hovy & Lipton (ICLR 2020, Apache-2.0) come
in this layout (``Sentiment<TAB>Text<TAB>batch_id``, the two rows of a pair sharing ``batch_id``);
a user's own file is any labelled CSV/TSV/JSONL/Parquet file with a ``pair_id`` column. The CAD files
are read from ``$POLARITY_CAD`` (a folder holding ``train_paired.tsv`` and ``dev_paired.tsv``), the
cache folder, or downloaded from the authors' repository, checked by SHA-256.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polarity.data.labelled import LabelledTexts, labelled_rows
from polarity.data.tables import TEXT_COLUMNS, is_empty, pick_column, read_rows
from polarity.errors import DataError

PAIR_COLUMNS = ("pair_id", "batch_id", "pair")
CAD_COMMIT = "6f232a1d2a11462a30ce08fb4825b734ab30828e"
CAD_URL = ("https://raw.githubusercontent.com/acmi-lab/counterfactually-augmented-data/"
           f"{CAD_COMMIT}/sentiment/combined/paired/{{split}}_paired.tsv")
CAD_SHA256 = {"train": "7ac50ca3d70890f80e11ee59955cdbfc43f26b5078d0603717817ab224d2af18",
              "dev": "4c2d8a70cbce23eba27fb1f0bb5043cf044811912435cf8d10c3ea6fc7a51363"}


@dataclass
class Pairs:
    """Labelled texts in pairs: ``pair_ids[i]`` names the pair of text ``i``; a pair's two texts
    have different labels."""

    data: LabelledTexts
    pair_ids: list[str]

    def __len__(self) -> int:
        return len(self.pair_ids)

    @property
    def texts(self) -> list[str]:
        return self.data.texts

    def members(self) -> list[tuple[int, int]]:
        """The two rows of every pair, in file order."""
        rows: dict[str, list[int]] = defaultdict(list)
        for row, pair in enumerate(self.pair_ids):
            rows[pair].append(row)
        return [(a, b) for a, b in rows.values()]

    def originals(self, known: set[str]) -> np.ndarray:
        """Rows whose text is one of ``known`` (e.g. the aclImdb training reviews): the originals."""
        return np.fromiter((text in known for text in self.texts), dtype=bool, count=len(self.texts))

    def subset(self, rows) -> "Pairs":
        rows = np.asarray(rows, dtype=np.int64)
        return Pairs(self.data.subset(rows), [self.pair_ids[i] for i in rows])


def read_pairs(path: str | os.PathLike, *, text_column: str | None = None, label_column: str | None = None,
               pair_column: str | None = None, names: list | None = None) -> Pairs:
    """The pairs of a labelled file with a pair column (``pair_id``, ``batch_id`` or ``pair``)."""
    path = Path(path)
    table = read_rows(path, labelled=True)
    hint = "rename the column in the pairs file"
    pair = pick_column(table.columns, pair_column, PAIR_COLUMNS, "pair", path, hint)
    data = labelled_rows(table, path, text_column, label_column, names, hint=hint)
    pair_ids = ["" if is_empty(row.get(pair)) else str(row.get(pair)).strip() for _, row in table.rows]
    _check_pairs(data, pair_ids, [number for number, _ in table.rows], table.where)
    return Pairs(data, pair_ids)


def _check_pairs(data: LabelledTexts, pair_ids: list[str], numbers: list[int], where) -> None:
    """Every pair id names two rows, of different labels."""
    rows: dict[str, list[int]] = defaultdict(list)
    for row, pair in enumerate(pair_ids):
        if not pair:
            raise DataError(f"{where(numbers[row])}: no pair id")
        rows[pair].append(row)
    for pair, members in rows.items():
        if len(members) != 2:
            rows_word = "row" if len(members) == 1 else "rows"
            raise DataError(f"{where(numbers[members[0]])}: pair {pair!r} has {len(members)} {rows_word}; a pair has 2")
        if data.labels[members[0]] == data.labels[members[1]]:
            raise DataError(f"{where(numbers[members[1]])}: the two texts of pair {pair!r} have the same label")


def locate_cad(split: str, *, download: bool = True) -> Path:
    """The CAD file of ``split`` (train or dev): ``$POLARITY_CAD``, the cache folder, or a download."""
    if split not in CAD_SHA256:
        raise DataError(f"the CAD pairs come as train or dev, got {split!r}")
    name = f"{split}_paired.tsv"
    env = os.environ.get("POLARITY_CAD")
    if env:
        found = Path(env).expanduser() / name
        if not found.is_file():
            raise DataError(f"POLARITY_CAD points to {Path(env).expanduser()}, which has no {name}")
        return found
    from polarity.data.imdb import cache_dir, fetch

    folder = cache_dir() / "cad"
    if (folder / name).is_file():
        return folder / name
    if not download:
        raise DataError(f"the CAD pairs were not found: set POLARITY_CAD to a folder holding {name}, or allow "
                        f"the download into {folder}")
    return fetch(CAD_URL.format(split=split), f"sha256:{CAD_SHA256[split]}", name, folder,
                 "CAD file failed its SHA-256 check", progressbar=False)


def load_cad(split: str, *, download: bool = True) -> Pairs:
    """The counterfactually-augmented IMDb pairs of ``split`` (negative/positive labels)."""
    return read_pairs(locate_cad(split, download=download), names=["negative", "positive"])


def resolve_pairs(spec: str, names: list) -> Pairs:
    """A recipe's ``data.pairs``: ``cad`` (the CAD training pairs) or a pairs file."""
    if spec == "cad":
        return load_cad("train")
    return read_pairs(spec, names=names)


def excluded_texts(spec: str) -> set[str]:
    """The texts a recipe's ``data.exclude`` holds out of training: ``cad-dev`` (both texts of every CAD
    dev pair, its originals being aclImdb training reviews), or every text of a file (a pairs or
    labelled file's text column, or one text a line in a .txt file)."""
    if spec == "cad-dev":
        return set(load_cad("dev").texts)
    path = Path(spec)
    if not path.is_file():
        raise DataError(f"data.exclude names {spec}, which is not a file (or cad-dev)")
    table = read_rows(path)  # a .txt file reads as one column named text
    column = pick_column(table.columns, None, TEXT_COLUMNS, "text", path)
    return {row.get(column) for _, row in table.rows if isinstance(row.get(column), str)}


def without_texts(data: LabelledTexts, texts: set[str]) -> tuple[LabelledTexts, int]:
    """``data`` less every text in ``texts`` (exactly equal); returns it and how many were left out."""
    kept = [i for i, text in enumerate(data.texts) if text not in texts]
    return (data.subset(kept), len(data) - len(kept)) if len(kept) < len(data) else (data, 0)


def with_pairs(fit: LabelledTexts, pairs: Pairs, repeat: int = 1) -> LabelledTexts:
    """``fit`` with every pair's two texts added ``repeat`` times (labels as ``fit``'s names)."""
    if list(pairs.data.names) != list(fit.names):
        raise DataError(f"the labels of the pairs (data.pairs, --pairs) {pairs.data.names} differ from the training "
                        f"data's {fit.names}")
    texts = fit.texts + pairs.texts * repeat
    labels = np.concatenate([fit.labels] + [pairs.data.labels] * repeat)
    return LabelledTexts(texts, labels, list(fit.names), fit.source)

"""Labelled texts with any label set: read from tables or label folders, named, split by label.

Labels are stored as integers that index ``names``, the label set in a fixed order (see
:func:`label_names`), so a model trained on a file can map its outputs back to the file's labels.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import numpy as np

from polarity.data.tables import LABEL_COLUMNS, TEXT_COLUMNS, Rows, is_empty, pick_column, read_rows
from polarity.errors import DataError

NEGATIVE_WORDS = {0, "0", "false", "no", "neg", "negative", "bad", "-"}
POSITIVE_WORDS = {1, "1", "true", "yes", "pos", "positive", "good", "+"}
UNLABELLED_FOLDERS = {"unsup"}  # aclImdb's unlabelled reviews
_INTEGER = re.compile(r"([+-]?[0-9]+)(?:\.0*)?")  # "1", "-3", "10", "1.0" (ASCII digits only)


@dataclass
class LabelledTexts:
    """Texts with integer labels that index ``names`` (the label names, as in the file: str or int)."""

    texts: list[str]
    labels: np.ndarray  # int64, each in range(len(names))
    names: list  # label names in order, e.g. ["negative", "positive"], [0, 1], ["1-2", "3-4", "7-8", "9-10"]
    source: str = "<memory>"  # where it came from (path), for messages and the model folder

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.labels) != len(self.texts):
            raise DataError(f"{self.source}: {len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices) -> "LabelledTexts":
        """The texts at ``indices``, in that order, with the same label names."""
        indices = np.asarray(indices, dtype=np.int64)
        return LabelledTexts([self.texts[i] for i in indices], self.labels[indices], list(self.names), self.source)

    @classmethod
    def from_lists(cls, texts, labels, names=None, source: str = "<memory>") -> "LabelledTexts":
        """From texts and raw label values (str/int/bool..., as in a file); ``names`` default to :func:`label_names`."""
        texts, labels = list(texts), list(labels)
        if len(texts) != len(labels):
            raise DataError(f"{source}: {len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise DataError(f"{source}: no texts; at least one is needed")
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"{source}: text {index} is {text!r}, not a string")
        where = lambda index: f"{source}, item {index}"  # noqa: E731
        names = _checked_names(names, source) if names is not None else _names_of(labels, where, source)
        return cls(texts, encode_labels(labels, names, where), names, source)


def label_names(values: Iterable) -> list:
    """The ordered label set of raw label values.

    Booleans and ints stay ints (True -> 1, False -> 0); numeric strings that are integers ("1", "10",
    "1.0") become ints; other strings are stripped and kept as they are (case kept). Two labels that
    are both polarity words/values (0/1, false/true, no/yes, neg/pos, negative/positive, bad/good,
    -/+, any case) put the negative one first; otherwise ints ascending come before sorted strings.
    Fewer than two distinct labels raise :class:`DataError`.
    """
    return _names_of(list(values), lambda index: f"label {index}", None)


def normalise_label(value, where: str = "label"):
    """One raw label value as a label name: an int or a stripped string (see :func:`label_names`)."""
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isfinite(value) and float(value).is_integer():
            return int(value)
        if math.isfinite(value):
            return str(value)
    elif isinstance(value, str) and value.strip():
        return _normalise_text(value.strip())
    raise DataError(f"{where}: cannot use {value!r} as a label (give a word or a number)")


def _normalise_text(text: str):
    match = _INTEGER.fullmatch(text)
    return int(match.group(1)) if match else text


def _order(names: set) -> list:
    sides = {polarity_of(name): name for name in names}
    if len(names) == 2 and sides.keys() == {0, 1}:
        return [sides[0], sides[1]]
    return sorted(n for n in names if isinstance(n, int)) + sorted(n for n in names if isinstance(n, str))


def _names_of(values: list, where: Callable[[int], str], source: str | None) -> list:
    distinct = {normalise_label(value, where(index)) for index, value in enumerate(values)}
    if len(distinct) < 2:
        found = f"only {next(iter(distinct))!r}" if distinct else "none"
        prefix = f"{source}: " if source else ""
        raise DataError(f"{prefix}needs at least two labels, found {found}")
    return _order(distinct)


def _checked_names(names: Sequence, source: str) -> list:
    checked = [normalise_label(name, f"{source}: label name {index}") for index, name in enumerate(names)]
    if len(set(checked)) != len(checked) or len(checked) < 2:
        raise DataError(f"{source}: the label names must be at least two distinct labels, got {list(names)}")
    return checked


def is_polarity_pair(labels: Sequence) -> bool:
    """Whether ``labels`` are two labels, a negative one then a positive one (negative/positive, neg/pos, 0/1, ...)."""
    return len(labels) == 2 and [polarity_of(label) for label in labels] == [0, 1]


def polarity_of(name) -> int | None:
    """0 for a negative polarity word or value (negative, neg, 0, ...), 1 for a positive one, else None."""
    key = name.lower() if isinstance(name, str) else name
    return 0 if key in NEGATIVE_WORDS else 1 if key in POSITIVE_WORDS else None


def encode_labels(values: Sequence, names: list, where: Callable[[int], str]) -> np.ndarray:
    """The index in ``names`` of each raw value; an unknown value raises :class:`DataError` naming ``where(i)``.

    When ``names`` is a negative/positive pair, any polarity spelling maps onto it (0/1, true/false,
    neg/pos...), so a model trained on ``negative``/``positive`` reads a test file labelled 0/1.
    """
    spellings = {word: 0 for word in NEGATIVE_WORDS} | {word: 1 for word in POSITIVE_WORDS}
    index_of = spellings if is_polarity_pair(names) else {}
    index_of.update({name: index for index, name in enumerate(names)})  # the names themselves win
    labels = np.empty(len(values), dtype=np.int64)
    for position, value in enumerate(values):
        name = normalise_label(value, where(position))
        if isinstance(name, str) and name not in index_of and name.lower() in index_of:
            name = name.lower()  # "Positive" for a polarity pair
        if name not in index_of:
            raise DataError(f"{where(position)}: unknown label {name!r}; the known labels are {names}")
        labels[position] = index_of[name]
    return labels


def stratified_indices(labels: np.ndarray, fraction: float, seed: int, *,
                       total: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(rest, held)`` index arrays, each ascending: a seeded split that holds out ``fraction`` of each
    label; with ``total``, exactly ``total`` held out (each label's share rounded so that they add up)."""
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"the validation fraction must be in [0, 1), got {fraction}")
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(labels), dtype=bool)
    for label, take in zip(classes, _shares(counts, fraction, total)):
        members = np.flatnonzero(labels == label)
        chosen[rng.permutation(members)[:take]] = True
    return np.flatnonzero(~chosen), np.flatnonzero(chosen)


def _shares(counts: np.ndarray, fraction: float, total: int | None) -> list[int]:
    """``fraction`` of each count, rounded; with ``total``, the largest remainders first where the
    rounded shares do not add up to it (one text of two labels: one share of 1, not two of 0)."""
    rounded = [int(round(fraction * count)) for count in counts]
    if total is None or sum(rounded) == total:
        return rounded
    exact = counts * (total / counts.sum())
    shares = np.floor(exact).astype(np.int64)
    shares[np.argsort(shares - exact, kind="stable")[: total - shares.sum()]] += 1
    return shares.tolist()


def split_labelled(data: LabelledTexts, fraction: float, seed: int) -> tuple[LabelledTexts, LabelledTexts]:
    """``(rest, held)``: ``fraction`` of each label held out, seeded (see :func:`stratified_indices`)."""
    rest, held = stratified_indices(data.labels, fraction, seed)
    return data.subset(rest), data.subset(held)


def read_labelled(
    path: str | os.PathLike, *, text_column: str | None = None, label_column: str | None = None, names=None
) -> LabelledTexts:
    """Read a labelled data set with any label set.

    A file: CSV/TSV with a header, JSONL, headerless ``text<TAB>label`` lines, or Parquet (needs
    pyarrow). Columns are found by name unless given: text among text/review/sentence/content/body/
    comment, label among label/sentiment/polarity/target/rating/stars/class/category (any case).
    A folder: one sub-folder of UTF-8 ``.txt`` files per label (the aclImdb and scikit-learn
    ``load_files`` layout); ``unsup/``, hidden entries and sub-folders without ``.txt`` files are skipped.
    ``names``: the label set to use (e.g. the training file's, when reading a validation or test file).
    """
    path = Path(path)
    if path.is_dir():
        if text_column is not None or label_column is not None:
            raise DataError(f"{path} is a folder of label folders: it has no columns to name")
        texts, values, where = _read_folder(path)
        return _labelled(texts, values, where, names, str(path))
    return labelled_rows(read_rows(path, labelled=True), path, text_column, label_column, names)


def labelled_rows(table: Rows, path: Path, text_column: str | None, label_column: str | None, names=None, *,
                  hint: str | None = None) -> LabelledTexts:
    """The labelled texts of a table that :func:`read_rows` read; errors name the file's lines.
    ``hint``: what a missing column's message advises (default: the ``--text-column`` options)."""
    columns = table.columns
    text_column = pick_column(columns, text_column, TEXT_COLUMNS, "text", path, hint)
    label_column = pick_column(columns, label_column, LABEL_COLUMNS, "label", path, hint)
    if text_column == label_column:
        raise DataError(f"{path}: the text and the label cannot both be column {text_column!r}")
    texts = table.texts(text_column)
    values, numbers = [], []
    for number, value in table.column(label_column, "label"):
        if is_empty(value):
            where = table.where(number)
            raise DataError(f"{where}: the label (column {label_column!r}) is empty; give every row a label")
        values.append(value)
        numbers.append(number)
    return _labelled(texts, values, lambda index: table.where(numbers[index]), names, str(path))


def _labelled(texts: list[str], values: list, where, names, source: str) -> LabelledTexts:
    names = _checked_names(names, source) if names is not None else _names_of(values, where, source)
    return LabelledTexts(texts, encode_labels(values, names, where), names, source)


def _read_folder(root: Path):
    texts, values, files = [], [], []
    folders = []
    for folder in sorted(_visible(root), key=attrgetter("name")):
        if not folder.is_dir() or folder.name in UNLABELLED_FOLDERS:
            continue
        found = sorted((f for f in _visible(folder) if f.suffix.lower() == ".txt" and f.is_file()),
                       key=attrgetter("name"))
        if found:
            folders.append(folder.name)
        for file in found:
            texts.append(_read_text_file(file))
            values.append(folder.name)
            files.append(file)
    if len(folders) < 2:
        raise DataError(
            f"{root}: needs at least two sub-folders of .txt files, one per label (such as pos/ and neg/), "
            f"found {folders or 'none'}"
        )
    return texts, values, lambda index: str(files[index])


def _visible(folder: Path) -> list[Path]:
    return [entry for entry in folder.iterdir() if not entry.name.startswith(".")]


def _read_text_file(file: Path) -> str:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc}") from exc
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not valid UTF-8 (byte {exc.start}); save it as UTF-8") from exc

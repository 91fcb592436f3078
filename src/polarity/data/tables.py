"""Labelled reviews from CSV, TSV and JSONL files (e.g. the 50,000-row ``IMDB Dataset.csv``)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polarity.errors import DataError

POSITIVE = {"1", "1.0", "true", "yes", "pos", "positive", "+", "good"}
NEGATIVE = {"0", "0.0", "false", "no", "neg", "negative", "-", "bad"}
TEXT_COLUMNS = ("text", "review", "sentence", "content")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "target")


@dataclass
class TableDataset:
    """Texts, their labels (None when the file has no label column) and each row's other fields."""

    path: str
    texts: list[str]
    labels: np.ndarray | None
    rows: list[dict] = field(default_factory=list)
    text_column: str = "text"

    def __len__(self) -> int:
        return len(self.texts)


def parse_label(value, where: str) -> int:
    """1 for positive, 0 for negative: accepts 0/1, booleans and words such as positive/negative."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    word = str(value).strip().lower()
    if word in POSITIVE:
        return 1
    if word in NEGATIVE:
        return 0
    raise DataError(f"{where}: cannot read {value!r} as a label (use 0/1, true/false or positive/negative)")


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    for fmt in ("jsonl", "tsv", "csv"):
        if f".{fmt}" in suffixes or (fmt == "jsonl" and ".ndjson" in suffixes):
            return fmt
    if ".txt" in suffixes or not suffixes:
        return "txt"
    raise DataError(f"{path}: unknown format {''.join(suffixes)!r}; use .csv, .tsv, .jsonl or .txt")


def read_table(
    path: str | os.PathLike,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    require_labels: bool = True,
) -> TableDataset:
    """Read a CSV/TSV (with a header row), JSONL, ``text<TAB>label`` lines, or plain text (one review per line).

    Column names are found automatically among common ones (``text``/``review``..., ``label``/
    ``sentiment``...) unless given. A malformed row raises :class:`DataError` naming its line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    fmt = file_format(path)
    if fmt == "txt" and _is_text_tab_label(path):
        fmt = "tsv-headerless"
    if fmt == "txt":
        if require_labels:
            raise DataError(f"{path}: a plain text file has no labels; use CSV, TSV or JSONL with a label column")
        texts = [text for _, text in iter_lines(path)]
        return TableDataset(str(path), texts, None, [{} for _ in texts])
    if fmt == "jsonl":
        rows = list(_iter_jsonl(path))
    elif fmt == "tsv-headerless":
        rows = [(line, dict(zip(("text", "label"), text.rsplit("\t", 1)))) for line, text in iter_lines(path) if text]
    else:
        rows = list(_iter_delimited(path, "\t" if fmt == "tsv" else ","))
    if not rows:
        raise DataError(f"{path} holds no rows")
    columns = list(rows[0][1].keys())
    text_column = _pick(columns, text_column, TEXT_COLUMNS, "text", path)
    if label_column is None and not require_labels:
        label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
    elif label_column is not None or require_labels:
        label_column = _pick(columns, label_column, LABEL_COLUMNS, "label", path)
    texts, labels = [], []
    for line, row in rows:
        where = f"{path}, line {line}"
        text = row.get(text_column)
        if not isinstance(text, str):
            raise DataError(f"{where}: column {text_column!r} is missing or not text")
        texts.append(text)
        if label_column is not None:
            if row.get(label_column) is None:
                raise DataError(f"{where}: column {label_column!r} is missing")
            labels.append(parse_label(row[label_column], where))
    label_array = np.array(labels, dtype=np.int8) if label_column is not None else None
    return TableDataset(str(path), texts, label_array, [r for _, r in rows], text_column)


def _is_text_tab_label(path: Path) -> bool:
    """True for headerless ``text<TAB>label`` files such as the UCI sentiment sentences."""
    try:
        lines = [text for _, text in iter_lines(path) if text]
    except DataError:
        return False
    if not lines:
        return False
    for text in lines:
        parts = text.rsplit("\t", 1)
        if len(parts) != 2 or parts[1].strip().lower() not in POSITIVE | NEGATIVE:
            return False
    return True


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], kind: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{path}: no column {wanted!r}; the columns are {columns}")
        return wanted
    for candidate in candidates:
        if candidate in columns:
            return candidate
    raise DataError(f"{path}: no {kind} column found among {columns}; name it with --{kind}-column")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Lines of a UTF-8 text file, split on '\\n' only, with their line numbers."""
    return split_lines(path.read_bytes(), str(path))


def split_lines(raw: bytes, source: str) -> Iterator[tuple[int, str]]:
    """UTF-8 lines of ``raw`` split on '\\n' only (not on U+0085 and friends), numbered from 1."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix(b"\r")
        try:
            yield number, line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}, line {number}: not valid UTF-8 (byte {exc.start})") from exc


def _iter_delimited(path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
        with handle:
            quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL  # TSV files rarely quote
            reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
            header = next(reader, None)
            if not header:
                return
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path}, line {line}: {len(row)} fields where the header has {len(header)}")
                yield line, dict(zip(header, row))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}: malformed {('TSV' if delimiter == chr(9) else 'CSV')}: {exc}") from exc


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    for line, text in iter_lines(path):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {line}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {line}: expected a JSON object")
        yield line, row

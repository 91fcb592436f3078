"""Reviews from CSV, TSV, JSONL and Parquet files (e.g. the 50,000-row ``IMDB Dataset.csv``).

:func:`read_rows` is the shared row reader (line numbers in errors, strict UTF-8, BOM, headerless
``text<TAB>label`` detection); :func:`read_table` builds on it for prediction input and 0/1 labels,
and :func:`polarity.data.labelled.read_labelled` for data sets with any label set.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from polarity.errors import DataError

POSITIVE = {"1", "1.0", "true", "yes", "pos", "positive", "+", "good"}
NEGATIVE = {"0", "0.0", "false", "no", "neg", "negative", "-", "bad"}
TEXT_COLUMNS = ("text", "review", "sentence", "content", "body", "comment")
LABEL_COLUMNS = ("label", "sentiment", "polarity", "target", "rating", "stars", "class", "category")
FORMATS = ("jsonl", "tsv", "csv", "parquet")


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


@dataclass
class Rows:
    """The rows of a file as ``(number, fields)``; ``number`` is a line (text formats) or a row (Parquet)."""

    path: Path
    format: str  # csv, tsv, jsonl, parquet, tsv-headerless (text<TAB>label lines) or txt (one text a line)
    rows: list[tuple[int, dict]]
    unit: str = "line"

    def where(self, number: int) -> str:
        """``"<path>, line 7"``: the place of a row, for error messages."""
        return f"{self.path}, {self.unit} {number}"

    @property
    def columns(self) -> list[str]:
        """Every field name, in order of first appearance (JSONL rows may differ)."""
        return list(dict.fromkeys(name for _, row in self.rows for name in row))

    def column(self, name: str, what: str) -> Iterator[tuple[int, object]]:
        """``(number, value)`` of one column; a row without it raises :class:`DataError`."""
        for number, row in self.rows:
            if name not in row:
                raise DataError(f"{self.where(number)}: the {what} column {name!r} is missing")
            yield number, row[name]

    def texts(self, name: str) -> list[str]:
        """The column's values, each checked to be text."""
        texts = []
        for number, value in self.column(name, "text"):
            if not isinstance(value, str):
                raise DataError(f"{self.where(number)}: column {name!r} holds {value!r}, not text")
            texts.append(value)
        return texts


def parse_label(value, where: str) -> int:
    """1 for positive, 0 for negative: accepts 0/1, booleans and words such as positive/negative."""
    if isinstance(value, (int, float)) and value in (0, 1):  # booleans too
        return int(value)
    word = str(value).strip().lower()
    if word in POSITIVE:
        return 1
    if word in NEGATIVE:
        return 0
    raise DataError(f"{where}: cannot read {value!r} as a label (use 0/1, true/false or positive/negative)")


def is_empty(value) -> bool:
    """True for a missing cell: None, NaN or blank text."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    for fmt in FORMATS:
        if f".{fmt}" in suffixes or (fmt == "jsonl" and ".ndjson" in suffixes):
            return fmt
    if ".txt" in suffixes or not suffixes:
        return "txt"
    raise DataError(f"{path}: unknown format {''.join(suffixes)!r}; use .csv, .tsv, .jsonl, .parquet or .txt")


def iter_rows(path: str | os.PathLike, *, labelled: bool = False) -> tuple[str, str, Iterator[tuple[int, dict]]]:
    """``(format, unit, rows)``: the rows of a file read lazily, as :func:`read_rows` lists them,
    so that files of any size can be streamed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    fmt = file_format(path)
    if fmt == "parquet":
        return fmt, "row", _parquet_rows(path)
    if fmt == "jsonl":
        return fmt, "line", iter_jsonl(path)
    if fmt in ("csv", "tsv"):
        return fmt, "line", _iter_delimited(path, "\t" if fmt == "tsv" else ",")
    return _text_rows(path, labelled)


def read_rows(path: str | os.PathLike, *, labelled: bool = False) -> Rows:
    """Every row of a CSV/TSV (header row), JSONL, Parquet, ``text<TAB>label`` or plain text file.

    A ``.txt`` file is ``text<TAB>label`` lines when each line ends in a tab and a label: with
    ``labelled`` any label, else only 0/1 or polarity words (so prediction input may hold tabs).
    """
    fmt, unit, rows = iter_rows(path, labelled=labelled)
    table = Rows(Path(path), fmt, list(rows), unit)
    if not table.rows:
        raise DataError(f"{path} holds no rows")
    return table


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], kind: str, path: Path,
                hint: str | None = None) -> str:
    """The column ``wanted`` (exact, else the one that differs only in case), or the first candidate found;
    ``hint`` ends the message when none is (default: name it with ``--KIND-column``)."""
    if wanted is not None:
        if wanted in columns:
            return wanted
        matches = [c for c in columns if c.lower() == wanted.lower()]
        if len(matches) == 1:
            return matches[0]
        raise DataError(f"{path}: no column {wanted!r}; the columns are {columns}")
    found = _find_column(columns, candidates, kind, path)
    if found is None:
        raise DataError(
            f"{path}: no {kind} column found among {columns} (looked for {', '.join(candidates)}); "
            f"{hint or f'name it with --{kind}-column'}"
        )
    return found


def _find_column(columns: list[str], candidates: tuple[str, ...], kind: str, path: Path) -> str | None:
    """The first candidate among ``columns``: by its exact name, else the one column that differs
    from it only in case (two such columns are refused: which one was meant?)."""
    for candidate in candidates:
        if candidate in columns:
            return candidate
        matches = [c for c in columns if c.lower() == candidate]
        if len(matches) > 1:
            raise DataError(f"{path}: the columns {', '.join(map(repr, matches))} could each be the {kind} column; "
                            f"name one with --{kind}-column")
        if matches:
            return matches[0]
    return None


def read_table(
    path: str | os.PathLike,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    require_labels: bool = True,
) -> TableDataset:
    """Read a CSV/TSV (with a header row), JSONL, Parquet, ``text<TAB>label`` lines, or plain text (one review a line).

    Labels are read as 0/1 (see :func:`parse_label`); for any other label set use
    :func:`polarity.data.labelled.read_labelled`. Column names are found automatically among common
    ones (``text``/``review``..., ``label``/``sentiment``..., any case) unless given. Without
    ``require_labels`` an automatically found label column is used only when every value is 0/1-like.
    A malformed row raises :class:`DataError` naming its line.
    """
    table = read_rows(path)
    if table.format == "txt":
        if require_labels:
            raise DataError(f"{table.path}: a plain text file has no labels; use CSV, TSV or JSONL with a label column")
        return TableDataset(str(table.path), table.texts("text"), None, [{} for _ in table.rows])
    columns = table.columns
    text_column = pick_column(columns, text_column, TEXT_COLUMNS, "text", table.path)
    texts = table.texts(text_column)
    labels = None
    if require_labels or label_column is not None:
        label_column = pick_column(columns, label_column, LABEL_COLUMNS, "label", table.path)
        labels = _binary_labels(table, label_column)
    else:
        try:
            found = _find_column(columns, LABEL_COLUMNS, "label", table.path)
            labels = _binary_labels(table, found) if found is not None else None
        except DataError:
            labels = None  # some other kind of column (e.g. star ratings): prediction input needs no labels
    return TableDataset(str(table.path), texts, labels, [row for _, row in table.rows], text_column)


def _binary_labels(table: Rows, column: str) -> np.ndarray:
    labels = []
    for number, value in table.column(column, "label"):
        if value is None:
            raise DataError(f"{table.where(number)}: column {column!r} is missing")
        labels.append(parse_label(value, table.where(number)))
    return np.array(labels, dtype=np.int8)


# -- the formats ------------------------------------------------------------------------------------------
def _text_rows(path: Path, labelled: bool) -> tuple[str, str, Iterator[tuple[int, dict]]]:
    """A ``.txt`` file: ``text<TAB>label`` lines (empty lines skipped) or one text per line (one
    pass to tell which, then the rows lazily)."""
    unlabelled, has_text = None, False
    for number, text in iter_lines(path):
        if text:
            has_text = True
            if not _has_label(text, labelled):
                unlabelled = number
                break
    if has_text and unlabelled is None:
        pairs = ((number, text.rsplit("\t", 1)) for number, text in iter_lines(path) if text)
        return "tsv-headerless", "line", ((number, {"text": t, "label": label}) for number, (t, label) in pairs)
    if labelled:
        hint = f"line {unlabelled} has no tab-separated label; " if unlabelled is not None else ""
        raise DataError(f"{path}: a plain text file has no labels ({hint}use text<TAB>label lines, CSV, TSV or JSONL)")
    return "txt", "line", ((number, {"text": text}) for number, text in iter_lines(path))


def _has_label(text: str, any_label: bool) -> bool:
    parts = text.rsplit("\t", 1)
    if len(parts) != 2 or not parts[1].strip():
        return False
    return any_label or parts[1].strip().lower() in POSITIVE | NEGATIVE


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Lines of a UTF-8 text file, split on '\\n' only, with their line numbers, read lazily."""
    with open(path, "rb") as handle:
        yield from _numbered_lines(handle, str(path))


def split_lines(raw: bytes, source: str) -> Iterator[tuple[int, str]]:
    """UTF-8 lines of ``raw`` split on '\\n' only (not on U+0085 and friends), numbered from 1; a BOM is dropped."""
    return _numbered_lines(io.BytesIO(raw), source) if raw.removeprefix(codecs.BOM_UTF8) else iter(())


def _numbered_lines(handle: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(handle, start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        yield number, _decode_line(raw.removesuffix(b"\n").removesuffix(b"\r"), f"{source}, line {number}")


def _decode_line(line: bytes, where: str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from exc


_CSV_QUOTED = re.compile(r'"((?:[^"]|"")*)"', re.DOTALL)


def unquote_tsv_field(field: str) -> str:
    """A TSV field written CSV-style (in double quotes, the quotes inside doubled, as pandas and
    spreadsheets write a field that holds a quote) as the text it stands for; any other field as it is."""
    if len(field) < 2 or field[0] != '"' or field[-1] != '"':
        return field
    match = _CSV_QUOTED.fullmatch(field)
    return match.group(1).replace('""', '"') if match else field


def _iter_delimited(path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    """Rows of a CSV/TSV with a header, numbered by the line each row starts on. A TSV is read a line
    a row, its fields as written except those in CSV-style quotes (:func:`unquote_tsv_field`); a text
    holding a tab or a line break needs CSV or JSONL."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    tsv = delimiter == "\t"
    quoting = csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL
    csv.field_size_limit(2**31 - 1)  # reviews can be long; the default limit is 128 kB
    reader = csv.reader((text + "\n" for _, text in iter_lines(path)), delimiter=delimiter, quoting=quoting)
    try:
        header = next(reader, None)
        if not header:
            return
        if tsv:
            header = [unquote_tsv_field(name) for name in header]
        if len(set(header)) != len(header):
            raise DataError(f"{path}, line 1: the header names a column twice: {header}")
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                hint = "; a quoted text holding a tab or a line break? A TSV is read a line a row: write such " \
                       "texts as CSV or JSONL" if tsv and any(value.startswith('"') for value in row) else ""
                raise DataError(f"{path}, line {line}: {len(row)} fields where the header has {len(header)}{hint}")
            yield line, dict(zip(header, [unquote_tsv_field(value) for value in row] if tsv else row))
    except csv.Error as exc:
        reason = ("its lines end in a bare carriage return (old Mac line ends): save it with \\n or \\r\\n line ends"
                  if "new-line character seen in unquoted field" in str(exc) else str(exc))
        raise DataError(f"{path}, line {reader.line_num}: malformed {kind}: {reason}") from exc


def iter_jsonl(path: Path, example: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a UTF-8 JSONL file; a line that is not a JSON
    object is a one-line :class:`DataError` naming it (and showing ``example``)."""
    for line, text in iter_lines(path):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {line}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {line}: expected a JSON object" + (f" such as {example}" if example else ""))
        yield line, row


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """Rows of a Parquet file as dicts, numbered from 1, read a batch at a time (needs pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError(f"{path}: reading Parquet files needs pyarrow: pip install pyarrow") from exc
    try:
        rows = (row for batch in pq.ParquetFile(path).iter_batches(batch_size=4096) for row in batch.to_pylist())
        yield from enumerate(rows, start=1)
    except Exception as exc:  # pyarrow reports corrupt files with several exception types
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from exc

"""Prediction over files of any size: read, predict and write a chunk of rows at a time.

Memory stays flat whatever the file's size. The output is written to a temporary file beside the
target and renamed at the end; a stop request (Ctrl-C) ends after the chunk in hand, and what was
written so far becomes the output: complete rows only, a valid CSV or JSONL file.
"""

from __future__ import annotations

import csv
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from polarity.data.tables import TEXT_COLUMNS, iter_rows, pick_column
from polarity.errors import DataError
from polarity.files import atomic_path, json_text

OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CHUNK_ROWS = 8192


@dataclass
class StreamResult:
    rows: int
    warnings: int
    interrupted: bool
    left_out: tuple[str, ...] = ()  # CSV/TSV output: input fields first seen after the first chunk


def prediction_columns(labels: list) -> list[str]:
    """Names of the columns prediction adds to the input's own."""
    return ["pred_label", "pred_score", *(f"prob_{label}" for label in labels), "pred_warning"]


def check_input_columns(columns, labels: list) -> list[str]:
    """The prediction columns, or a :class:`DataError` when the input already has one of them."""
    added = prediction_columns(labels)
    clash = sorted(set(added) & set(columns))
    if clash:
        raise DataError(f"the input already has column(s) {', '.join(clash)}: rename them; "
                        "predict adds " + ", ".join(added))
    return added


def prediction_values(result, labels: list) -> list:
    """One result's values, in the order of :func:`prediction_columns`."""
    return [result.label, round(result.score, 6), *(round(result.probabilities[str(k)], 6) for k in labels),
            result.warning or ""]


def prediction_rows(results, rows: list[dict], labels: list) -> list[dict]:
    """The input rows with the prediction columns added; a row that already has one of them is an error."""
    added = check_input_columns({key for row in rows for key in row}, labels)
    return [{**(row or {"text": result.text}), **dict(zip(added, prediction_values(result, labels)))}
            for result, row in zip(results, rows)]


class _Writer:
    """Appends rows to an open CSV/TSV/JSONL file; CSV columns are fixed by the first rows (fields seen
    only later are left out, and listed in :attr:`left_out`)."""

    def __init__(self, handle, kind: str) -> None:
        self.handle, self.kind, self.csv = handle, kind, None
        self.left_out: dict[str, None] = {}

    def write(self, records: list[dict]) -> None:
        if self.kind == "jsonl":
            self.handle.writelines(json_text(r, default=str) + "\n" for r in records)
        else:
            if self.csv is None:
                fields = list(dict.fromkeys(k for r in records for k in r))
                self.csv = csv.DictWriter(self.handle, fieldnames=fields, extrasaction="ignore",
                                          delimiter="\t" if self.kind == "tsv" else ",")
                self.csv.writeheader()
            self.left_out.update(dict.fromkeys(k for r in records for k in r if k not in self.csv.fieldnames))
            self.csv.writerows(records)
        self.handle.flush()


def count_lines(path: Path) -> int:
    """Lines in a file (an estimate of its rows for the progress bar), counted in 1 MB blocks."""
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


class _StopOnSigint:
    """While active, Ctrl-C asks to stop after the chunk in hand (a second one stops at once)."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def _handler(self, signum, frame) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()

    def __enter__(self) -> "_StopOnSigint":
        self._main = threading.current_thread() is threading.main_thread()
        if self._main:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._main:
            signal.signal(signal.SIGINT, self._previous)


def _chunks(rows: Iterator[tuple[int, dict]], size: int) -> Iterator[list[tuple[int, dict]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def predict_file(predictor, source: str | os.PathLike, output: str | os.PathLike, *, text_column: str | None = None,
                 **options) -> StreamResult:
    """Predict every row of ``source`` (CSV/TSV/JSONL/Parquet/text) into ``output`` (CSV/TSV/JSONL):
    the input's columns, then ``pred_label``, ``pred_score``, ``prob_<label>``, ``pred_warning``."""
    source = Path(source)
    fmt, unit, rows = iter_rows(source)
    plain = fmt in ("txt", "tsv-headerless")
    shown = options.get("progress", True) and sys.stderr.isatty()  # only a visible bar needs the count
    total = count_lines(source) - (fmt in ("csv", "tsv")) if shown and fmt != "parquet" else None  # less a header
    return predict_rows(predictor, rows, output, where=f"{source}, {unit}", name=source.name, total=total,
                        text_column="text" if plain else text_column, keep_input=fmt != "txt", **options)


def predict_rows(predictor, rows: Iterator[tuple[int, dict]], output: str | os.PathLike, *, where: str = "row",
                 name: str = "input", total: int | None = None, text_column: str | None = None,
                 keep_input: bool = True, threshold: float | None = None, batch_size: int = 256,
                 chunk_rows: int = CHUNK_ROWS, progress: bool = True,
                 warn: Callable[[str], None] | None = None) -> StreamResult:
    """Predict numbered rows (dicts holding a text column) into ``output``, a chunk at a time."""
    output = Path(output)
    kind = OUTPUT_FORMATS.get(output.suffix.lower())
    if kind is None:
        raise DataError(f"the output must end in .csv, .tsv or .jsonl, got {output.name}")
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit=" rows", disable=None if progress else True, desc=f"predicting {name}",
               dynamic_ncols=True)
    written = warnings = 0
    column = text_column
    try:
        with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out, \
                _StopOnSigint() as stop:
            writer = _Writer(out, kind)
            for chunk in _chunks(rows, chunk_rows):
                if column is None:
                    column = pick_column(list(chunk[0][1]), None, TEXT_COLUMNS, "text", Path(name))
                texts = [_text_of(row, column, f"{where} {number}") for number, row in chunk]
                results = predictor.classify(texts, batch_size=batch_size, threshold=threshold)
                for (number, _), result in zip(chunk, results):
                    if result.warning:
                        warnings += 1
                        if warn is not None:
                            warn(f"{where} {number}: {result.warning}")
                records = prediction_rows(results, [row if keep_input else {} for _, row in chunk], predictor.labels)
                writer.write(records)
                written += len(records)
                bar.update(len(records))
                if stop.requested.is_set():
                    break
            interrupted = stop.requested.is_set()
            if not written:
                raise DataError(f"{name} holds no rows")
        return StreamResult(written, warnings, interrupted, tuple(writer.left_out))
    finally:
        bar.close()


def _text_of(row: dict, column: str, where: str) -> str:
    if column not in row:
        raise DataError(f"{where}: the text column {column!r} is missing")
    value = row[column]
    if not isinstance(value, str):
        raise DataError(f"{where}: column {column!r} holds {value!r}, not text")
    return value

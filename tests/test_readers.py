"""Readers as users meet them: labels written as JSON numbers, booleans or words; the dataset folder
as downloaded or one level up; what is skipped in it; and every error naming the file (and line)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from polarity.data.imdb import load_imdb
from polarity.data.tables import read_table
from polarity.errors import DataError

from conftest import layout, write_folder


def jsonl(tmp_path, rows) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_labels_as_numbers_booleans_and_words(tmp_path):
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 0}, {"text": "c", "label": 1.0}, {"text": "d", "label": True},
            {"text": "e", "label": False}, {"text": "f", "label": "Positive"}, {"text": "g", "label": " neg "}]
    table = read_table(jsonl(tmp_path, rows))
    assert table.labels.tolist() == [1, 0, 1, 1, 0, 1, 0] and table.labels.dtype == np.int8


@pytest.mark.parametrize("label, line", [(2, 2), (-1, 2), (0.5, 2), ("maybe", 2)])
def test_a_label_that_is_not_binary_names_its_line(tmp_path, label, line):
    path = jsonl(tmp_path, [{"text": "a", "label": 1}, {"text": "b", "label": label}])
    with pytest.raises(DataError, match=re.escape(f"{path}, line {line}: cannot read {label!r} as a label")):
        read_table(path)


def test_a_missing_label_names_its_line(tmp_path):
    path = jsonl(tmp_path, [{"text": "a", "label": 1}, {"text": "b"}])
    with pytest.raises(DataError, match=re.escape(f"{path}, line 2: the label column 'label' is missing")):
        read_table(path)


def test_prediction_input_ignores_a_label_like_column_that_is_not_binary(tmp_path):
    table = read_table(jsonl(tmp_path, [{"text": "a", "rating": 7}, {"text": "b", "rating": 2}]), require_labels=False)
    assert table.texts == ["a", "b"] and table.labels is None


def test_the_dataset_folder_as_extracted_or_one_level_up(tmp_path):
    extracted = write_folder(tmp_path / "up", layout())  # tmp/up/aclImdb/...
    assert len(load_imdb(extracted, strict=False).train) == len(load_imdb(tmp_path / "up", strict=False).train) == 12


def test_stray_files_and_folders_are_skipped_and_bad_names_named(tmp_path):
    root = write_folder(tmp_path / "d", layout())
    (root / "train" / "pos" / "extra").mkdir()  # a folder where reviews are: skipped, and the reviews after it read
    assert len(load_imdb(root, strict=False).train) == 12
    (root / "train" / "pos" / "0_notes.txt").write_text("not a review")
    with pytest.raises(DataError, match=re.escape(str(root / "train" / "pos" / "0_notes.txt"))) as error:
        load_imdb(root, strict=False)
    assert "\n" not in str(error.value)


def test_a_missing_folder_is_named_with_the_layout(tmp_path):
    root = write_folder(tmp_path / "d", layout())
    import shutil

    shutil.rmtree(root / "test" / "neg")
    with pytest.raises(DataError, match=re.escape(f"missing folder test/neg/ in {root} (the official layout has "
                                                  "train/pos, train/neg, test/pos, test/neg, train/unsup)")):
        load_imdb(root, strict=False)


def test_an_unreadable_parquet_file_is_named(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=re.escape(f"{path}: not a readable Parquet file")):
        read_table(path)


def test_a_tsv_written_csv_style_reads_back_its_texts(tmp_path):
    """pandas and spreadsheets quote a TSV field that holds a quote; other fields are read as written."""
    import csv

    texts = ['A "great" film', '"Wow"', 'plain, with a comma', 'He said "no', '"half quoted" here']
    path = tmp_path / "quoted.tsv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows([text, "pos"] for text in texts)
    assert read_table(path).texts == texts
    raw = tmp_path / "raw.tsv"
    raw.write_text('text\tlabel\n"half quoted" here\tpos\nHe said "no\tneg\n', encoding="utf-8")
    assert read_table(raw).texts == ['"half quoted" here', 'He said "no']
    tabbed = tmp_path / "tabbed.tsv"
    tabbed.write_text('text\tlabel\n"a\tb"\tpos\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2: 3 fields where the header has 2; a quoted text holding a tab"):
        read_table(tabbed)

"""Readers as users meet them: labels written as JSON numbers, booleans or words; the dataset folder
as downloaded or one level up; what is skipped in it; and every error naming the file (and line)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from polarity.data.imdb import load_imdb
from polarity.data.labelled import read_labelled
from polarity.data.tables import TableDataset, read_table, split_lines
from polarity.errors import DataError

from conftest import layout, write_folder


def jsonl(tmp_path, rows) -> str:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_labels_as_numbers_booleans_and_words(tmp_path):
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 0}, {"text": "c", "label": 1.0}, {"text": "d", "label": True},
            {"text": "e", "label": False}, {"text": "f", "label": "Positive"}, {"text": "g", "label": " neg "},
            {"text": "h", "label": -0.0}]
    table = read_table(jsonl(tmp_path, rows))
    assert table.labels.tolist() == [1, 0, 1, 1, 0, 1, 0, 0] and table.labels.dtype == np.int8


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


@pytest.mark.parametrize("second, message", [
    ({"label": 0}, "the text column 'text' is missing"),
    ({"text": 5, "label": 0}, "column 'text' holds 5, not text"),
    ({"text": "b", "label": None}, "column 'label' is missing"),
    (["b", 0], "expected a JSON object"),
])
def test_a_bad_jsonl_row_is_one_line_naming_its_line(tmp_path, second, message):
    path = jsonl(tmp_path, [{"text": "a", "label": 1}, second])
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}, line 2: {message}')}$"):
        read_table(path)


def test_a_check_suite_line_that_is_not_an_object_shows_one(tmp_path):
    from polarity.inference.check import read_suite

    path = jsonl(tmp_path, [["Not bad at all.", "negative"]])
    example = '{"text": "Not bad at all.", "not": "negative"}'
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}, line 1: expected a JSON object such as {example}')}$"):
        read_suite(path)


@pytest.mark.parametrize("header, kind, looked_for", [
    ("id,words,label", "text", "text, review, sentence, content, body, comment"),
    ("id,review", "label", "label, sentiment, polarity, target, rating, stars, class, category"),
])
def test_a_file_without_a_known_column_says_what_was_looked_for(tmp_path, header, kind, looked_for):
    path = tmp_path / "data.csv"
    path.write_text(f"{header}\n" + ",".join(["1"] * len(header.split(","))) + "\n", encoding="utf-8")
    expected = (f"{path}: no {kind} column found among {header.split(',')} (looked for {looked_for}); "
                f"name it with --{kind}-column")
    with pytest.raises(DataError, match=f"^{re.escape(expected)}$"):
        read_table(path)


def test_what_read_table_returns_for_a_table_and_for_plain_text(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("id,review,sentiment\n7,Great film.,positive\n8,Dull.,negative\n", encoding="utf-8")
    table = read_table(path)
    assert (table.path, table.texts, table.text_column, table.labels.tolist()) == (str(path), ["Great film.", "Dull."],
                                                                                 "review", [1, 0])
    assert table.rows == [{"id": "7", "review": "Great film.", "sentiment": "positive"},
                          {"id": "8", "review": "Dull.", "sentiment": "negative"}]
    # prediction input: a label column found by name is read when it holds 0/1-like labels
    assert read_table(path, require_labels=False).labels.tolist() == [1, 0]
    plain = tmp_path / "reviews.txt"
    plain.write_text("Great film.\nDull.\n", encoding="utf-8")
    assert read_table(plain, require_labels=False) == TableDataset(str(plain), ["Great film.", "Dull."], None, [{}, {}])


def test_text_tab_label_lines_split_on_the_last_tab(tmp_path):
    path = tmp_path / "sentences.txt"
    path.write_text("A film\twith a tab inside.\tpos\nDull.\tnegative\n", encoding="utf-8")
    table = read_table(path)
    assert table.texts == ["A film\twith a tab inside.", "Dull."] and table.labels.tolist() == [1, 0]
    assert table.rows == [{"text": "A film\twith a tab inside.", "label": "pos"}, {"text": "Dull.", "label": "negative"}]
    other = tmp_path / "three.txt"
    other.write_text("Great.\tpos\nMeh.\tneutral\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{re.escape(f'{other}, line 2: unknown label ')}'neutral'; "
                                        r"the known labels are \['neg', 'pos'\]$"):
        read_labelled(other, names=["neg", "pos"])


def test_text_tab_label_lines_with_polarity_words_in_any_case_are_labelled(tmp_path):
    """Prediction input may hold tabs, so a .txt file counts as text<TAB>label lines only when every
    line ends in a polarity label: in any case, as the labels are read."""
    path = tmp_path / "sentences.txt"
    path.write_text("Great.\tPositive\nDull.\tNEGATIVE\n", encoding="utf-8")
    table = read_table(path)
    assert table.texts == ["Great.", "Dull."] and table.labels.tolist() == [1, 0]


def test_an_empty_text_file_has_no_labels(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("", encoding="utf-8")
    expected = f"{path}: a plain text file has no labels (use text<TAB>label lines, CSV, TSV or JSONL)"
    with pytest.raises(DataError, match=f"^{re.escape(expected)}$"):
        read_labelled(path)


def test_standard_input_lines(tmp_path):
    """What `polarity predict -` reads: lines split on '\n' (CRLF too), the BOM dropped, the last line
    read without its line end, blank lines kept; bad UTF-8 names its line."""
    raw = "\ufeffGood.\r\nBad,\rbut fine\n\nlast".encode("utf-8")
    assert list(split_lines(raw, "stdin")) == [(1, "Good."), (2, "Bad,\rbut fine"), (3, ""), (4, "last")]
    assert list(split_lines(b"", "stdin")) == list(split_lines(b"\xef\xbb\xbf", "stdin")) == []  # nothing given
    with pytest.raises(DataError, match=r"^stdin, line 2: not valid UTF-8 \(byte 0\); save the file as UTF-8$"):
        list(split_lines(b"ok\n\xffno\n", "stdin"))


def test_a_tsv_with_empty_and_fully_quoted_fields(tmp_path):
    """Spreadsheets may quote every field (an empty one as ""), or leave an empty field bare."""
    import csv

    path = tmp_path / "quoted.tsv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerows([["text", "label", "note"], ['A "great" film', "pos", ""], ["Dull", "neg", "seen"]])
    table = read_table(path)
    assert table.rows == [{"text": 'A "great" film', "label": "pos", "note": ""},
                          {"text": "Dull", "label": "neg", "note": "seen"}]
    bare = tmp_path / "bare.tsv"
    bare.write_text("text\tlabel\tnote\nGood\tpos\t\n", encoding="utf-8")
    assert read_table(bare).rows == [{"text": "Good", "label": "pos", "note": ""}]


def test_a_blank_line_between_rows_is_skipped_and_lines_still_counted(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("text,label\nGood,pos\n\nBad,neg\n", encoding="utf-8")
    assert read_table(path).texts == ["Good", "Bad"]
    path.write_text("text,label\nGood,pos\n\nBad,maybe\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}, line 4: cannot read ')}'maybe' as a label"):
        read_table(path)


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("text,label,text\na,1,b\n", encoding="utf-8")
    expected = f"{path}, line 1: the header names a column twice: ['text', 'label', 'text']"
    with pytest.raises(DataError, match=f"^{re.escape(expected)}$"):
        read_table(path)


@pytest.mark.parametrize("suffix, kind, separator", [("csv", "CSV", ","), ("tsv", "TSV", "\t")])
def test_a_file_with_old_mac_line_ends_names_its_format(tmp_path, suffix, kind, separator):
    """A file whose lines end in a bare CR (old Mac exports) is one malformed line."""
    path = tmp_path / f"mac.{suffix}"
    path.write_bytes(f"text{separator}label\rGood{separator}pos\rBad{separator}neg\r".encode())
    reason = r"its lines end in a bare carriage return \(old Mac line ends\): save it with \\n or \\r\\n line ends"
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}, line 1: malformed {kind}: ')}{reason}$"):
        read_table(path)


class EveryTextScored:
    """A stand-in model: any object with ``labels`` and ``classify`` can predict a file."""

    labels = ["negative", "positive"]

    def __init__(self):
        self.texts = []

    def classify(self, texts, **options):
        from polarity.inference.predictor import Prediction

        self.texts += texts
        return [Prediction(t, "positive", 0.9, {"negative": 0.1, "positive": 0.9}, None if t.strip() else "empty text")
                for t in texts]


def test_predicting_a_text_file_names_lines_and_reads_text_tab_label_lines(tmp_path):
    from polarity.inference.stream import predict_file

    plain = tmp_path / "reviews.txt"
    plain.write_text("Great film.\n\nDull.\n", encoding="utf-8")
    warnings = []
    result = predict_file(EveryTextScored(), plain, tmp_path / "out.jsonl", warn=warnings.append, progress=False)
    assert result.rows == 3 and warnings == [f"{plain}, line 2: empty text"]
    labelled = tmp_path / "sentences.txt"
    labelled.write_text("Great film.\tpos\nDull.\tneg\n", encoding="utf-8")
    model = EveryTextScored()  # a text<TAB>label file is read from its text, whatever column the user names
    predict_file(model, labelled, tmp_path / "out.csv", text_column="review", progress=False)
    assert model.texts == ["Great film.", "Dull."]


# -- formats by file name, columns by name, and the messages of misshapen rows ---------------------------
@pytest.mark.parametrize("name", ["rows.ndjson", "ROWS.NDJSON", "rows.JSONL"])
def test_newline_delimited_json_by_any_of_its_names(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"text": "Fine", "label": "pos"}\n{"text": "Dull", "label": "neg"}\n', encoding="utf-8")
    assert read_table(path).texts == ["Fine", "Dull"]


def test_a_file_without_a_suffix_is_plain_text_and_an_unknown_suffix_is_refused(tmp_path):
    plain = tmp_path / "reviews"
    plain.write_text("Fine film\nDull film\n", encoding="utf-8")
    assert read_table(plain, require_labels=False).texts == ["Fine film", "Dull film"]
    with pytest.raises(DataError, match=r"reviews: a plain text file has no labels; use CSV, TSV or JSONL with a label column$"):
        read_table(plain)
    other = tmp_path / "reviews.v2.docx"
    other.write_text("Fine film\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(other))}: unknown format '\.v2\.docx'; use \.csv, \.tsv, "
                                        r"\.jsonl, \.parquet or \.txt$"):
        read_table(other)


def test_a_named_column_is_found_in_any_case_unless_two_match(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Id,Review,Label\n1,Fine,pos\n2,Dull,neg\n", encoding="utf-8")
    assert read_table(path, text_column="REVIEW").texts == ["Fine", "Dull"]
    path.write_text("review,REVIEW,label\nFine,x,pos\nDull,y,neg\n", encoding="utf-8")
    assert read_table(path, text_column="REVIEW").texts == ["x", "y"]  # the exact name wins
    with pytest.raises(DataError, match=r"no column 'Review'; the columns are \['review', 'REVIEW', 'label'\]$"):
        read_table(path, text_column="Review")


def test_a_column_found_by_its_usual_name_may_differ_in_case_unless_two_do(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Id,REVIEW,Label\n1,Fine,pos\n2,Dull,neg\n", encoding="utf-8")
    assert read_table(path).texts == ["Fine", "Dull"]
    path.write_text("Review,review,Label\nx,Fine,pos\ny,Dull,neg\n", encoding="utf-8")
    assert read_table(path).texts == ["Fine", "Dull"]  # the exact name wins
    path.write_text("Review,REVIEW,Label\nx,Fine,pos\ny,Dull,neg\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: the columns 'Review', 'REVIEW' could each be the "
                                        r"text column; name one with --text-column$"):
        read_table(path)


@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_a_row_with_too_few_fields_names_its_line(tmp_path, suffix):
    """A row short of a field is refused, also where the text column comes first (prediction input)."""
    path = tmp_path / f"r.{suffix}"
    sep = "," if suffix == "csv" else "\t"
    path.write_text(f"text{sep}label\nFine{sep}pos\nDull\n", encoding="utf-8")
    for read in (read_table, lambda p: read_table(p, require_labels=False)):
        with pytest.raises(DataError) as error:
            read(path)
        assert str(error.value) == f"{path}, line 3: 1 fields where the header has 2"


@pytest.mark.parametrize("suffix, content, hint", [
    ("tsv", 'text\tlabel\n"A film\twith a tab"\tpos\n', "; a quoted text holding a tab or a line break? A TSV is "
                                                          "read a line a row: write such texts as CSV or JSONL"),
    ("tsv", "text\tlabel\nA film\twith a tab\tpos\n", ""),
    ("csv", 'text,label\n"A film",pos,extra\n', ""),
])
def test_a_row_with_too_many_fields_names_its_line_and_hints_only_at_quoted_tsv_texts(tmp_path, suffix, content, hint):
    path = tmp_path / f"r.{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}, line 2: 3 fields where the header has 2{hint}')}$"):
        read_table(path)


def test_a_csv_text_that_is_a_quotation_keeps_its_quotes(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('text,label\n"""Magnificent"""\t,pos\n"""Dull""",neg\n', encoding="utf-8")
    assert read_table(path).texts == ['"Magnificent"\t', '"Dull"']


def test_a_text_file_with_windows_line_ends_and_a_missing_file(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"Fine film\r\nDull film\r\n")
    assert read_table(path, require_labels=False).texts == ["Fine film", "Dull film"]
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'none.csv'))} does not exist or is not a file$"):
        read_table(tmp_path / "none.csv")

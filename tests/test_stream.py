"""Prediction over files of any size: chunk by chunk, same results, a valid partial output on Ctrl-C."""

import csv
import json
import os
import re
import signal

import pytest

from polarity.cli import main
from polarity.inference import Predictor
from polarity.inference.stream import predict_file

from conftest import synthetic_reviews, write_csv


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "reviews.csv"
    texts = synthetic_reviews(250, True, 5) + ["", "qqq"] + synthetic_reviews(250, False, 6)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review"])
        writer.writerows((i, text) for i, text in enumerate(texts))
    return path, texts


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_chunks_give_the_in_memory_results(model, reviews, tmp_path):
    path, texts = reviews
    predictor = Predictor.load(model)
    result = predict_file(predictor, path, tmp_path / "out.csv", chunk_rows=64, progress=False)
    assert result.rows == len(texts) and not result.interrupted and result.warnings == 2
    rows = read_csv(tmp_path / "out.csv")
    expected = predictor.classify(texts)
    assert [r["id"] for r in rows] == [str(i) for i in range(len(texts))]
    assert [r["pred_label"] for r in rows] == [e.label for e in expected]
    assert all(abs(float(r["prob_positive"]) - e.probabilities["positive"]) < 1e-5 for r, e in zip(rows, expected))
    assert rows[250]["pred_warning"].startswith("empty")


def test_ctrl_c_leaves_the_rows_written_so_far(model, reviews, tmp_path):
    path, texts = reviews
    predictor = Predictor.load(model)
    calls = []

    class InterruptedOnce:
        labels = predictor.labels

        def classify(self, chunk, **options):
            calls.append(len(chunk))
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C while the second chunk is predicted
            return predictor.classify(chunk, **options)

    previous = signal.getsignal(signal.SIGINT)
    result = predict_file(InterruptedOnce(), path, tmp_path / "partial.jsonl", chunk_rows=100, progress=False)
    assert signal.getsignal(signal.SIGINT) == previous
    assert result.interrupted and result.rows == 200 and calls == [100, 100]
    lines = (tmp_path / "partial.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [str(i) for i in range(200)]  # complete rows, in order
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_in_the_cli_says_what_the_output_holds_on_stderr(model, reviews, tmp_path, monkeypatch, capsys):
    path = reviews[0]
    classify = Predictor.classify

    def interrupted(self, chunk, **options):
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C while the first chunk is predicted
        return classify(self, chunk, **options)

    monkeypatch.setattr(Predictor, "classify", interrupted)
    out = tmp_path / "partial.csv"
    assert main(["predict", str(model), "--file", str(path), "--output", str(out), "--quiet"]) == 130
    captured = capsys.readouterr()
    rows = len(out.read_text(encoding="utf-8").splitlines()) - 1  # the chunk being predicted is finished first
    assert captured.out == "" and rows == len(reviews[1])  # one chunk: every row
    assert captured.err.splitlines()[-1] == f"polarity: interrupted: {out} holds the first {rows} rows, complete"


def test_the_cli_writes_with_the_threshold_it_is_given(model, tmp_path, capsys):
    texts = ["a wonderful film", "an awful film", "a film"]
    for threshold, label in (("0", "positive"), ("1", "negative")):  # P >= 0 always; P >= 1 never, short of saturation
        out = tmp_path / f"at-{threshold}.jsonl"
        assert main(["predict", str(model), *texts, "--threshold", threshold, "--output", str(out), "--quiet"]) == 0
        assert [json.loads(line)["pred_label"] for line in out.read_text().splitlines()] == [label] * 3
        assert main(["predict", str(model), *texts, "--threshold", threshold, "--json"]) == 0
        assert [r["label"] for r in json.loads(capsys.readouterr().out)] == [label] * 3  # as printed


def test_cli_streams_any_input_format(model, reviews, tmp_path, capsys):
    path, texts = reviews
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(t for t in texts if t) + "\n", encoding="utf-8")
    out = tmp_path / "from-text.tsv"
    assert main(["predict", str(model), "--file", str(lines), "--output", str(out), "--quiet"]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == len(texts) - 1 and set(rows[0]) >= {"text", "pred_label", "prob_negative"}
    assert "wrote 501 predictions" in capsys.readouterr().err
    assert main(["predict", str(model), "great film", "awful film", "--output", str(tmp_path / "two.jsonl")]) == 0
    assert len((tmp_path / "two.jsonl").read_text().splitlines()) == 2


@pytest.fixture(scope="module")
def predictor(model):
    return Predictor.load(model)


def test_jsonl_output_holds_the_rounded_scores_and_the_text_as_written(predictor, tmp_path):
    texts = synthetic_reviews(10, True, 7) + ["", "Un film génial, très émouvant 😀"] + synthetic_reviews(10, False, 8)
    source = write_csv(tmp_path / "mixed.csv", enumerate(texts), ["id", "review"])
    result = predict_file(predictor, source, tmp_path / "out.jsonl", progress=False)
    assert result.rows == len(texts)
    written = (tmp_path / "out.jsonl").read_text(encoding="utf-8")
    assert "Un film génial, très émouvant 😀" in written  # UTF-8 as is, not \u escapes
    rows = [json.loads(line) for line in written.splitlines()]
    for row, text, expected in zip(rows, texts, predictor.classify(texts)):  # one chunk, one batch: same numbers
        assert row["review"] == text and row["pred_label"] == expected.label
        assert row["pred_score"] == round(expected.score, 6)
        assert [row["prob_negative"], row["prob_positive"]] == \
            [round(expected.probabilities[k], 6) for k in ("negative", "positive")]
        assert row["pred_warning"] == (expected.warning or "")
    assert [bool(row["pred_warning"]) for row in rows].count(True) == result.warnings >= 1


def test_a_jsonl_text_with_a_lone_surrogate_escape_is_predicted_and_written_back(predictor, tmp_path):
    """JSON reads "\\ud800" as a lone surrogate, which UTF-8 cannot hold: the output escapes it, and reads back."""
    source = tmp_path / "odd.jsonl"
    source.write_text('{"text": "great \\ud800 film"}\n{"text": "très dull"}\n', encoding="utf-8")
    predict_file(predictor, source, tmp_path / "out.jsonl", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == ["great \ud800 film", "très dull"]
    assert [row["pred_label"] for row in rows] == predictor.predict(["great \ud800 film", "très dull"])


def test_parquet_dates_and_times_are_written_as_text(predictor, tmp_path):
    import datetime

    pa = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    source = tmp_path / "dated.parquet"
    parquet.write_table(pa.table({"review": ["A great film.", "An awful film."],
                                  "day": [datetime.date(2024, 1, 2), datetime.date(2023, 12, 31)],
                                  "at": [datetime.datetime(2024, 1, 2, 3, 4, 5)] * 2}), source)
    assert predict_file(predictor, source, tmp_path / "out.jsonl", progress=False).rows == 2
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["day"], r["at"]) for r in rows] == [("2024-01-02", "2024-01-02 03:04:05"),
                                                   ("2023-12-31", "2024-01-02 03:04:05")]


def test_cli_refuses_input_with_prediction_columns_or_no_rows_in_one_line(model, tmp_path, capsys):
    clash = write_csv(tmp_path / "scored.csv", [["A great film.", "1", "x"]], ["review", "pred_score", "pred_label"])
    empty = write_csv(tmp_path / "empty.csv", [], ["id", "review"])
    expected = {
        clash: "polarity: error: the input already has column(s) pred_label, pred_score: rename them; "
               "predict adds pred_label, pred_score, prob_negative, prob_positive, pred_warning",
        empty: "polarity: error: empty.csv holds no rows",
    }
    for source, message in expected.items():
        out = tmp_path / "out" / "predictions.csv"
        assert main(["predict", str(model), "--file", str(source), "--output", str(out), "--quiet"]) == 1
        assert capsys.readouterr().err.splitlines() == [message]
        assert not list(out.parent.iterdir())  # no output, no temporary file left


def test_an_unknown_output_format_is_refused_by_name(predictor, reviews, tmp_path):
    from polarity.errors import DataError

    path, _ = reviews
    with pytest.raises(DataError) as error:
        predict_file(predictor, path, tmp_path / "out.parquet", progress=False)
    assert str(error.value) == "the output must end in .csv, .tsv or .jsonl, got out.parquet"
    assert not list(tmp_path.iterdir())


def test_cli_reads_the_named_text_column_into_new_folders(model, predictor, tmp_path, capsys):
    summaries = synthetic_reviews(5, True, 9) + synthetic_reviews(5, False, 10)
    source = write_csv(tmp_path / "two-texts.csv", [["", s] for s in summaries], ["text", "summary"])
    out = tmp_path / "new" / "folders" / "out.csv"
    assert main(["predict", str(model), "--file", str(source), "--text-column", "summary", "--output", str(out),
                 "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err
    rows = read_csv(out)
    assert [r["pred_label"] for r in rows] == [e.label for e in predictor.classify(summaries)]
    assert [r["pred_warning"] for r in rows] == [""] * len(summaries)


@pytest.mark.parametrize("empty", [20, 21, 25])
def test_the_first_20_row_warnings_are_printed_then_counted(model, tmp_path, capsys, empty):
    source = write_csv(tmp_path / "in.csv", [[""]] * empty + [["a fine film"]], ["text"])
    assert main(["predict", str(model), "--file", str(source), "--output", str(tmp_path / "out.csv"), "--quiet"]) == 0
    lines = capsys.readouterr().err.splitlines()
    shown = [line for line in lines if line.startswith(f"polarity: warning: {source}, line ")]
    assert shown == [f"polarity: warning: {source}, line {n}: empty text: scored from the start marker alone"
                     for n in range(2, 22)]
    counted = [line for line in lines if line.endswith("more rows with warnings (see pred_warning)")]
    assert counted == ([f"polarity: warning: {empty - 20:,} more rows with warnings (see pred_warning)"] if empty > 20 else [])


def test_a_text_file_is_read_a_line_a_text_whatever_text_column_says(model, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("A great film.\nAn awful film.\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(model), "--file", str(lines), "--text-column", "review", "--output", str(out),
                 "--quiet"]) == 0
    assert [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()] == \
        ["A great film.", "An awful film."]


def test_a_text_tab_label_file_keeps_its_labels_beside_the_predictions(predictor, tmp_path):
    """Headerless ``text<TAB>label`` lines (as the UCI sentence sets): the output keeps each line's
    own label, so that it can be set beside the predicted one."""
    lines = tmp_path / "labelled.txt"
    lines.write_text("A great film.\t1\nAn awful film.\t0\n", encoding="utf-8")
    predict_file(predictor, lines, tmp_path / "out.csv", progress=False)
    rows = read_csv(tmp_path / "out.csv")
    assert [(row["text"], row["label"]) for row in rows] == [("A great film.", "1"), ("An awful film.", "0")]
    assert all(row["pred_label"] in predictor.labels for row in rows)


def test_csv_output_from_jsonl_rows_whose_fields_vary(predictor, tmp_path):
    source = tmp_path / "varied.jsonl"
    rows = [{"id": 1, "text": "A great film."}, {"id": 2, "text": "An awful film."},
            {"id": 3, "text": "Great.", "note": "added later"}, {"text": "Awful."}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = predict_file(predictor, source, tmp_path / "out.csv", chunk_rows=2, progress=False)
    written = read_csv(tmp_path / "out.csv")
    assert result.rows == 4 and [r["text"] for r in written] == [r["text"] for r in rows]
    assert [r["id"] for r in written] == ["1", "2", "3", ""]  # the columns are those of the first chunk
    assert "note" not in written[0] and result.left_out == ("note",)
    result = predict_file(predictor, source, tmp_path / "out.jsonl", chunk_rows=2, progress=False)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert result.left_out == () and json.loads(lines[2])["note"] == "added later"
    result = predict_file(predictor, source, tmp_path / "whole.csv", chunk_rows=4, progress=False)
    whole = read_csv(tmp_path / "whole.csv")  # one chunk: a field of any of its rows is a column
    assert result.left_out == () and [r["note"] for r in whole] == ["", "", "added later", ""]


def test_cli_names_the_fields_a_csv_output_leaves_out(model, tmp_path, capsys):
    source = tmp_path / "varied.jsonl"
    rows = [{"text": "A great film."}] * 8192 + [{"text": "Great.", "note": "x", "id": 3}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["predict", str(model), "--file", str(source), "--output", str(out), "--quiet"]) == 0
    assert (f"polarity: warning: {out} has the columns of the first 8,192 rows; fields first seen later are left "
            "out: note, id (a .jsonl output keeps every field)") in capsys.readouterr().err


def test_the_output_is_a_hidden_temporary_file_beside_the_target_until_complete(predictor, reviews, tmp_path):
    path, texts = reviews
    seen = []

    class Watched:
        labels = predictor.labels

        def classify(self, chunk, **options):
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            return predictor.classify(chunk, **options)

    assert predict_file(Watched(), path, tmp_path / "out.csv", chunk_rows=300, progress=False).rows == len(texts)
    assert len(seen) == 2 and len(seen[1]) == 1
    assert seen[1][0].startswith(".out.csv.") and seen[1][0].endswith(".tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_cli_on_a_terminal_counts_the_lines_for_its_progress_bar(model, reviews, tmp_path, monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    path, texts = reviews
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "out.csv"
    assert main(["predict", str(model), "--file", str(path), "--output", str(out)]) == 0
    assert len(read_csv(out)) == len(texts)
    shown = terminal.getvalue()
    assert shown.splitlines()[-1] == f"wrote {len(texts)} predictions to {out}"
    assert "predicting reviews.csv: 100%" in shown and f"| {len(texts)}/{len(texts)} [" in shown
    assert re.search(r"[0-9.]+ rows/s\]", shown)
    terminal.seek(0), terminal.truncate()
    assert main(["predict", str(model), "--file", str(path), "--output", str(out), "--quiet"]) == 0
    assert "predicting" not in terminal.getvalue() and "rows/s" not in terminal.getvalue()
    assert terminal.getvalue().splitlines()[-1] == f"wrote {len(texts)} predictions to {out}"


def test_rows_without_a_text_are_named_by_their_line(predictor, tmp_path):
    from polarity.data.tables import TEXT_COLUMNS
    from polarity.errors import DataError

    source = tmp_path / "reviews.jsonl"
    for rows, message in [
        ([{"id": 1, "title": "Great."}], f"reviews.jsonl: no text column found among ['id', 'title'] (looked for "
                                        f"{', '.join(TEXT_COLUMNS)}); name it with --text-column"),
        ([{"text": "Great."}, {"id": 2}], f"{source}, line 2: the text column 'text' is missing"),
        ([{"text": "Great."}, {"text": 5}], f"{source}, line 2: column 'text' holds 5, not text"),
    ]:
        source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        with pytest.raises(DataError) as error:
            predict_file(predictor, source, tmp_path / "out.csv", progress=False)
        assert str(error.value) == message
        assert not (tmp_path / "out.csv").exists()


def test_a_threshold_moves_the_streamed_labels_as_it_moves_classify(predictor, reviews, tmp_path):
    path, texts = reviews
    predict_file(predictor, path, tmp_path / "out.csv", threshold=0.9, progress=False)
    rows = read_csv(tmp_path / "out.csv")
    expected = predictor.classify(texts, threshold=0.9)
    assert [r["pred_label"] for r in rows] == [p.label for p in expected]
    assert [r["pred_label"] for r in rows] != [p.label for p in predictor.classify(texts)]
    # the score is the probability of the label given, also where that label is the less probable one
    assert [float(r["pred_score"]) for r in rows] == [pytest.approx(p.score, abs=1e-6) for p in expected]
    assert [float(r["pred_score"]) for r in rows] == [pytest.approx(float(r[f"prob_{r['pred_label']}"]), abs=1e-6)
                                                       for r in rows]
    assert any(p.score < 0.5 for p in expected)

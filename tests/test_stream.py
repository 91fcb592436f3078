"""Prediction over files of any size: chunk by chunk, same results, a valid partial output on Ctrl-C."""

import csv
import json
import os
import signal

import pytest

from polarity.cli import main
from polarity.inference import Predictor
from polarity.inference.stream import predict_file

from conftest import synthetic_reviews


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

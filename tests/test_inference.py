import io
import json
import sys

import numpy as np
import pytest
import torch

from polarity.cli import main
from polarity.data import load_imdb
from polarity.errors import DataError, PolarityError
from polarity.inference import Predictor
from polarity.inference.evaluation import accuracy_by_length, classification_metrics, mcnemar
from polarity.inference.explore import explain, nearest_words
from polarity.training import load_recipe, train_recipe

QUIET = dict(progress=False, log=lambda *a: None)


def recipe(name="lstm-dropout", **overrides):
    base = {"data.num_words": 100, "data.maxlen": 60, "data.valid_fraction": 0.2, "model.embedding_dim": 16,
            "training.batch_size": 16, "training.epochs": 8, "training.lr": 0.03}
    if name != "mean-embedding":
        base.update({"model.units": 16, "model.embedding_dropout": 0.0, "model.output_dropout": 0.0})
    base.update(overrides)
    return load_recipe(name, base)


@pytest.fixture(scope="module")
def models(sentiment_archive, tmp_path_factory):
    corpus = load_imdb(sentiment_archive, strict=False)
    root = tmp_path_factory.mktemp("models")
    train_recipe(recipe(), root / "lstm", corpus=corpus, **QUIET)
    train_recipe(recipe("mean-embedding", **{"training.epochs": 20, "training.lr": 0.05}), root / "mean", corpus=corpus, **QUIET)
    return root


def test_predictor_gets_clear_sentences_right(models):
    predictor = Predictor.load(models / "lstm")
    texts = ["A wonderful film, the actors were brilliant.", "An awful film, the plot was boring."]
    probs = predictor.predict_proba(texts)
    assert probs.shape == (2, 2) and probs[0, 1] > 0.8 and probs[1, 1] < 0.2
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert predictor.predict(texts) == ["positive", "negative"]
    results = predictor.classify(["superb and beautiful", "the worst, stupid"])
    assert [r.label for r in results] == ["positive", "negative"]
    assert results[0].score == pytest.approx(results[0].probabilities["positive"])
    assert results[1].score == pytest.approx(results[1].probabilities["negative"])
    assert results[1].probabilities["negative"] + results[1].probabilities["positive"] == pytest.approx(1.0)


def test_threshold_moves_the_decision(models):
    predictor = Predictor.load(models / "lstm")
    text = ["a film with some wonderful and some awful moments"]
    p = predictor.predict_proba(text)[0, 1]
    assert predictor.predict(text, threshold=max(p - 0.01, 0.0)) == ["positive"]
    assert predictor.predict(text, threshold=min(p + 0.01, 1.0)) == ["negative"]
    with pytest.raises(PolarityError, match="between 0 and 1"):
        predictor.predict(text, threshold=1.5)


def test_batched_equals_one_by_one(models):
    predictor = Predictor.load(models / "mean")
    texts = ["great film", "awful plot and the worst actors", "a story", "loved it, wonderful"] * 5
    together = predictor.predict_proba(texts, batch_size=7)
    alone = np.concatenate([predictor.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    lstm, threads = Predictor.load(models / "lstm"), torch.get_num_threads()
    assert not lstm.model.mask_padding  # it reads padding in training, yet a text's result ignores its batch
    mixed = lstm.predict_proba(texts, batch_size=7)
    np.testing.assert_allclose(mixed, np.concatenate([lstm.predict_proba([t]) for t in texts]), rtol=1e-5, atol=1e-6)
    side_by_side = lstm.predict_proba(texts, batch_size=3)  # batches on one worker thread per intra-op thread
    torch.set_num_threads(1)
    try:
        one_after_another = lstm.predict_proba(texts, batch_size=3)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(side_by_side, one_after_another, rtol=1e-5, atol=1e-6)


def test_a_predictor_serving_on_kept_workers_gives_the_same_answers_and_closes_twice(models):
    """What the server does with a predictor: calls on kept workers (one per core), then close."""
    predictor = Predictor.load(models / "lstm")
    texts = ["great film", "awful plot and the worst actors", "a story", "loved it, wonderful"] * 3
    ids = predictor.encode(texts)
    alone = predictor.predict_proba(texts)
    assert predictor.call_proba_ids([]).shape == (0, 2)
    predictor.keep_workers(2)
    try:
        np.testing.assert_allclose(predictor.call_proba_ids(ids), alone, rtol=1e-5, atol=1e-6)
        assert predictor.call_proba_ids([]).shape == (0, 2)
    finally:
        predictor.close()
    predictor.close()  # closing twice is harmless
    np.testing.assert_allclose(predictor.call_proba_ids(ids), alone, rtol=1e-5, atol=1e-6)


def test_what_is_not_a_list_of_texts_or_a_threshold_is_refused_in_one_line(models):
    predictor = Predictor.load(models / "mean")
    for texts, threshold, message in [
        ("one review", None, "expected a list of texts, got one string: wrap it in a list, e.g. predict([text])"),
        (b"one review", None, "expected a list of texts, got one string: wrap it in a list, e.g. predict([text])"),
        (42, None, "expected a list of texts, got int"),
        (["a", 3], None, "text 1 is int, not str"),
        (["a"], "0.5", "threshold must be a number between 0 and 1, got '0.5'"),
        (["a"], True, "threshold must be a number between 0 and 1, got True"),
    ]:
        with pytest.raises(DataError) as error:
            predictor.predict(texts, threshold=threshold)
        assert str(error.value) == message
    for batch_size in (0, -3, "2", True, 2.0):
        with pytest.raises(DataError) as error:
            predictor.predict(["a"], batch_size=batch_size)
        assert str(error.value) == f"batch_size must be a positive integer, got {batch_size!r}"
    assert predictor.predict(["great film", "awful"], batch_size=1) == predictor.predict(["great film", "awful"])
    punctuation, unknown = predictor.classify(["!!! ...", "zzzq qqqz"])
    assert punctuation.warning == "empty text: scored from the start marker alone"
    assert unknown.warning == "no known words: every word is out of the model's vocabulary"


def test_difficult_inputs_have_defined_behaviour(models):
    predictor = Predictor.load(models / "lstm")
    huge = "great " * 200_000  # about 1.2 MB
    results = predictor.classify(["", "   ", "qqq zzz", huge])
    assert results[0].warning.startswith("empty") and results[1].warning.startswith("empty")
    assert results[2].warning.startswith("no known words")
    assert results[3].warning is None and results[3].label == "positive"
    assert len(predictor.encode([huge])[0]) == 60
    with pytest.raises(PolarityError, match="wrap it in a list"):
        predictor.predict("one text")
    with pytest.raises(PolarityError, match="text 1 is int"):
        predictor.predict(["fine", 3])
    assert predictor.predict_proba([]).shape == (0, 2) and predictor.predict([]) == []


def test_cli_json_matches_python_api(models, capsys):
    texts = ["wonderful and brilliant", "terrible and dull"]
    assert main(["predict", str(models / "lstm"), *texts, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = [r.to_dict() for r in Predictor.load(models / "lstm").classify(texts)]
    assert [p["label"] for p in printed] == [e["label"] for e in expected]
    np.testing.assert_allclose([p["score"] for p in printed], [e["score"] for e in expected], rtol=1e-6)
    assert set(printed[0]) == {"text", "label", "score", "probabilities"}
    assert set(printed[0]["probabilities"]) == {"negative", "positive"}
    assert main(["predict", str(models / "lstm"), "--json", "--precision", "float32", *texts]) == 0  # options first
    assert json.loads(capsys.readouterr().out) == printed
    with pytest.raises(SystemExit):
        main(["predict", str(models / "lstm"), "--json", "--bogus", *texts])


def test_cli_files_stdin_and_outputs(models, tmp_path, capsys, monkeypatch):
    lines = tmp_path / "reviews.txt"
    lines.write_text("loved it\n\nhated it\n")
    assert main(["predict", str(models / "lstm"), "--file", str(lines), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 3 and "row 2: empty text" in captured.err
    table = tmp_path / "in.csv"
    table.write_text("id,review\n7,superb film\n8,awful film\n")
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(models / "lstm"), "--file", str(table), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["id"] == "7" and rows[0]["review"] == "superb film" and rows[0]["pred_label"] == "positive"
    assert rows[0]["prob_positive"] + rows[0]["prob_negative"] == pytest.approx(1.0, abs=1e-5)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\ncaf\xe9\n")
    assert main(["predict", str(models / "lstm"), "--file", str(bad)]) == 1
    assert "line 2: not valid UTF-8" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"great film\nworst film\n")))
    assert main(["predict", str(models / "lstm"), "-", "--json"]) == 0
    assert [r["label"] for r in json.loads(capsys.readouterr().out)] == ["positive", "negative"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"great film\n\nworst film\n")))
    streamed = tmp_path / "stdin.jsonl"
    assert main(["predict", str(models / "lstm"), "-", "--output", str(streamed), "--quiet"]) == 0
    assert "stdin, line 2: empty text" in capsys.readouterr().err  # lines counted from 1, as in the file
    assert len(streamed.read_text().splitlines()) == 3
    for output in ([], ["--output", str(tmp_path / "none.jsonl")]):  # an empty stdin is refused, printed or written
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
        assert main(["predict", str(models / "lstm"), "-", *output]) == 1
        assert capsys.readouterr().err.strip() == ("polarity: error: give texts to classify, --file FILE, "
                                                   "or - to read lines from standard input")


def test_predict_names_texts_and_stdin_lines_and_reads_the_column_asked_for(models, tmp_path, capsys, monkeypatch):
    assert main(["predict", str(models / "lstm"), "fine film", "", "--json"]) == 0
    assert "text 2: empty text" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"fine\ncaf\xe9\n")))
    assert main(["predict", str(models / "lstm"), "-"]) == 1
    assert capsys.readouterr().err.startswith("polarity: error: stdin, line 2: not valid UTF-8")
    table = tmp_path / "two.csv"
    table.write_text("review,note\nawful film,a wonderful superb film\n")
    assert main(["predict", str(models / "lstm"), "--file", str(table), "--text-column", "note", "--json"]) == 0
    assert [r["text"] for r in json.loads(capsys.readouterr().out)] == ["a wonderful superb film"]


def test_the_printed_table_shortens_texts_over_70_characters(models, capsys):
    exactly, longer = "a great film " * 5 + "a gre", "a great film " * 5 + "a grea"  # 70 and 71 characters
    assert main(["predict", str(models / "lstm"), exactly, longer]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].endswith("  " + exactly) and rows[1].endswith("  " + longer[:70] + "...")


def test_evaluate_reports_everything(models, sentiment_archive, tmp_path, capsys):
    args = ["evaluate", str(models / "lstm"), "--data", str(sentiment_archive), "--no-strict", "--json", "--plots", str(tmp_path)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reviews"] == 240 and report["accuracy"] > 0.9 and report["roc_auc"] > 0.95
    assert sum(map(sum, report["confusion_matrix"])) == 240
    assert report["per_label"]["positive"]["support"] == 120 and report["labels"] == ["negative", "positive"]
    assert report["by_length"][0]["tokens"] == "<100" and report["by_length"][0]["reviews"] == 240
    assert 0 <= report["best_f1_threshold_on_validation"]["threshold"] <= 1
    assert (tmp_path / "roc.png").is_file() and (tmp_path / "confusion.png").is_file()
    assert main(["evaluate", str(models / "lstm"), "--data", str(sentiment_archive), "--no-strict", "--split", "valid"]) == 0
    printed = capsys.readouterr().out
    assert "accuracy by length" in printed and "threshold with the best F1" in printed
    strict = ["evaluate", str(models / "lstm"), "--data", str(sentiment_archive), "--no-strict", "--json"]
    assert main([*strict, "--threshold", "0.99"]) == 0
    assert json.loads(capsys.readouterr().out)["recall"] < report["recall"]


def test_compare_runs_mcnemar(models, sentiment_archive, capsys):
    assert main(["compare", str(models / "lstm"), str(models / "mean"), "--data", str(sentiment_archive), "--no-strict", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reviews"] == 240 and 0 <= report["models"][1]["vs_first"]["p_value"] <= 1
    test = load_imdb(sentiment_archive, strict=False).test
    right = [np.array(Predictor.load(models / name).predict(test.texts)) == np.array(["negative", "positive"])[test.labels]
             for name in ("lstm", "mean")]
    assert [row["accuracy"] for row in report["models"]] == [pytest.approx(r.mean()) for r in right]
    vs_first = report["models"][1]["vs_first"]  # the first model right where the second is wrong, and the other way
    assert (vs_first["only_first_right"], vs_first["only_second_right"]) == ((right[0] & ~right[1]).sum(),
                                                                              (~right[0] & right[1]).sum())
    assert main(["compare", str(models / "lstm"), str(models / "mean"), "--data", str(sentiment_archive), "--no-strict"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "240 texts (test split); McNemar's exact test against the first model"
    assert lines[1].split() == ["model", "accuracy", "macro", "F1", "AUC", "logloss", "p", "(vs", "1st)"]
    first, second = (line.split() for line in lines[2:])
    assert first[0].endswith("lstm") and first[1] == f"{100 * report['models'][0]['accuracy']:.2f}%" and first[-1] == "-"
    assert second[0].endswith("mean") and second[-1] == f"{vs_first['p_value']:.3g}"


def test_metric_helpers():
    labels = np.array([1, 1, 0, 0, 1, 1])
    positive = np.array([0.9, 0.4, 0.2, 0.6, 0.8, 0.7])
    probs = np.stack([1 - positive, positive], axis=1)
    predicted = (positive >= 0.5).astype(int)
    m = classification_metrics(labels, probs, predicted, ["neg", "pos"])
    assert m["accuracy"] == pytest.approx(4 / 6) and m["confusion_matrix"] == [[1, 1], [1, 3]]
    assert m["precision"] == pytest.approx(3 / 4) and m["recall"] == pytest.approx(3 / 4 * 1)  # 3 of 4 predicted, 3 of 4 true
    assert m["per_label"]["neg"]["precision"] == pytest.approx(1 / 2) and m["per_label"]["pos"]["support"] == 4
    three = classification_metrics(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 1]], np.array([0, 2, 2, 1]), ["a", "b", "c"])
    assert three["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]] and "roc_auc" not in three
    rows = accuracy_by_length(labels[:5] == predicted[:5], np.array([50, 150, 350, 600, 99]))
    assert [r["reviews"] for r in rows] == [2, 1, 1, 1] and rows[0]["accuracy"] == 1.0
    a = np.array([True] * 30 + [False] * 10)
    assert mcnemar(a, a)["p_value"] == 1.0
    b = np.array([True] * 10 + [False] * 30)
    assert mcnemar(a, b)["p_value"] < 0.001


def test_neighbors_are_sorted_and_unknown_words_get_suggestions(models, capsys):
    predictor = Predictor.load(models / "mean")
    for metric in ("euclidean", "cosine"):
        result = nearest_words(predictor, "great", k=8, metric=metric)
        distances = [r["distance"] for r in result]
        assert result[0]["word"] == "great" and distances == sorted(distances) and len(result) == 8
    with pytest.raises(PolarityError, match="did you mean great"):
        nearest_words(predictor, "graet")
    assert main(["neighbors", str(models / "mean"), "Great", "-k", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["word"] == "great"
    for metric in ("euclidean", "cosine"):  # the command's k and metric are the ones applied
        assert main(["neighbors", str(models / "mean"), "great", "-k", "4", "--metric", metric, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == nearest_words(predictor, "great", k=4, metric=metric)
    assert main(["neighbors", str(models / "mean"), "great", "-k", "2"]) == 0
    rows = nearest_words(predictor, "great", k=2)
    assert capsys.readouterr().out == "".join(f"{r['word']:<20}{r['distance']:.4f}\n" for r in rows)


def test_explain_points_at_the_sentiment_word(models, capsys):
    result = explain(Predictor.load(models / "lstm"), "The plot of the film was wonderful")
    top = max(result["words"], key=lambda w: abs(w["contribution"]))
    assert top["word"] == "wonderful" and top["contribution"] > 0
    assert main(["explain", str(models / "lstm"), "the worst film", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["label"] == "negative" and [w["word"] for w in printed["words"]] == ["the", "worst", "film"]
    assert main(["explain", str(models / "lstm"), "the worst film"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_strength = sorted(printed["words"], key=lambda w: -abs(w["contribution"]))  # the strongest, either way
    assert lines[0] == f"negative (P(positive) = {printed['probability']:.3f})" and lines[1] == "the worst film"
    assert lines[2] == "  strongest: " + ", ".join(f"{w['word']} {w['contribution']:+.4f}" for w in by_strength)
    assert by_strength[0]["word"] == "worst" and by_strength[0]["contribution"] < 0


def test_embedding_plot_and_data_show_with_model(models, sentiment_archive, tmp_path, capsys):
    out = tmp_path / "map.png"
    assert main(["embedding-plot", str(models / "mean"), "--out", str(out), "--top", "30"]) == 0
    assert out.stat().st_size > 10_000 and "wrote" in capsys.readouterr().out
    assert main(["data", "show", "130", "--data", str(sentiment_archive), "--no-strict", "--model", str(models / "lstm"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["label"] == "positive" and shown["prediction"]["label"] == "positive"


def test_bad_model_folder_is_explained(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "text"]) == 1
    assert "not a polarity model folder" in capsys.readouterr().err


def test_bfloat16_predictions_stay_close_to_float32(models):
    """Where the CPU has no bfloat16 LSTM kernels (AVX2 only), loading warns and predicts in float32."""
    from polarity.engine import bfloat16_supported

    texts = ["A wonderful film, the actors were brilliant.", "An awful film, the plot was boring.", "It was a film."]
    full = Predictor.load(models / "lstm").predict_proba(texts)
    if bfloat16_supported("cpu"):
        half = Predictor.load(models / "lstm", precision="bfloat16")
        assert half.precision == "bfloat16"
        assert 0 < np.abs(full - half.predict_proba(texts)).max() < 0.05  # bfloat16 ran: 8 bits of mantissa
    else:
        with pytest.warns(RuntimeWarning, match="no bfloat16"):
            half = Predictor.load(models / "lstm", precision="bfloat16")
        assert half.precision == "float32"
        np.testing.assert_array_equal(half.predict_proba(texts), full)
    with pytest.raises(PolarityError, match="precision"):
        Predictor.load(models / "lstm", precision="float16")

"""polarity.inference.evaluation: which reviews `evaluate` scores, the report it prints or writes as JSON,
and the plots it draws."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from polarity.cli import main
from polarity.data import load_imdb
from polarity.data.splits import fit_valid_split, imdb_labelled
from polarity.errors import DataError
from polarity.inference import Predictor
from polarity.inference.evaluation import (accuracy_by_length, classification_metrics, evaluate_texts, format_report,
                                           model_split, save_plots)
from polarity.models.folder import ModelFolder
from polarity.training import load_recipe, train_recipe

from conftest import sentiment_rows, synthetic_reviews, write_csv

QUIET = dict(progress=False, log=lambda *a: None)
SMALL = {"data.num_words": 200, "training.epochs": 1}


# -- which reviews a model is evaluated on ------------------------------------------------------------------
@pytest.fixture(scope="module")
def files_model(tmp_path_factory):
    """A model trained on a CSV file whose columns must be named (``words``, ``mood``), with a test file of
    positive reviews only, a quarter of the training file held out for validation (seed 3), and some
    training texts excluded by ``data.exclude``."""
    root = tmp_path_factory.mktemp("files-model")
    train = sentiment_rows(40, 1)
    write_csv(root / "train.csv", train, ("words", "mood"))
    test = [(text, label) for text, label in sentiment_rows(10, 2) if label == "positive"]
    write_csv(root / "test.csv", test, ("words", "mood"))
    excluded = [text for text, _ in train[:20]]
    (root / "exclude.txt").write_text("\n".join(excluded) + "\n", encoding="utf-8")
    recipe = load_recipe("mean-embedding", {**SMALL, "data.valid_fraction": 0.25, "training.seed": 3,
                                            "data.exclude": str(root / "exclude.txt")})
    train_recipe(recipe, root / "model", train=root / "train.csv", test=root / "test.csv", text_column="words",
                 label_column="mood", **QUIET)
    return {"folder": root / "model", "train": train, "test": test, "excluded": set(excluded)}


@pytest.fixture(scope="module")
def memory_valid_model(tmp_path_factory):
    """A model trained on a CSV file, validated on texts given in memory, without a test set."""
    root = tmp_path_factory.mktemp("memory-valid")
    write_csv(root / "train.csv", sentiment_rows(20, 5), ("text", "label"))
    valid = sentiment_rows(5, 6)
    train_recipe(load_recipe("mean-embedding", SMALL), root / "model", train=root / "train.csv",
                 valid=([t for t, _ in valid], [y for _, y in valid]), **QUIET)
    return root / "model"


def test_the_valid_split_of_a_files_model_is_its_validation_texts_less_the_excluded_ones(files_model):
    config = ModelFolder(files_model["folder"]).config()
    texts, labels, name = model_split(config, "valid", lambda: pytest.fail("a files model reads no IMDB corpus"))
    assert name == "valid split"
    assert len(texts) == config.data["sizes"]["valid"] == 16  # a quarter of the 80 - 20 texts left after the exclusion
    kept = {text: label for text, label in files_model["train"] if text not in files_model["excluded"]}
    assert set(texts) <= set(kept)
    assert [config.labels[i] for i in labels] == [kept[t] for t in texts]


def test_a_validation_file_is_scored_less_the_texts_the_recipe_held_out(tmp_path):
    """Training validates on a --valid file less data.exclude; --split valid scores those same reviews."""
    train, valid = sentiment_rows(20, 7), sentiment_rows(6, 8)
    write_csv(tmp_path / "train.csv", train, ("text", "label"))
    write_csv(tmp_path / "valid.csv", valid, ("text", "label"))
    (tmp_path / "exclude.txt").write_text("\n".join(text for text, _ in valid[:3]) + "\n", encoding="utf-8")
    recipe = load_recipe("mean-embedding", {**SMALL, "data.exclude": str(tmp_path / "exclude.txt")})
    train_recipe(recipe, tmp_path / "model", train=tmp_path / "train.csv", valid=tmp_path / "valid.csv", **QUIET)
    config = ModelFolder(tmp_path / "model").config()
    texts, _, _ = model_split(config, "valid", lambda: pytest.fail("a files model reads no IMDB corpus"))
    assert len(texts) == config.data["sizes"]["valid"] == 9 and texts == [text for text, _ in valid[3:]]


def test_the_test_split_of_a_files_model_reads_its_named_columns_with_the_models_labels(files_model):
    config = ModelFolder(files_model["folder"]).config()
    texts, labels, name = model_split(config, "test", lambda: pytest.fail("a files model reads no IMDB corpus"))
    assert name == "test split"
    assert texts == [text for text, _ in files_model["test"]]
    assert labels.tolist() == [config.labels.index("positive")] * 10  # a file of one label, read as the model's


def test_a_split_that_is_not_on_record_is_refused_with_a_one_line_message(tiny_model, memory_valid_model, capsys):
    for model, split, message in (
        (tiny_model, "test", "this model was trained on in-memory data: evaluate it with --dataset FILE"),
        (memory_valid_model, "valid", "this model was trained on in-memory data: evaluate it with --dataset FILE"),
        (memory_valid_model, "test", "this model has no test split on record: evaluate it with --dataset FILE"),
    ):
        assert main(["evaluate", str(model), "--split", split]) == 1
        assert capsys.readouterr().err == f"polarity: error: {message}\n"


def test_a_data_file_that_gained_a_label_since_training_is_refused_naming_it(tmp_path, capsys):
    rows = sentiment_rows(12, 31)
    train = write_csv(tmp_path / "train.csv", rows, ("text", "label"))
    test = write_csv(tmp_path / "test.csv", rows[:6], ("text", "label"))
    train_recipe(load_recipe("mean-embedding", SMALL), tmp_path / "model", train=train, test=test, **QUIET)
    for path in (train, test):
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("a film about nothing in particular,neutral\n")
    for split, path, line in (("valid", train, 26), ("test", test, 8)):
        assert main(["evaluate", str(tmp_path / "model"), "--split", split]) == 1
        assert capsys.readouterr().err == (f"polarity: error: {path}, line {line}: unknown label 'neutral'; "
                                           "the known labels are ['negative', 'positive']\n")


@pytest.fixture(scope="module")
def imdb_corpus(sentiment_archive):
    return load_imdb(sentiment_archive, strict=False)


@pytest.fixture(scope="module")
def imdb_model(imdb_corpus, tmp_path_factory):
    """A sentiment model trained on the synthetic IMDB copy, validated on a quarter of it (seed 3)."""
    folder = tmp_path_factory.mktemp("imdb-model") / "model"
    recipe = load_recipe("mean-embedding", {**SMALL, "data.valid_fraction": 0.25, "training.seed": 3})
    train_recipe(recipe, folder, corpus=imdb_corpus, **QUIET)
    return folder


def copy_with_config(folder, target, change) -> ModelFolder:
    shutil.copytree(folder, target)
    path = target / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))
    return ModelFolder(target)


def test_an_imdb_model_is_evaluated_on_the_reviews_it_was_validated_on(imdb_model, imdb_corpus):
    texts, labels, name = model_split(ModelFolder(imdb_model).config(), "valid", lambda: imdb_corpus)
    expected = fit_valid_split(imdb_labelled(imdb_corpus.train), 0.25, 3)[1]
    assert (texts, labels.tolist(), name) == (expected.texts, expected.labels.tolist(), "valid split")


def test_a_folder_of_the_first_model_format_is_evaluated_on_the_same_splits(imdb_model, imdb_corpus, tmp_path):
    """The first folders recorded only the sizes of the IMDB splits: no dataset, target, fraction or seed;
    the recipe in config.json still says which reviews validated the model."""
    def first_format(config):
        sizes = config["data"]["sizes"]
        config["data"] = {"source": config["data"]["source"], "train": sizes["fit"], "valid": sizes["valid"],
                          "test": sizes["test"], "limit": None}

    old = copy_with_config(imdb_model, tmp_path / "old", first_format).config()
    new = ModelFolder(imdb_model).config()
    for split in ("valid", "test", "train"):
        texts, labels, name = model_split(old, split, lambda: imdb_corpus)
        expected_texts, expected_labels, _ = model_split(new, split, lambda: imdb_corpus)
        assert (texts, labels.tolist(), name) == (expected_texts, expected_labels.tolist(), f"{split} split")


def test_a_rating_band_model_is_evaluated_on_rating_bands(imdb_corpus, tmp_path):
    recipe = load_recipe("mean-embedding", {**SMALL, "data.target": "rating-bands"})
    train_recipe(recipe, tmp_path / "bands", corpus=imdb_corpus, **QUIET)
    texts, labels, _ = model_split(ModelFolder(tmp_path / "bands").config(), "test", lambda: imdb_corpus)
    expected = imdb_labelled(imdb_corpus.test, "rating-bands")
    assert texts == expected.texts and labels.tolist() == expected.labels.tolist()
    assert sorted(set(labels.tolist())) == [0, 1, 2, 3]


def test_a_model_whose_label_names_are_not_those_of_its_split_is_refused(imdb_model, imdb_corpus, tmp_path):
    """Label names as a file would spell them, not as polarity writes them (numbers as strings): the split's
    labels are 0 and 1, the model's "0" and "1"."""
    edited = copy_with_config(imdb_model, tmp_path / "edited", lambda c: c.update(labels=["0", "1"])).config()
    with pytest.raises(DataError) as raised:
        model_split(edited, "test", lambda: imdb_corpus)
    assert str(raised.value) == "the test split's labels [0, 1] differ from the model's ['0', '1']"


# -- the printed report ---------------------------------------------------------------------------------------
def test_the_printed_report_of_a_two_label_model():
    labels = np.array([1] * 1200 + [0, 0, 0, 1, 0, 1, 0])
    positive = np.array([0.9] * 1200 + [0.2, 0.3, 0.6, 0.7, 0.4, 0.1, 0.8])
    predicted = (positive >= 0.5).astype(int)
    report = classification_metrics(labels, np.stack([1 - positive, positive], axis=1), predicted, ["no", "yes"])
    lengths = np.array([50] * 1200 + [150, 150, 150, 600, 600, 600, 600])
    report.update(seconds=1.234, threshold=0.5, maxlen=80, truncating="pre",
                  by_length=accuracy_by_length(predicted == labels, lengths))
    assert format_report(report, "m on the test split") == "\n".join([
        "m on the test split: 1,207 texts in 1.2 s",
        "  accuracy   99.75 %    macro F1 0.8327    log loss 0.1099",
        "  yes: precision 0.9983  recall 0.9992  F1 0.9988  ROC AUC 0.9990  (threshold 0.5)",
        "  label      precision   recall       F1  support",
        "  no            0.7500   0.6000   0.6667        5",
        "  yes           0.9983   0.9992   0.9988    1,202",
        "  confusion matrix (rows: true label, columns: predicted)",
        "                  no     yes",
        "  no               3       2",
        "  yes              1   1,201",
        "  accuracy by length (tokens; the model reads the last 80):",
        "        <100    1,200 texts  100.00 %",
        "     100-300        3 texts   66.67 %",
        "     300-500        0 texts       -  ",
        "        >500        4 texts   50.00 %",
    ])
    one_label = format_report({**report, "roc_auc": None}, "m").splitlines()[2]
    assert one_label == "  yes: precision 0.9983  recall 0.9992  F1 0.9988  ROC AUC n/a  (threshold 0.5)"


def test_the_printed_report_of_three_labels_with_a_long_name_and_no_length_limit():
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2, 0])
    report = classification_metrics(labels, np.eye(3)[predicted] * 0.7 + 0.1, predicted, ["bad", "neutral", "extremely good"])
    report.update(seconds=0.04, threshold=0.5, maxlen=None, truncating="post",
                  by_length=accuracy_by_length(predicted == labels, np.array([10, 20, 30, 40, 50, 320, 330])))
    assert format_report(report, "m") == "\n".join([
        "m: 7 texts in 0.0 s",
        "  accuracy   71.43 %    macro F1 0.7000    log loss 0.8173",
        "  label            precision   recall       F1  support",
        "  bad                 0.5000   0.5000   0.5000        2",
        "  neutral             0.6667   1.0000   0.8000        2",
        "  extremely good      1.0000   0.6667   0.8000        3",
        "  confusion matrix (rows: true label, columns: predicted)",
        "                              bad        neutral extremely good",
        "  bad                           1              1              0",
        "  neutral                       0              2              0",
        "  extremely good                1              0              2",
        "  accuracy by length (tokens; the model reads all of them):",
        "        <100        5 texts   80.00 %",
        "     100-300        0 texts       -  ",
        "     300-500        2 texts   50.00 %",
        "        >500        0 texts       -  ",
    ])


# -- evaluating a model on texts ----------------------------------------------------------------------------------
def test_evaluating_reports_the_time_the_threshold_what_the_model_reads_and_accuracy_by_length(tiny_model, monkeypatch):
    import time

    predictor = Predictor.load(tiny_model)
    short = synthetic_reviews(6, True, 11) + synthetic_reviews(6, False, 12)
    medium = [" ".join(synthetic_reviews(8, positive, seed)) for positive, seed in ((True, 13), (False, 14), (True, 15))]
    long = [" ".join(synthetic_reviews(30, False, 16))]
    texts = short + medium + long
    labels = np.array([1] * 5 + [0] * 7 + [1, 0, 0, 0])  # a few wrong on purpose
    clock = iter([100.0, 101.2345])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    report, probs = evaluate_texts(predictor, texts, labels)
    monkeypatch.undo()
    assert report["seconds"] == 1.23
    assert report["threshold"] == 0.5
    assert (report["maxlen"], report["truncating"]) == (100, "pre")
    assert probs == pytest.approx(predictor.predict_proba(texts))
    correct = predictor.decide(probs) == labels
    lengths = [len(predictor.encoder.tokenize(t)) for t in texts]
    assert max(lengths[:12]) < 100 and all(100 <= n < 300 for n in lengths[12:15]) and lengths[15] > 500
    assert report["by_length"] == [
        {"tokens": "<100", "reviews": 12, "accuracy": pytest.approx(correct[:12].mean())},
        {"tokens": "100-300", "reviews": 3, "accuracy": pytest.approx(correct[12:15].mean())},
        {"tokens": "300-500", "reviews": 0, "accuracy": None},
        {"tokens": ">500", "reviews": 1, "accuracy": float(correct[15])},
    ]
    printed = format_report(report, "tiny").splitlines()
    assert printed[0] == "tiny: 16 texts in 1.2 s" and printed[2].endswith("(threshold 0.5)")
    assert printed[-5:-2] == ["  accuracy by length (tokens; the model reads the last 100):",
                              f"        <100       12 texts  {100 * correct[:12].mean():6.2f} %",
                              f"     100-300        3 texts  {100 * correct[12:15].mean():6.2f} %"]
    assert printed[-2] == "     300-500        0 texts       -  "


def test_evaluating_no_texts_is_refused(tiny_model):
    with pytest.raises(DataError) as raised:
        evaluate_texts(Predictor.load(tiny_model), [], np.array([], dtype=np.int64))
    assert str(raised.value) == "no texts to evaluate"


def test_a_file_of_negative_reviews_all_called_negative_is_reported_without_warnings(tiny_model, tmp_path, capsys):
    """No positive review and no positive prediction (threshold 1): precision, recall, F1 of the positive
    label are 0, not undefined, ROC AUC has no value, and nothing is printed on stderr."""
    import warnings

    texts = synthetic_reviews(8, False, 21)
    write_csv(tmp_path / "negative.csv", [(t, "negative") for t in texts], ("text", "label"))
    args = ["evaluate", str(tiny_model), "--dataset", str(tmp_path / "negative.csv"), "--threshold", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main([*args, "--json", "--plots", str(tmp_path / "plots")]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        report = json.loads(out)
        assert main(args) == 0
        printed, err = capsys.readouterr()
        assert err == ""
    assert (report["precision"], report["recall"], report["f1"], report["roc_auc"]) == (0.0, 0.0, 0.0, None)
    assert report["per_label"] == {"negative": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 8.0},
                                   "positive": {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0.0}}
    assert report["confusion_matrix"] == [[8, 0], [0, 0]] and report["threshold"] == 1
    negative = Predictor.load(tiny_model).predict_proba(texts)[:, 0].astype(np.float64)
    assert report["log_loss"] == pytest.approx(-np.log(negative).mean())
    assert report["plots"] == [str(tmp_path / "plots" / "confusion.png")]  # no ROC curve without positive reviews
    assert "  positive: precision 0.0000  recall 0.0000  F1 0.0000  ROC AUC n/a  (threshold 1)" in printed.splitlines()


def test_log_loss_floors_probabilities_at_one_in_ten_million_and_counts_labels_never_seen():
    labels, predicted = np.array([1, 0, 0]), np.array([0, 0, 0])
    probs = np.array([[1.0, 0.0], [0.9, 0.1], [0.6, 0.4]])
    report = classification_metrics(labels, probs, predicted, ["negative", "positive"])
    assert report["log_loss"] == pytest.approx((np.log1p(1e7) - np.log(0.9) - np.log(0.6)) / 3)
    three = classification_metrics(np.array([0, 1, 1, 0]), np.array([[0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1],
                                                                      [0.8, 0.1, 0.1]]), np.array([0, 1, 0, 0]), ["a", "b", "c"])
    assert three["confusion_matrix"] == [[2, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert three["per_label"]["c"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0.0}
    assert three["log_loss"] == pytest.approx(-(np.log(0.5) + np.log(0.7) + np.log(0.3) + np.log(0.8)) / 4)


# -- the plots ----------------------------------------------------------------------------------------------------
def test_the_plots_of_a_two_label_model_show_its_roc_curve_and_its_counts(tmp_path, saved_figures):
    from matplotlib.colors import to_hex
    from sklearn.metrics import roc_curve

    labels = np.array([1] * 1200 + [0] * 300 + [1, 0, 1, 0])
    positive = np.concatenate([np.linspace(0.55, 0.99, 1200), np.linspace(0.01, 0.45, 300), [0.3, 0.6, 0.4, 0.7]])
    predicted = (positive >= 0.5).astype(int)
    folder = tmp_path / "new" / "plots"
    written = save_plots(labels, np.stack([1 - positive, positive], axis=1), predicted, ["negative", "positive"], folder,
                         "lstm on the test split")
    assert written == [str(folder / "roc.png"), str(folder / "confusion.png")]
    assert all((folder / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for name in ("roc.png", "confusion.png"))
    roc, confusion = saved_figures
    (ax,) = roc.axes
    curve, chance = ax.get_lines()
    fpr, tpr, _ = roc_curve(labels, positive)
    assert curve.get_xdata().tolist() == pytest.approx(fpr.tolist()) and curve.get_ydata().tolist() == pytest.approx(tpr.tolist())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lstm on the test split (AUC = 1.00)"]
    assert (list(chance.get_xdata()), list(chance.get_ydata())) == ([0, 1], [0, 1])  # the diagonal of chance
    assert (chance.get_linestyle(), to_hex(chance.get_color())) == ("--", "#808080")
    (ax,) = confusion.axes  # no colour bar
    assert ax.get_title() == "lstm on the test split"
    assert [t.get_text() for t in ax.get_xticklabels()] == [t.get_text() for t in ax.get_yticklabels()] == ["negative", "positive"]
    assert [t.get_text() for t in ax.texts] == ["300", "2", "2", "1,200"]  # rows: true label


def test_a_model_of_eight_labels_gets_a_confusion_matrix_and_no_roc_curve(tmp_path, saved_figures):
    names = [f"label {i}" for i in range(8)]
    labels, predicted = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    written = save_plots(labels, np.eye(8)[predicted], predicted, names, tmp_path, "eight")
    assert written == [str(tmp_path / "confusion.png")]
    (ax,) = saved_figures[0].axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names


"""Training on the user's own files, any label set, and the outputs that name those labels."""

import csv
import json
import random
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polarity.cli import main
from polarity.data import load_imdb
from polarity.data.splits import fit_valid_split, imdb_labelled
from polarity.errors import ConfigError, DataError
from polarity.inference import Predictor
from polarity.models.folder import ModelFolder
from polarity.training import TrainingInterrupted, load_recipe, train_recipe

from conftest import sentiment_rows, write_csv

QUIET = dict(progress=False, log=lambda *a: None)
TINY = {"data.num_words": 200, "data.maxlen": 60, "data.valid_fraction": 0.2, "model.embedding_dim": 16,
        "model.units": 16, "model.embedding_dropout": 0.0, "model.output_dropout": 0.0, "training.batch_size": 16,
        "training.epochs": 8, "training.lr": 0.03}
TOPICS = {  # four labels, each with its own words
    "books": ["novel", "chapter", "author", "pages"], "films": ["actors", "scene", "director", "cinema"],
    "music": ["album", "song", "guitar", "singer"], "food": ["dish", "taste", "chef", "menu"],
}


def stop_at_once(trainer, state):
    """A training callback that interrupts the run at its first step, as Ctrl-C would."""
    trainer.request_stop()


def f1_at(threshold: float, probs: np.ndarray, truth: np.ndarray) -> float:
    """F1 of calling positive every text whose probability is at or above ``threshold``."""
    chosen = probs >= threshold
    return 2 * int((chosen & truth).sum()) / (chosen.sum() + truth.sum())


def topic_reviews(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = list(TOPICS)[i % 4]
        words = [rng.choice(["the", "a", "was", "and", "it", "very"]) for _ in range(rng.randint(6, 20))]
        for _ in range(2):
            words.insert(rng.randrange(len(words) + 1), rng.choice(TOPICS[topic]))
        rows.append((" ".join(words), topic))
    return rows


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    write_csv(root / "train.csv", sentiment_rows(100, 1))
    write_csv(root / "test.csv", sentiment_rows(40, 2))
    write_csv(root / "topics.csv", topic_reviews(320, 3), header=("text", "label"))
    write_csv(root / "topics-test.csv", topic_reviews(80, 4), header=("text", "label"))
    return root


def test_csv_with_two_labels_trains_and_predicts(files, tmp_path):
    recipe = load_recipe("lstm-dropout", TINY)
    metrics = train_recipe(recipe, tmp_path / "m", train=files / "train.csv", test=files / "test.csv", **QUIET)
    assert metrics["reported_on"] == "test" and metrics["test"]["reviews"] == 80 and metrics["test"]["accuracy"] >= 0.9
    assert metrics["labels"] == ["negative", "positive"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["labels"] == ["negative", "positive"] and config["data"]["dataset"] == "files"
    assert config["data"]["sizes"] == {"fit": 160, "valid": 40, "test": 80}  # a stratified 20 % of 200 rows
    assert Predictor.load(tmp_path / "m").predict(["wonderful brilliant film", "awful boring film"]) == ["positive", "negative"]


def test_four_labels_use_a_softmax_and_name_every_output(files, tmp_path, capsys):
    out = tmp_path / "topics"
    assert main(["train", "lstm-dropout", "--train", str(files / "topics.csv"), "--test", str(files / "topics-test.csv"),
                 "--out", str(out), "--quiet", *[f"--set={k}={v}" for k, v in TINY.items()], "--epochs", "12"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    predictor = Predictor.load(out)
    assert predictor.labels == ["books", "films", "food", "music"] and predictor.model.output.out_features == 4
    probs = predictor.predict_proba(["the novel and its author", "a very good chef and menu"])
    assert probs.shape == (2, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert predictor.predict(["the novel and its author", "a very good chef and menu"]) == ["books", "food"]
    assert main(["predict", str(out), "--json", "an album with one song"]) == 0
    printed = json.loads(capsys.readouterr().out)[0]
    assert printed["label"] == "music" and set(printed["probabilities"]) == set(TOPICS)
    assert main(["evaluate", str(out), "--json"]) == 0  # the model's own test file, on record in its folder
    report = json.loads(capsys.readouterr().out)
    assert report["reviews"] == 80 and report["accuracy"] > 0.9 and len(report["confusion_matrix"]) == 4
    assert set(report["per_label"]) == set(TOPICS) and "roc_auc" not in report
    assert "best_f1_threshold_on_validation" not in report  # a threshold is a two-label model's
    assert main(["evaluate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "books" in printed and "music" in printed and "macro F1" in printed
    assert main(["predict", str(out), "--threshold", "0.3", "a song"]) == 1  # thresholds are for two labels
    assert "two-label" in capsys.readouterr().err


def test_jsonl_folder_and_in_memory_data_train(tmp_path):
    rows = sentiment_rows(60, 5)
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text("".join(json.dumps({"body": t, "stars": 5 if y == "positive" else 1}) + "\n" for t, y in rows))
    folder = tmp_path / "folder"
    for i, (text, label) in enumerate(rows):
        (folder / label).mkdir(parents=True, exist_ok=True)
        (folder / label / f"{i}.txt").write_text(text, encoding="utf-8")
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2})
    by_file = train_recipe(recipe, tmp_path / "j", train=jsonl, text_column="body", label_column="stars", **QUIET)
    assert by_file["labels"] == [1, 5] and by_file["reported_on"] == "valid" and "test" not in by_file
    by_folder = train_recipe(recipe, tmp_path / "f", train=folder, **QUIET)
    assert by_folder["labels"] == ["negative", "positive"]
    texts, labels = zip(*rows)
    in_memory = train_recipe(recipe, tmp_path / "mem", train=(list(texts), list(labels)), **QUIET)
    assert in_memory["valid"]["accuracy"] == by_folder["valid"]["accuracy"]  # the same texts and labels, in order
    assert json.loads((tmp_path / "mem" / "config.json").read_text())["data"]["train"] == "<memory>"


def test_non_english_text_goes_through(tmp_path):
    texts = ["très bon film, magnifique", "電影很好看 非常好", "great 😀 film", "film nul, très mauvais",
             "電影很難看 太差了", "awful 😡 film"] * 10
    labels = ["pos", "pos", "pos", "neg", "neg", "neg"] * 10
    recipe = load_recipe("mean-embedding", {"training.epochs": 2})
    metrics = train_recipe(recipe, tmp_path / "u", train=(texts, labels), **QUIET)
    assert metrics["labels"] == ["neg", "pos"]
    predictor = Predictor.load(tmp_path / "u")
    assert predictor.encoder.tokenize("電影很好看 非常好") == ["電影很好看", "非常好"]  # no spaces, no split
    assert len(predictor.classify(["très bon 😀", "電影"])) == 2


def test_labels_of_valid_and_test_files_must_be_known(files, tmp_path):
    odd = write_csv(tmp_path / "odd.csv", [("fine film", "positive"), ("a film", "neutral")])
    with pytest.raises(DataError, match="neutral"):
        train_recipe(load_recipe("mean-embedding"), tmp_path / "x", train=files / "train.csv", test=odd, **QUIET)


def test_predict_output_never_overwrites_input_columns(files, tmp_path, capsys, monkeypatch):
    model = tmp_path / "m"
    train_recipe(load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2}), model,
                 train=files / "train.csv", **QUIET)
    table = write_csv(tmp_path / "in.csv", [("superb film", "my own label")], header=("review", "label"))
    out = tmp_path / "out.csv"
    assert main(["predict", str(model), "--file", str(table), "--output", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert row["label"] == "my own label" and row["review"] == "superb film"  # the input's columns, untouched
    assert row["pred_label"] in ("negative", "positive") and {"prob_negative", "prob_positive", "pred_score"} <= set(row)
    clash = write_csv(tmp_path / "clash.csv", [("superb film", "x")], header=("review", "pred_label"))
    before = clash.read_bytes()
    assert main(["predict", str(model), "--file", str(clash), "--output", str(tmp_path / "o.csv")]) == 1
    assert "pred_label" in capsys.readouterr().err and not (tmp_path / "o.csv").exists()
    assert main(["predict", str(model), "--file", str(clash), "--output", str(clash)]) == 1
    assert "is the input file" in capsys.readouterr().err and clash.read_bytes() == before
    assert main(["predict", str(model), "--file", str(table), "--output", str(tmp_path / "o.xlsx")]) == 1
    assert ".csv, .tsv or .jsonl" in capsys.readouterr().err
    assert main(["predict", str(model), "--file", str(table), "--output", str(out), "--json"]) == 1
    assert "choose one" in capsys.readouterr().err
    upper = tmp_path / "OUT.CSV"  # the output's suffix in any case
    assert main(["predict", str(model), "--file", str(table), "--output", str(upper), "--quiet"]) == 0 and upper.is_file()
    monkeypatch.chdir(tmp_path)  # the input named another way: still the input
    assert main(["predict", str(model), "--file", "clash.csv", "--output", str(clash)]) == 1
    assert "is the input file" in capsys.readouterr().err and clash.read_bytes() == before


def test_limit_never_evaluates_on_training_reviews(sentiment_archive, tmp_path):
    """A --limit run's fit reviews and the reviews `evaluate --split valid` scores are disjoint."""
    corpus = load_imdb(sentiment_archive, strict=False)
    recipe = load_recipe("mean-embedding", {"training.epochs": 1})
    train = imdb_labelled(corpus.train)
    limited_fit, limited_valid = fit_valid_split(train, 0.1, 0, limit=50)
    _, full_valid = fit_valid_split(train, 0.1, 0)
    assert not set(limited_fit.texts) & set(full_valid.texts)
    assert set(limited_valid.texts) <= set(full_valid.texts)
    train_recipe(recipe, tmp_path / "lim", corpus=corpus, limit=50, **QUIET)
    from polarity.inference.evaluation import model_split
    from polarity.models.folder import ModelFolder

    texts, _, _ = model_split(ModelFolder(tmp_path / "lim").config(), "valid", lambda: corpus)
    assert texts == full_valid.texts and not set(texts) & set(limited_fit.texts)


def test_old_model_folders_without_labels_still_load(tmp_path):
    train_recipe(load_recipe("mean-embedding", {"training.epochs": 1}), tmp_path / "m",
                 train=(["good film", "bad film"] * 10, [1, 0] * 10), **QUIET)
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    del config["labels"]
    path.write_text(json.dumps(config))
    assert Predictor.load(tmp_path / "m").labels == ["negative", "positive"]


def test_reproduce_checks_its_seeds(sentiment_archive, tmp_path, capsys):
    args = ["reproduce", "mean-embedding", "--data", str(sentiment_archive), "--no-strict", "--out", str(tmp_path),
            "--epochs", "1"]
    assert main([*args, "--seeds", "0"]) == 1 and "--seeds must be at least 1" in capsys.readouterr().err
    assert main([*args, "--seed", "5"]) == 0  # --seed is the first seed, not silently replaced by 0
    written = json.loads((tmp_path / "mean-embedding-bucketed.json").read_text())
    assert written["seed_values"] == [5] and written["runs"][0]["folder"].endswith("seed5")


def test_recipe_typos_are_one_line_errors_in_the_cli(capsys):
    assert main(["train", "--set", "training.epoch=5"]) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "'epoch'" in message and "did you mean 'epochs'" in message
    with pytest.raises(ConfigError, match="rating-bands"):
        train_recipe(load_recipe("imdb-ratings"), "unused", train=(["a", "b"], [0, 1]), **QUIET)


def test_polarity_spellings_match_across_files(files, tmp_path, capsys):
    model = tmp_path / "m"
    train_recipe(load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2}), model,
                 train=files / "train.csv", **QUIET)
    numbers = write_csv(tmp_path / "numbers.csv", [(t, 1 if y == "positive" else 0) for t, y in sentiment_rows(10, 9)])
    assert main(["evaluate", str(model), "--dataset", str(numbers), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["per_label"]["positive"]["support"] == 10


def test_no_validation_and_no_test_is_refused(files, tmp_path):
    with pytest.raises(ConfigError, match="no validation texts"):
        train_recipe(load_recipe("mean-embedding", {"data.valid_fraction": 0.0}), tmp_path / "x",
                     train=files / "train.csv", **QUIET)


def test_a_clash_in_any_row_stops_predict(files, tmp_path, capsys):
    model = tmp_path / "m"
    train_recipe(load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 1}), model,
                 train=files / "train.csv", **QUIET)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": "bad", "prob_positive": 3}) + "\n")
    assert main(["predict", str(model), "--file", str(rows), "--output", str(tmp_path / "o.jsonl")]) == 1
    assert "prob_positive" in capsys.readouterr().err and not (tmp_path / "o.jsonl").exists()


def test_a_run_on_own_data_resumes_from_its_files_or_asks_for_the_lists_again(files, tmp_path):
    """`--resume` reads the files a run started with; data given as lists must be given again; a
    damaged run file is refused with what to do."""
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2})
    texts, labels = map(list, zip(*sentiment_rows(40, 6)))
    for name, sources in {"valid": dict(valid=(texts, labels)), "test": dict(test=(texts, labels))}.items():
        out = tmp_path / name
        with pytest.raises(TrainingInterrupted):
            train_recipe(recipe, out, train=files / "train.csv", callbacks=[stop_at_once], **sources, **QUIET)
        with pytest.raises(ConfigError) as info:
            train_recipe(recipe, out, resume=True, **QUIET)
        assert str(info.value) == ("this run was trained on in-memory data: pass the same train=/valid=/test= to "
                                   "resume it")
        assert train_recipe(recipe, out, train=files / "train.csv", resume=True, **sources, **QUIET)[name]["reviews"] == len(texts)
    out = tmp_path / "train"  # training texts in memory, the test texts from a file
    with pytest.raises(TrainingInterrupted):
        train_recipe(recipe, out, train=(texts, labels), test=files / "test.csv", callbacks=[stop_at_once], **QUIET)
    with pytest.raises(ConfigError, match="^this run was trained on in-memory data: pass the same train="):
        train_recipe(recipe, out, resume=True, **QUIET)
    out = tmp_path / "from-files"
    with pytest.raises(TrainingInterrupted):
        train_recipe(recipe, out, train=files / "train.csv", test=files / "test.csv", callbacks=[stop_at_once], **QUIET)
    assert train_recipe(recipe, out, resume=True, **QUIET)["test"]["reviews"] == 80  # the files it started with
    out = tmp_path / "damaged"
    with pytest.raises(TrainingInterrupted):
        train_recipe(recipe, out, train=files / "train.csv", callbacks=[stop_at_once], **QUIET)
    (out / "run.json").write_text("{")
    with pytest.raises(ConfigError) as info:
        train_recipe(recipe, out, resume=True, **QUIET)
    message = str(info.value)
    assert message.startswith(f"{out / 'run.json'} cannot be read (") and message.endswith("); start over with another --out")


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(files, tmp_path):
    """A run killed in its first epoch leaves its run.json and no checkpoint: --resume trains it again
    from the start, with the recipe and files it started with. A folder where no run started says so."""
    out = tmp_path / "killed"
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2})
    with pytest.raises(TrainingInterrupted):
        train_recipe(recipe, out, train=files / "train.csv", test=files / "test.csv", callbacks=[stop_at_once], **QUIET)
    (out / "checkpoint.safetensors").unlink()  # what a kill before the first checkpoint leaves
    metrics = train_recipe(load_recipe("tfidf-lr"), out, resume=True, **QUIET)  # the run's own recipe, not this
    assert metrics["recipe"] == "mean-embedding" and metrics["epochs_run"] == 2 and metrics["test"]["reviews"] == 80
    never = tmp_path / "never"
    never.mkdir()
    with pytest.raises(ConfigError) as info:
        train_recipe(recipe, never, resume=True, **QUIET)
    assert str(info.value) == f"nothing to resume in {never}: no checkpoint.safetensors (the run finished or never started)"


def test_a_run_with_relative_pairs_and_exclude_files_resumes_from_another_folder(files, tmp_path, monkeypatch):
    """`--pairs pairs.csv` and `data.exclude = held.txt`, relative to where the run started: the run
    records them as absolute paths, so `--resume` from elsewhere still reads them. The CAD names stay
    names even where a folder of that name sits (`cad/`, as the CAD files unpack)."""
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    for folder in (start / "cad", start / "cad-dev", elsewhere):
        folder.mkdir(parents=True)
    (start / "pairs.csv").write_text("text,label,pair_id\nWorth every minute,positive,1\nNot worth a minute,negative,1\n")
    (start / "held.txt").write_text("no text of the training file\n")
    monkeypatch.chdir(start)
    monkeypatch.setenv("POLARITY_CAD", str(tmp_path / "nowhere"))  # reading IMDB's pairs would fail
    imdb_pairs = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 1,
                                                "data.pairs": "cad", "data.exclude": "cad-dev"})
    lines = []
    metrics = train_recipe(imdb_pairs, tmp_path / "cad-named", train=files / "train.csv", progress=False,
                           log=lines.append)
    assert metrics["epochs_run"] == 1  # left out for own files, not read from ./cad
    assert "data.pairs = cad and data.exclude = cad-dev name IMDB's review pairs: left out for your own data " \
           "(give the CAD files' paths to use them)" in lines
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2,
                                            "data.pairs": "pairs.csv", "data.exclude": "held.txt"})
    out = tmp_path / "resumed"
    with pytest.raises(TrainingInterrupted):
        train_recipe(recipe, out, train=files / "train.csv", callbacks=[stop_at_once], **QUIET)
    monkeypatch.chdir(elsewhere)
    assert train_recipe(recipe, out, resume=True, **QUIET)["epochs_run"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["data"]["pairs"] == str(start / "pairs.csv")
    assert config["recipe"]["data"]["exclude"] == str(start / "held.txt")
    assert config["data"]["pairs"]["texts"] == 2


def test_metrics_record_the_validation_threshold_with_the_best_f1(files, tmp_path):
    """metrics.json's `best_f1_threshold`: the threshold on P(second label) that maximises F1 on the
    validation texts, as the saved model scores them (`polarity evaluate` suggests it)."""
    rows = sentiment_rows(30, 8)
    texts, labels = map(list, zip(*rows))
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 1})
    metrics = train_recipe(recipe, tmp_path / "m", train=files / "train.csv", valid=(texts, labels), **QUIET)
    probs = Predictor.load(tmp_path / "m").predict_proba(texts)[:, 1]
    truth = np.array([label == "positive" for label in labels])
    best = max(sorted(set(probs.tolist())), key=lambda threshold: f1_at(threshold, probs, truth))
    recorded = metrics["valid"]["best_f1_threshold"]
    assert recorded == {"threshold": pytest.approx(best, abs=1e-4),
                        "f1": pytest.approx(f1_at(best, probs, truth), abs=1e-4)}


def test_the_best_f1_threshold_of_a_worked_example():
    """Texts scored 0.35 and above called positive: 3 of the 3 positives and 1 false positive, F1 6/7,
    better than any other threshold (0.65: 4/5; 0.2: 3/4)."""
    from polarity.training.pipeline import best_threshold

    probs = np.array([0.1, 0.4, 0.35, 0.8, 0.65, 0.2])
    assert best_threshold(probs, np.array([0, 0, 1, 1, 1, 0])) == {"threshold": 0.35, "f1": 0.8571}
    assert best_threshold(probs, np.zeros(6, dtype=int)) is None  # one label: no F1 to maximise


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=40))
def test_the_best_f1_threshold_beats_every_other_threshold(scored):
    """Whatever the scores and however rare the positives, the recorded F1 is the F1 of calling
    positive every text scored at or above the recorded threshold, and no threshold does better."""
    from polarity.training.pipeline import best_threshold

    probs = np.array([score / 20 for score, _ in scored])
    truth = np.array([positive for _, positive in scored])
    best = best_threshold(probs, truth.astype(int))
    if truth.all() or not truth.any():
        assert best is None
        return
    assert best["f1"] == pytest.approx(f1_at(best["threshold"], probs, truth), abs=1e-4)
    assert best["f1"] == pytest.approx(max(f1_at(t, probs, truth) for t in set(probs.tolist())), abs=1e-4)


def test_a_rare_label_s_best_threshold_is_reported_with_its_own_f1():
    """3 positives in 30 texts, one ranked third and two last: calling the top three positive gives
    F1 1/3, better than finding all three (F1 2/11)."""
    from polarity.training.pipeline import best_threshold

    probs = np.linspace(1.0, 0.01, 30)
    labels = np.zeros(30, dtype=int)
    labels[[2, 28, 29]] = 1
    assert best_threshold(probs, labels) == {"threshold": round(float(probs[2]), 4), "f1": 0.3333}


def test_the_seconds_of_an_evaluation_are_its_wall_time():
    from polarity.engine.batches import EncodedSet
    from polarity.training.pipeline import evaluate_split

    def slow_predict(data):
        time.sleep(0.1)
        return np.zeros((len(data), 2))

    metrics, probs = evaluate_split(slow_predict, EncodedSet([[4, 5], [6]], np.array([0, 1])))
    assert metrics["reviews"] == 2 and 0.1 <= metrics["seconds"] < 1.0
    np.testing.assert_allclose(probs, 0.5)


def test_the_folder_records_how_its_data_was_split_and_what_trained_it(files, tmp_path):
    """The run's first line says what trains on what; config.json: the limit, validation share, seed
    and sizes of the split (0 test texts without a test file), the device, the time and the versions
    that trained it; metrics.json: the recipe's name; curves.png: the history, titled by the recipe."""
    import platform

    import torch

    import polarity
    from polarity.training.plots import plot_curves

    recipe = load_recipe("tfidf-lr", {"data.valid_fraction": 0.25, "training.seed": 7})
    lines, started = [], time.perf_counter()
    metrics = train_recipe(recipe, tmp_path / "m", train=files / "train.csv", limit=80, device="cpu", progress=False,
                           log=lines.append)
    wall = time.perf_counter() - started
    assert metrics["recipe"] == "tfidf-lr" and metrics["reported_on"] == "valid"
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["recipe"] == "tfidf-lr"
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    data = config["data"]
    assert data["sizes"] == {"fit": 60, "valid": 20, "test": 0}  # 80 texts read, a quarter validates
    assert (data["limit"], data["valid_fraction"], data["seed"]) == (80, 0.25, 7)
    assert config["versions"] == {"polarity": polarity.__version__, "torch": torch.__version__,
                                  "numpy": np.__version__, "python": platform.python_version()}
    assert config["training"]["device"] == "cpu" and 0 <= config["training"]["seconds"] <= round(wall, 1)
    assert lines[0] == ("fitting tfidf-lr on 60 texts (validation 20, no test set: final report on validation), "
                        "2 labels, device cpu")  # its size comes once fitted
    plot_curves(json.loads((tmp_path / "m" / "history.json").read_text()), tmp_path / "curves.png", title="tfidf-lr")
    assert (tmp_path / "m" / "curves.png").read_bytes() == (tmp_path / "curves.png").read_bytes()

    lines.clear()
    frozen = {"data.num_words": 200, "training.epochs": 1, "model.freeze_embedding": True}
    train_recipe(load_recipe("mean-embedding", frozen), tmp_path / "t", train=files / "train.csv",
                 test=files / "test.csv", device="cpu", progress=False, log=lines.append)
    parameters = ModelFolder(tmp_path / "t").config().parameters["total"]  # the frozen embedding's too, as Keras
    assert (f"training mean-embedding on 180 texts (validation 20, test 80), 2 labels, {parameters:,} parameters, "
            "device cpu") in lines


def test_limit_samples_a_given_validation_set_too_and_the_command_is_recorded(files, tmp_path, monkeypatch):
    """--limit N reads N training texts and N x data.valid_fraction validation texts, from a --valid
    file too; config.json records the command line that trained the model."""
    texts, labels = map(list, zip(*sentiment_rows(30, 8)))
    monkeypatch.setattr("sys.argv", ["polarity", "train", "mean-embedding", "--limit", "40"])
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 1})
    metrics = train_recipe(recipe, tmp_path / "m", train=files / "train.csv", valid=(texts, labels), limit=40, **QUIET)
    assert metrics["valid"]["reviews"] == 4 and metrics["limited_to"] == 40
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["data"]["sizes"]["fit"] == 40
    assert config["training"]["command"] == "polarity train mean-embedding --limit 40"


def test_a_validation_file_is_read_with_the_training_files_columns_and_labels(tmp_path):
    """--valid FILE reads like --train FILE: the same --text-column and --label-column, the training
    labels' ids (a validation file of one label keeps its own), a label training lacks refused; a
    --limit draws from it with the recipe's seed, at least one text."""
    from polarity.training.pipeline import prepare_data

    def table(name: str, rows) -> str:  # column names no reader guesses
        stars = [(text, 5 if label == "positive" else 1) for text, label in rows]
        return str(write_csv(tmp_path / name, stars, header=("said", "stars_given")))

    train, test = table("train.csv", sentiment_rows(60, 5)), table("test.csv", sentiment_rows(20, 7))
    valid_rows = [row for row in sentiment_rows(40, 6) if row[1] == "positive"][:11]
    valid = table("valid.csv", valid_rows)
    columns = dict(text_column="said", label_column="stars_given")
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2})
    metrics = train_recipe(recipe, tmp_path / "m", train=train, valid=valid, **columns, **QUIET)
    said = Predictor.load(tmp_path / "m").predict([text for text, _ in valid_rows])
    assert metrics["labels"] == [1, 5] and metrics["valid"]["reviews"] == 11
    assert metrics["valid"]["accuracy"] == pytest.approx(np.mean([label == 5 for label in said]), abs=1e-4)
    three = write_csv(tmp_path / "three.csv", [("So-so.", 3)], header=("said", "stars_given"))
    with pytest.raises(DataError, match=r"unknown label 3; the known labels are \[1, 5\]"):
        prepare_data(recipe, train=train, valid=str(three), **columns)

    def limited(seed: int):
        splits = prepare_data(recipe.with_overrides({"training.seed": seed}), train=train, valid=valid, test=test,
                              limit=4, **columns)
        return splits.fit.texts, splits.valid.texts, splits.test.texts

    again = limited(1)
    assert limited(1) == again and [len(part) for part in again] == [4, 1, 4]  # 4 x valid_fraction 0.1: one
    assert all(a != b for a, b in zip(limited(2), again) if len(a) > 1)


def test_without_validation_texts_the_epochs_are_judged_by_their_training_accuracy(files, tmp_path):
    """``data.valid_fraction = 0`` with a test file: no validation metrics in the history (not NaN),
    the best epoch by training accuracy, the report on the test file."""
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 3, "data.valid_fraction": 0.0})
    metrics = train_recipe(recipe, tmp_path / "m", train=files / "train.csv", test=files / "test.csv", **QUIET)
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert [sorted(row) for row in history] == [["accuracy", "epoch", "loss", "seconds"]] * 3
    accuracies = [row["accuracy"] for row in history]
    assert metrics["best_epoch"] == accuracies.index(max(accuracies)) + 1
    assert metrics["reported_on"] == "test" and "valid" not in metrics
    train_recipe(load_recipe("tfidf-lr", {"data.valid_fraction": 0.0}), tmp_path / "lr", train=files / "train.csv",
                 test=files / "test.csv", **QUIET)
    history = json.loads((tmp_path / "lr" / "history.json").read_text())  # fitted in closed form: one row
    assert [sorted(row) for row in history] == [["accuracy", "epoch", "features", "loss", "seconds"]]


def test_the_train_command_says_which_split_its_accuracy_is_on(files, tmp_path, capsys):
    common = ["train", "mean-embedding", "--train", str(files / "train.csv"), "--set", "data.num_words=200",
              "--epochs", "1", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "v")]) == 0
    line = capsys.readouterr().out
    assert line.startswith("validation (no --test file given) accuracy: ") and "% on 20 texts" in line
    assert main([*common, "--test", str(files / "test.csv"), "--out", str(tmp_path / "t")]) == 0
    line = capsys.readouterr().out
    assert line.startswith("test accuracy: ") and "% on 80 texts" in line and line.endswith(f"model folder: {tmp_path / 't'}\n")


def test_data_that_cannot_make_a_run_says_what_to_give(files, tmp_path):
    recipe = load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 1})
    texts, labels = map(list, zip(*sentiment_rows(10, 8)))
    with pytest.raises(ConfigError) as info:
        train_recipe(recipe, tmp_path / "m", valid=(texts, labels), **QUIET)
    assert str(info.value) == "--valid and --test go with --train FILE (without it, the IMDB splits are used)"
    with pytest.raises(ConfigError) as info:
        train_recipe(recipe.with_overrides({"data.valid_fraction": 0.0}), tmp_path / "m", train=files / "train.csv",
                     **QUIET)
    assert str(info.value) == ("no validation texts (200 training texts, data.valid_fraction = 0.0) and no test set: "
                               "nothing would measure the model; raise the fraction or the limit, or give --valid or "
                               "--test")
    with pytest.raises(ConfigError) as info:  # 4 x 0.1 rounds to no validation text
        train_recipe(recipe, tmp_path / "m", train=files / "train.csv", limit=4, **QUIET)
    assert str(info.value) == ("no validation texts (4 training texts, data.valid_fraction = 0.1, --limit 4) and no "
                               "test set: nothing would measure the model; raise the fraction or the limit, or give "
                               "--valid or --test")

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from polarity.cli import main
from polarity.data import load_imdb
from polarity.errors import ConfigError
from polarity.models.folder import ModelFolder
from polarity.training import TrainingInterrupted, load_recipe, train_recipe
from polarity.training.recipes import parse_assignment

from conftest import step_loop_clock


@pytest.fixture(scope="module")
def corpus(sentiment_archive):
    return load_imdb(sentiment_archive, strict=False)


def tiny_recipe(**overrides):
    base = {"data.num_words": 100, "data.maxlen": 60, "data.valid_fraction": 0.2, "model.embedding_dim": 16,
            "model.units": 16, "model.embedding_dropout": 0.0, "model.output_dropout": 0.0,
            "training.batch_size": 16, "training.epochs": 3, "training.lr": 0.03}
    base.update(overrides)
    return load_recipe("lstm-dropout", base)


def run(recipe, folder, corpus, **kwargs):
    return train_recipe(recipe, folder, corpus=corpus, progress=False, log=lambda *a: None, **kwargs)


def test_trained_lstm_separates_clear_reviews_and_writes_its_folder(tmp_path, corpus):
    from safetensors import safe_open

    folder = tmp_path / "runs" / "2026" / "m"  # folders that do not exist yet are made
    metrics = run(tiny_recipe(**{"training.epochs": 8}), folder, corpus)
    assert metrics["test"]["accuracy"] >= 0.9 and metrics["test"]["reviews"] == 240
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json", "history.json", "history.csv", "curves.png"} <= names
    assert "checkpoint.safetensors" not in names
    assert json.loads((folder / "config.json").read_text())["data"]["dataset"] == "imdb"
    history = json.loads((folder / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, 9))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(history[0])
    assert metrics["seconds_per_epoch"] == pytest.approx(np.mean([row["seconds"] for row in history]), abs=0.006)
    loaded = ModelFolder(folder).load()
    model, config, encoder = loaded.model, loaded.config, loaded.encoder
    assert config.parameters["total"] == sum(p.numel() for p in model.parameters())
    assert encoder.vocab_size == min(100, len(encoder.vocab) + 4) and encoder.maxlen == 60
    assert config.labels == ["negative", "positive"]
    with safe_open(folder / "model.safetensors", "pt") as weights:  # the file says what wrote it
        assert weights.metadata() == {"format": "polarity.model/1"}


def test_mean_embedding_and_exact_batching_learn_too(tmp_path, corpus):
    recipe = load_recipe("mean-embedding", {"data.num_words": 100, "data.maxlen": 60, "training.epochs": 20,
                                            "training.lr": 0.05, "training.batching": "exact"})
    assert run(recipe, tmp_path / "mean", corpus)["test"]["accuracy"] >= 0.9


def test_same_seed_same_metrics(tmp_path, corpus):
    a = run(tiny_recipe(), tmp_path / "a", corpus)
    b = run(tiny_recipe(), tmp_path / "b", corpus)
    assert a["test"] == {**b["test"], "seconds": a["test"]["seconds"]}
    c = run(tiny_recipe(**{"training.seed": 1}), tmp_path / "c", corpus)
    assert c["test"]["loss"] != a["test"]["loss"]


@pytest.mark.parametrize("stop_at, shards", [(5, 1), (12, 1), (5, 2)])  # mid-epoch, near an epoch boundary
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, corpus, stop_at, shards):
    recipe = tiny_recipe(**{"model.recurrent_dropout": 0.2, "model.input_dropout": 0.1, "model.embedding_dropout": 0.2,
                            "training.shards": shards})
    batches = {"straight": 0, "stopped": 0, "resumed": 0}

    def counter(name):
        def count(trainer, state):
            batches[name] += 1
        return count

    run(recipe, tmp_path / "straight", corpus, callbacks=[counter("straight")])

    def stop(trainer, state):
        if state.epoch * 1000 + state.batch == stop_at:
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted):
        run(recipe, tmp_path / "resumed", corpus, callbacks=[counter("stopped"), stop])
    assert (tmp_path / "resumed" / "checkpoint.safetensors").is_file()
    with pytest.raises(ConfigError, match="--resume"):
        run(recipe, tmp_path / "resumed", corpus)
    run(recipe, tmp_path / "resumed", corpus, resume=True, callbacks=[counter("resumed")])
    assert 0 < batches["stopped"] < batches["straight"]  # the resumed run did only what was left
    assert batches["stopped"] + batches["resumed"] == batches["straight"]
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    for name, tensor in straight.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=0)
    assert json.loads((tmp_path / "resumed" / "history.json").read_text())[-1]["loss"] == pytest.approx(
        json.loads((tmp_path / "straight" / "history.json").read_text())[-1]["loss"])
    with pytest.raises(ConfigError, match="nothing to resume"):
        run(recipe, tmp_path / "resumed", corpus, resume=True)


def test_shards_compute_the_batch_gradient_that_one_process_computes(tmp_path, corpus):
    """training.shards splits each batch over threads, each part's loss weighed by its share of the
    batch: without dropout, the same weights and the same reported loss and accuracy as one process."""
    no_dropout = {"model.recurrent_dropout": 0.0, "model.input_dropout": 0.0, "training.epochs": 2,
                  "training.batching": "exact"}  # (bucketed, each part is padded to its own longest review)
    one = run(tiny_recipe(**no_dropout), tmp_path / "one", corpus)
    two = run(tiny_recipe(**no_dropout, **{"training.shards": 2}), tmp_path / "two", corpus)
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, rtol=1e-4, atol=1e-5)
    rows = [json.loads((tmp_path / k / "history.json").read_text()) for k in ("one", "two")]
    for first, second in zip(*rows):
        assert second["loss"] == pytest.approx(first["loss"], rel=1e-4)
        assert second["accuracy"] == first["accuracy"]
    assert two["test"]["accuracy"] == one["test"]["accuracy"]


@pytest.mark.parametrize("accumulator", [0.0, 0.25])  # 0: standalone Keras 2.2's Adagrad (the GloVe notebook)
def test_adagrad_starts_from_the_recipes_initial_accumulator(tmp_path, corpus, accumulator):
    starts = []

    def after_each_batch(trainer, state):
        starts.extend(group["initial_accumulator_value"] for group in trainer.optimizer.param_groups)

    recipe = tiny_recipe(**{"training.optimizer": "adagrad", "training.initial_accumulator": accumulator,
                            "training.epochs": 1})
    run(recipe, tmp_path / "m", corpus, callbacks=[after_each_batch], limit=40)
    assert starts and set(starts) == {accumulator}


def test_a_recipe_can_score_the_test_reviews_after_every_epoch(tmp_path, corpus):
    """As the Keras notebooks did (validation_data = the test set): the last row is the final model's test score."""
    recipe = tiny_recipe(**{"training.epochs": 2, "training.eval_test_each_epoch": True, "training.restore_best": False})
    metrics = run(recipe, tmp_path / "m", corpus)
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert all({"test_loss", "test_accuracy"} <= set(row) for row in history)
    assert history[-1]["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert history[-1]["test_loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-4)
    run(tiny_recipe(**{"training.epochs": 1}), tmp_path / "plain", corpus)  # by default, it does not
    assert "test_accuracy" not in json.loads((tmp_path / "plain" / "history.json").read_text())[0]


def test_exact_batching_reports_the_metrics_of_the_model_it_saves(tmp_path):
    """Every batch padded to maxlen, in training and in its scores: the folder predicts what metrics.json says."""
    from sklearn.metrics import log_loss

    from conftest import synthetic_reviews
    from polarity.inference import Predictor

    train = synthetic_reviews(60, True, 0) + synthetic_reviews(60, False, 1)
    test = synthetic_reviews(20, True, 2) + synthetic_reviews(20, False, 3)
    labels, test_labels = [1] * 60 + [0] * 60, np.array([1] * 20 + [0] * 20)
    recipe = tiny_recipe(**{"training.batching": "exact", "training.epochs": 1, "data.maxlen": 20})
    metrics = train_recipe(recipe, tmp_path / "m", train=(train, labels), test=(test, test_labels.tolist()),
                           progress=False, log=lambda *a: None)
    probs = Predictor.load(tmp_path / "m").predict_proba(test)[:, 1]
    assert metrics["test"]["loss"] == pytest.approx(log_loss(test_labels, probs), rel=1e-6)


def test_early_stopping_and_limit(tmp_path, corpus):
    recipe = tiny_recipe(**{"training.epochs": 30, "training.early_stopping": 1})
    metrics = run(recipe, tmp_path / "es", corpus, limit=100)
    assert metrics["epochs_run"] < 30
    assert metrics["test"]["reviews"] == 100 and metrics["limited_to"] == 100


def test_recipes_overrides_and_errors(tmp_path):
    recipe = load_recipe("default", {"epochs": 7, "model.units": 3})
    assert recipe.training.epochs == 7 and recipe.model["units"] == 3 and recipe.extends == "bilstm-hybrid"
    assert parse_assignment("model.units=64") == ("model.units", 64)
    assert parse_assignment("training.optimizer=adagrad") == ("training.optimizer", "adagrad")
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_recipe("nope")
    with pytest.raises(ConfigError, match="batching must be one of"):
        load_recipe("default", {"training.batching": "fast"})
    with pytest.raises(ConfigError, match="epochs must be a positive integer"):
        load_recipe("default", {"epochs": 0})
    custom = tmp_path / "mine.toml"
    custom.write_text('extends = "mean-embedding"\nname = "mine"\n[training]\nepochs = 1\n')
    assert load_recipe(str(custom)).model["type"] == "mean-embedding"


def test_cli_recipes_summary_and_train(tmp_path, sentiment_archive, capsys):
    assert main(["recipes", "--json"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert {"glove-lstm", "lstm-dropout", "lstm-600", "lstm-20k", "mean-embedding", "lstm-128", "default"} <= names
    assert main(["summary", "lstm-dropout", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 213_301
    out = tmp_path / "cli-model"
    code = main(["train", "lstm-128", "--data", str(sentiment_archive), "--no-strict", "--out", str(out), "--quiet",
                 "--epochs", "2", "--num-words", "100", "--maxlen", "60", "--set", "model.units=8", "--lr", "0.01"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "test accuracy:" in printed and str(out) in printed
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["model"]["units"] == 8 and config["recipe"]["training"]["epochs"] == 2
    assert main(["train", "nope", "--data", str(sentiment_archive)]) == 1


def test_the_recipes_table_shows_each_recipes_data_model_training_and_reported_figure(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["recipe", "nb", "words", "maxlen", "model", "training", "reported"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["glove-lstm"].split() == ["glove-lstm", "000", "GloVe", "250", "lstm", "64,", "emb", "50", "(GloVe,",
                                          "frozen)", "adagrad,", "batch", "100,", "1", "ep", "75.73", "%"]
    assert rows["lstm-20k"].endswith("per epoch 85.13, 84.88, 82.54, 83.15, 82.93")
    assert rows["default"].startswith("default -> bilstm-hybrid ") and rows["nbsvm"].split()[1:4] == ["all", "-", "nbsvm"]
    assert rows["lstm-dropout"].split()[1:4] == ["001", "5,000", "500"] and rows["nbsvm"].endswith("none")


def test_training_flags_given_as_zero_override_the_recipe():
    """``--maxlen 0`` (read every word), ``--num-words 0``, ``--early-stopping 0`` and ``--seed 0``
    are settings, not absent flags."""
    from polarity.cli import build_parser
    from polarity.cli.common import overrides

    args = build_parser().parse_args(["train", "--maxlen", "0", "--num-words", "0", "--early-stopping", "0",
                                      "--seed", "0", "--valid-fraction", "0"])
    assert overrides(args) == {"data.maxlen": 0, "data.num_words": 0, "training.early_stopping": 0, "training.seed": 0,
                               "data.valid_fraction": 0.0}


def test_summary_prints_the_table_keras_prints(capsys):
    """Notebook 001's model.summary(), with Keras's column widths (Dense names its activation)."""
    assert main(["summary", "lstm-dropout"]) == 0
    assert capsys.readouterr().out == """\
Model: "lstm-dropout"
Layer (type)                        Output Shape               Param #
======================================================================
embedding (Embedding)               (None, 500, 32)            160,000
dropout (Dropout)                   (None, 500, 32)                  0
lstm (LSTM)                         (None, 100)                 53,200
dropout_1 (Dropout)                 (None, 100)                      0
dense (Dense(sigmoid))              (None, 1)                      101
======================================================================
Total params: 213,301
Trainable params: 213,301
Non-trainable params: 0
"""


def test_summary_counts_a_frozen_embedding_as_non_trainable(capsys):
    """As Keras's summary of notebook 000's frozen GloVe layer: the embedding's weights are counted,
    in its row and in the totals, as parameters that do not train."""
    assert main(["summary", "lstm-dropout", "--set", "model.freeze_embedding=true", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(row["layer"], row["params"], row["trainable"]) for row in data["layers"]] == [
        ("embedding", 160_000, 0), ("dropout", 0, 0), ("lstm", 53_200, 53_200), ("dropout_1", 0, 0), ("dense", 101, 101)]
    assert (data["total"], data["trainable"]) == (213_301, 53_301)
    assert main(["summary", "lstm-dropout", "--set", "model.freeze_embedding=true"]) == 0
    assert capsys.readouterr().out.endswith("Total params: 213,301\nTrainable params: 53,301\nNon-trainable params: 160,000\n")


@pytest.mark.parametrize("name", ["mean-embedding", "lstm-hybrid", "nbsvm", "tfidf-lr", "lstm-128"])
def test_summary_rows_add_up_to_the_totals(name, sentiment_archive, capsys):
    """`polarity summary`: each layer's parameters where they are (an n-gram table is fitted, not trained:
    the linear layer holds the weights), adding up to the totals; names never run into the shapes."""
    assert main(["summary", name, "--data", str(sentiment_archive), "--no-strict", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(row["params"] for row in data["layers"]) == data["total"] > 0
    assert sum(row["trainable"] for row in data["layers"]) == data["trainable"] == data["total"]
    for row in data["layers"]:
        if row["type"].endswith("-grams"):
            assert row["params"] == 0 and row["output_shape"] == [None, None]  # sized by fitting
    assert main(["summary", name, "--data", str(sentiment_archive), "--no-strict"]) == 0
    rows = capsys.readouterr().out.splitlines()[3:3 + len(data["layers"])]
    for row, line in zip(data["layers"], rows):
        label, _, rest = line.partition(f"({row['type']})")
        assert label == f"{row['layer']} " and rest.startswith(" ") and rest.rstrip().endswith(f"{row['params']:,}"), line


def keras_rnn_params(cell: str, inputs: int, units: int, layers: int, directions: int) -> int:
    """Keras's count: LSTM 4 gates and one bias, GRU (reset_after) 3 gates and two biases, per direction."""
    gates, biases = (4, 1) if cell == "lstm" else (3, 2)
    total = 0
    for _ in range(layers):
        total += directions * gates * (inputs * units + units * units + biases * units)
        inputs = directions * units
    return total


@pytest.mark.parametrize(("recipe", "settings", "expected"), [
    ("lstm-dropout", [], [("embedding", "Embedding", [None, 500, 32], 160_000), ("dropout", "Dropout", [None, 500, 32], 0),
                          ("lstm", "LSTM", [None, 100], keras_rnn_params("lstm", 32, 100, 1, 1)),
                          ("dropout_1", "Dropout", [None, 100], 0), ("dense", "Dense(sigmoid)", [None, 1], 101)]),
    ("lstm-dropout", ["model.cell=gru", "model.bidirectional=true", "model.layers=2", "model.pooling=max-mean"],
     [("embedding", "Embedding", [None, 500, 32], 160_000), ("dropout", "Dropout", [None, 500, 32], 0),
      ("gru", "GRU (bidirectional) x2", [None, 500, 200], keras_rnn_params("gru", 32, 100, 2, 2)),
      ("pooling", "Max-mean over time", [None, 400], 0), ("dropout_1", "Dropout", [None, 400], 0),
      ("dense", "Dense(sigmoid)", [None, 1], 401)]),
    ("lstm-128", ["model.pooling=mean"], [("embedding", "Embedding", [None, 100, 32], 160_000),
                                          ("lstm", "LSTM", [None, 100, 128], keras_rnn_params("lstm", 32, 128, 1, 1)),
                                          ("pooling", "Mean over time", [None, 128], 0),
                                          ("dense", "Dense(sigmoid)", [None, 1], 129)]),
])
def test_recurrent_summaries_give_keras_shapes_and_counts(recipe, settings, expected, capsys):
    argv = [arg for setting in settings for arg in ("--set", setting)]
    assert main(["summary", recipe, *argv, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["layers"]
    assert [(r["layer"], r["type"], r["output_shape"], r["params"]) for r in rows] == expected
    assert all(type(size) is int for r in rows for size in r["output_shape"][1:])  # 200, never 200.0


def test_ngram_and_hybrid_summaries_name_their_layers(sentiment_archive, capsys):
    """Before fitting, an n-gram table's size is unknown (None); the hybrid's rows are its RNN's, its
    n-gram model's and the mix, each named by its part."""
    def layers(name: str) -> list[tuple]:
        assert main(["summary", name, "--data", str(sentiment_archive), "--no-strict", "--json"]) == 0
        return [(r["layer"], r["type"], r["output_shape"]) for r in json.loads(capsys.readouterr().out)["layers"]]

    assert layers("nbsvm") == [("ngrams", "NB-scaled binary 1-2-grams", [None, None]),
                               ("linear", "Linear (sigmoid)", [None, 1])]
    assert layers("tfidf-lr") == [("ngrams", "TF-IDF 1-2-grams", [None, None]), ("linear", "Linear (sigmoid)", [None, 1])]
    hybrid = layers("lstm-hybrid")
    assert [row[0] for row in hybrid] == [
        "rnn/embedding", "rnn/dropout", "rnn/lstm", "rnn/dropout_1", "rnn/dense", "ngrams/ngrams", "ngrams/linear", "mix"]
    assert hybrid[-1] == ("mix", "Linear(2 logits) (sigmoid)", [None, 1])
    from polarity.models import build_model

    [*_, linear] = build_model({"type": "tfidf-lr"}, vocab_size=10, num_outputs=3).summary(None)
    assert (linear["layer"], linear["type"], linear["output_shape"], linear["params"]) == (
        "linear", "Linear (softmax)", (None, 3), 3)


def test_mean_embedding_summary_is_the_notebooks_model(capsys):
    assert main(["summary", "mean-embedding", "--json"]) == 0
    layers = [(r["layer"], r["type"], r["output_shape"], r["params"]) for r in json.loads(capsys.readouterr().out)["layers"]]
    assert layers == [("embedding", "Embedding", [None, 100, 32], 160_000), ("mean", "Mean over time", [None, 32], 0),
                      ("dense", "Dense(sigmoid)", [None, 1], 33)]


def test_pretrained_vectors_report_the_share_of_words_and_tokens_they_cover(tmp_path):
    """A Stanford-format vectors file covering good, bad and plot of five training words: 3/5 of the words,
    40/70 of the tokens; the model keeps only covered words, all of which then have a vector."""
    rows = {"good": 0.1, "bad": -0.1, "plot": 0.2, "zebra": 0.3}
    vectors = tmp_path / "vectors.50d.txt"
    vectors.write_text("".join(f"{word} {' '.join([str(value)] * 50)}\n" for word, value in rows.items()))
    texts, labels = ["good good film", "bad film", "dull plot"] * 10, ["pos", "neg", "neg"] * 10
    recipe = load_recipe("glove-lstm", {"model.pretrained": str(vectors), "training.epochs": 1, "model.units": 4,
                                        "training.batch_size": 10})
    lines: list[str] = []
    train_recipe(recipe, tmp_path / "model", train=(texts, labels), test=(texts, labels), progress=False,
                 log=lines.append)
    coverage = json.loads((tmp_path / "model" / "config.json").read_text())["pretrained_coverage"]
    assert (coverage["words"], coverage["word_coverage"], coverage["token_coverage"]) == (5, 0.6, round(40 / 70, 4))
    assert coverage["model_vocabulary"]["word_coverage"] == 1.0
    assert "pretrained vectors cover 60.0% of the 5 training words and 57.1% of the training tokens; " \
           "100.0% of the model's vocabulary has a vector" in lines


def test_ctrl_c_leaves_a_checkpoint_that_the_cli_resumes(tmp_path, corpus, sentiment_archive, capsys):
    import os
    import signal

    recipe = tiny_recipe(**{"training.epochs": 2})
    run(recipe, tmp_path / "straight", corpus)

    def press_ctrl_c(trainer, state):
        if state.epoch == 0 and state.batch == 4:
            os.kill(os.getpid(), signal.SIGINT)  # the handler asks the loop to stop after this batch

    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    with pytest.raises(TrainingInterrupted) as stopped:
        run(recipe, tmp_path / "resumed", corpus, callbacks=[press_ctrl_c])
    checkpoint = tmp_path / "resumed" / "checkpoint.safetensors"
    assert str(stopped.value) == f"training interrupted; resume with --resume (checkpoint {checkpoint})"
    assert stopped.value.checkpoint == checkpoint
    assert signal.getsignal(signal.SIGINT) == before  # handler restored
    code = main(["train", "--out", str(tmp_path / "resumed"), "--resume", "--data", str(sentiment_archive), "--no-strict", "--quiet"])
    assert code == 0 and "test accuracy" in capsys.readouterr().out
    straight = load_file(tmp_path / "straight" / "model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.equal(resumed[k], v) for k, v in straight.items())


def _stopped_run(recipe, folder, corpus, at_batch: int = 3):
    def stop(trainer, state):
        if state.batch == at_batch:
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted):
        run(recipe, folder, corpus, callbacks=[stop])
    return folder / "checkpoint.safetensors"


def _rewrite_state(checkpoint, change) -> None:
    """The checkpoint with its JSON state changed by ``change(state)``."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(checkpoint), framework="pt") as handle:
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        state = json.loads(handle.metadata()["polarity_state"])
    change(state)
    save_file(tensors, str(checkpoint), metadata={"polarity_state": json.dumps(state)})


def test_a_checkpoint_from_more_processes_is_refused_by_name(tmp_path, corpus):
    recipe = tiny_recipe(**{"training.epochs": 1})
    checkpoint = _stopped_run(recipe, tmp_path / "m", corpus)
    _rewrite_state(checkpoint, lambda state: state.update(world_size=2))
    with pytest.raises(ConfigError) as error:
        run(recipe, tmp_path / "m", corpus, resume=True)
    assert str(error.value) == f"{checkpoint} was written by 2 process(es); resume it with as many (now 1)"


def test_a_checkpoint_written_before_the_loops_were_one_resumes_exactly(tmp_path, corpus):
    """Older checkpoints name the batch ``step`` and the items seen ``seen_windows``, and hold no
    ``world_size`` (one process): they resume where they stopped."""
    recipe = tiny_recipe(**{"training.epochs": 1})
    run(recipe, tmp_path / "straight", corpus)
    checkpoint = _stopped_run(recipe, tmp_path / "old", corpus)

    def older(state):
        state["step"], state["seen_windows"] = state.pop("batch"), state.pop("seen")
        del state["world_size"]

    _rewrite_state(checkpoint, older)
    run(recipe, tmp_path / "old", corpus, resume=True)
    straight, old = (load_file(tmp_path / name / "model.safetensors") for name in ("straight", "old"))
    assert all(torch.equal(old[k], v) for k, v in straight.items())
    loss = [json.loads((tmp_path / name / "history.json").read_text())[0]["loss"] for name in ("straight", "old")]
    assert loss[1] == pytest.approx(loss[0])


def test_each_epoch_row_gives_its_own_seconds_to_the_hundredth(tmp_path, corpus, monkeypatch):
    """On a clock that moves 0.1234 s each time the loop reads it (at an epoch's start, after each
    step, at its end), an epoch of N steps took (N + 1) x 0.1234 s, written to the hundredth."""
    step_loop_clock(monkeypatch, 0.1234, start=1000.0)
    steps = {}

    def count(trainer, state):
        steps[state.epoch] = state.batch

    run(tiny_recipe(), tmp_path / "m", corpus, callbacks=[count])
    seconds = [row["seconds"] for row in json.loads((tmp_path / "m" / "history.json").read_text())]
    assert seconds == [round((steps[epoch] + 1) * 0.1234, 2) for epoch in range(3)]


def test_the_running_metrics_after_one_text_are_that_texts(tmp_path, corpus):
    """With batches of one text, the running loss and accuracy after each epoch's first step are that text's."""
    first = []

    def record(loop, state):
        if state.batch == 1:
            first.append((state.running(), state.loss_sum, state.correct, state.seen))

    run(tiny_recipe(**{"training.epochs": 4, "training.batch_size": 1}), tmp_path / "m", corpus, callbacks=[record],
        limit=20)
    for running, loss, correct, seen in first:
        assert seen == 1 and running == {"loss": pytest.approx(loss), "accuracy": float(correct)}
    assert any(correct == 1 for _, _, correct, _ in first)  # (a first text right: where 1 and 2 differ)


def test_training_runs_in_a_thread_other_than_the_main_one(tmp_path, corpus):
    """Ctrl-C handling is for the main thread; elsewhere (a worker thread) training runs without it."""
    import threading

    errors = []

    def train():
        try:
            run(tiny_recipe(**{"training.epochs": 1}), tmp_path / "m", corpus)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    assert errors == [] and (tmp_path / "m" / "model.safetensors").is_file()


@pytest.mark.real_data
def test_mean_embedding_on_the_full_dataset(real_archive, tmp_path):
    """The whole pipeline on the real 25,000 + 25,000 reviews; the notebook reports 83.32 % after 3 epochs."""
    metrics = train_recipe(load_recipe("mean-embedding", {"epochs": 2}), tmp_path / "real", data=str(real_archive),
                           progress=False, log=lambda *a: None)
    assert metrics["test"]["reviews"] == 25_000
    assert metrics["test"]["accuracy"] > 0.80


def test_bfloat16_mixed_precision_learns_and_keeps_float32_weights(tmp_path, corpus):
    """On a CPU without bfloat16 LSTM kernels (AVX2 only) the run warns and trains in float32."""
    from polarity.engine import bfloat16_supported

    recipe = tiny_recipe(**{"training.epochs": 8, "training.precision": "bfloat16"})
    if bfloat16_supported("cpu"):
        metrics = run(recipe, tmp_path / "bf16", corpus)
    else:
        with pytest.warns(RuntimeWarning, match="float32"):
            metrics = run(recipe, tmp_path / "bf16", corpus)
        float32 = run(tiny_recipe(**{"training.epochs": 8}), tmp_path / "f32", corpus)
        assert metrics["test"] == {**float32["test"], "seconds": metrics["test"]["seconds"]}
    assert metrics["test"]["accuracy"] >= 0.9
    model = ModelFolder(tmp_path / "bf16").load().model
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    with pytest.raises(ConfigError, match="precision"):
        tiny_recipe(**{"training.precision": "float16"})


def test_sharded_batches_learn_reproducibly(tmp_path, corpus):
    recipe = tiny_recipe(**{"training.epochs": 8, "training.shards": 2, "model.embedding_dropout": 0.2})
    threads = torch.get_num_threads()
    a = run(recipe, tmp_path / "a", corpus)
    b = run(recipe, tmp_path / "b", corpus)
    assert a["test"]["accuracy"] >= 0.9
    assert a["test"] == {**b["test"], "seconds": a["test"]["seconds"]}
    assert torch.get_num_threads() == threads  # the workers' single thread does not leak
    with pytest.raises(ConfigError, match="shards"):
        tiny_recipe(**{"training.shards": 0})


def test_split_batch_deals_reviews_out_by_length():
    from polarity.training.steps import split_batch

    indices = np.array([10, 11, 12, 13, 14])
    parts = split_batch(indices, [50, 10, 40, 20, 30], 2)
    assert [p.tolist() for p in parts] == [[11, 14, 10], [13, 12]]  # lengths 10, 30, 50 and 20, 40
    assert [p.tolist() for p in split_batch(indices[:1], [5], 3)] == [[10]]  # no empty shards


# Fresh processes: the thread settings under test are process-wide and set once.
PREDICT_BETWEEN_STEPS = """
import hashlib, sys
from pathlib import Path
import numpy as np, torch
from polarity.models.folder import model_options
from polarity.models.registry import build_model
from polarity.training import load_recipe
from polarity.engine import EncodedSet, predict_logits
from polarity.training.loop import make_optimizer
from polarity.training.trainer import Trainer
rng = np.random.default_rng(0)
data = EncodedSet([list(rng.integers(1, 5000, rng.integers(150, 500))) for _ in range(640)],
                  rng.integers(0, 2, 640).astype(np.int8))
recipe = load_recipe("lstm-dropout")
torch.manual_seed(0)
model = build_model(model_options(recipe.model, 500), vocab_size=5000)
trainer = Trainer(model, make_optimizer("adam", model.parameters(), 1e-3), data, None, training=recipe.training,
                  maxlen=500, device=torch.device("cpu"), checkpoint=Path("unused"), progress=False)
batches = trainer.epoch_batches(0)
for b in batches[:5]:
    trainer.train_step(b)
predict_logits(model, data, batching="bucketed", maxlen=500, device=torch.device("cpu"), workers=int(sys.argv[1]) or None)
for b in batches[5:10]:
    trainer.train_step(b)
print(hashlib.sha1(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest())
"""


def test_prediction_workers_leave_later_training_unchanged():
    def weights_after(workers: int) -> str:
        done = subprocess.run([sys.executable, "-c", PREDICT_BETWEEN_STEPS, str(workers)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert weights_after(0) == weights_after(1)  # side by side (validation) vs in turn


def test_adam_and_adagrad_use_fused_kernels_on_cpu():
    # The unfused CPU Adam gave a different first update in about 1 process in 20 (PERFORMANCE.md, experiment 14).
    from polarity.training.loop import make_optimizer

    params = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2), requires_grad=False)]
    for name in ("adam", "adagrad"):
        optimizer = make_optimizer(name, params, 0.01)
        assert optimizer.defaults["fused"] is True
        assert len(optimizer.param_groups[0]["params"]) == 1  # frozen parameters are left out
    assert isinstance(make_optimizer("rmsprop", params, 0.01), torch.optim.RMSprop)


def test_a_checkpoint_that_cannot_be_resumed_says_why_and_what_to_do(tmp_path):
    from safetensors.torch import save_file

    from polarity.training.checkpoint import load_checkpoint, save_checkpoint

    start_over = "delete it (or choose another --out) and train again without --resume"
    path = tmp_path / "checkpoint.safetensors"
    with pytest.raises(ConfigError) as missing:
        load_checkpoint(path)
    assert str(missing.value) == f"no checkpoint to resume from at {path}"

    save_checkpoint(path, {"w": torch.ones(2)}, {"epoch": 1})
    tensors, state = load_checkpoint(path)
    assert state == {"epoch": 1} and torch.equal(tensors["w"], torch.ones(2))
    path.write_bytes(path.read_bytes()[:-5])  # cut short, as by a full disk
    with pytest.raises(ConfigError, match=r" is damaged or not a checkpoint \(.+\); " + re.escape(start_over)) as damaged:
        load_checkpoint(path)
    assert str(damaged.value).startswith(str(path))

    save_file({"w": torch.ones(2)}, str(path))  # safetensors, but not polarity's
    with pytest.raises(ConfigError) as foreign:
        load_checkpoint(path)
    assert str(foreign.value) == f"{path} is not a polarity checkpoint; {start_over}"

    save_file({"w": torch.ones(2)}, str(path), metadata={"polarity_state": "{not json"})
    with pytest.raises(ConfigError) as unreadable:
        load_checkpoint(path)
    assert str(unreadable.value) == f"{path} holds an unreadable training state; {start_over}"


def test_an_optimizers_state_survives_a_checkpoint(tmp_path):
    from polarity.training.checkpoint import load_checkpoint, optimizer_tensors, restore_optimizer, save_checkpoint
    from polarity.training.loop import make_optimizer

    def stepped(optimizer: torch.optim.Optimizer, weight: torch.nn.Parameter) -> torch.optim.Optimizer:
        def closure():
            optimizer.zero_grad()
            loss = ((weight - 1.0) ** 2).sum()
            loss.backward()
            return loss

        for _ in range(2):
            optimizer.step(closure)
        return optimizer

    for name in ("adam", "adagrad", "rmsprop", "sgd"):
        torch.manual_seed(0)
        weight = torch.nn.Parameter(torch.randn(3))
        trained = stepped(make_optimizer(name, [weight], 0.1), weight)
        save_checkpoint(tmp_path / "c.safetensors", *optimizer_tensors(trained))
        tensors, meta = load_checkpoint(tmp_path / "c.safetensors")
        fresh = make_optimizer(name, [torch.nn.Parameter(torch.zeros(3))], 0.1)
        restore_optimizer(fresh, tensors, meta)
        want, got = trained.state_dict(), fresh.state_dict()
        assert got["param_groups"] == json.loads(json.dumps(want["param_groups"]))  # tuples come back as lists
        assert set(got["state"]) == set(want["state"])
        for param_id, values in want["state"].items():
            assert set(got["state"][param_id]) == set(values)
            for key, value in values.items():
                assert torch.equal(got["state"][param_id][key], value), (name, key)

    weight = torch.nn.Parameter(torch.randn(3))
    lbfgs = stepped(torch.optim.LBFGS([weight], max_iter=3), weight)  # keeps step counts as ints
    with pytest.raises(TypeError, match="LBFGS keeps 'func_evals' as int: a checkpoint holds an optimizer's tensors only"):
        optimizer_tensors(lbfgs)


def test_the_progress_line_reads_as_keras_draws_it(monkeypatch):
    """On a terminal: the epoch, a bar redrawn at most every 0.2 s and always at the last batch, then
    the epoch's line with its time per step; into a pipe, only the epoch and that last line; off, nothing."""
    import io
    from types import SimpleNamespace

    from polarity.training import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def two_epochs(stream, enabled=True):
        now = [100.0]
        monkeypatch.setattr(progress, "time", SimpleNamespace(perf_counter=lambda: now[0]))
        line = progress.ProgressLine(epochs=3, stream=stream, enabled=enabled)
        line.start_epoch(0, total_batches=4)
        for now[0], done, loss in ((100.5, 1, 0.5), (100.75, 2, 0.45), (100.8, 3, 0.42), (100.85, 4, 0.4)):
            line.update(done, {"loss": loss, "accuracy": 0.75})
        now[0] = 103.0
        line.end_epoch({"epoch": 1, "loss": 0.4, "accuracy": 0.8, "val_loss": 0.3, "val_accuracy": 0.9, "seconds": 3.0})
        line.start_epoch(1, total_batches=1)
        now[0] = 104.0
        line.end_epoch({"epoch": 2, "loss": 0.2, "accuracy": 1.0, "seconds": 1.0})
        return stream.getvalue()

    first = "4/4 [==============================] - 3s 750ms/step - loss: 0.4000 - accuracy: 0.8000 - val_loss: 0.3000 - val_accuracy: 0.9000\n"
    second = "Epoch 2/3\n1/1 [==============================] - 1s 1000ms/step - loss: 0.2000 - accuracy: 1.0000\n"
    assert two_epochs(Terminal()) == ("Epoch 1/3\n"
                                      "\r1/4 [=======>......................] - 0s - loss: 0.5000 - accuracy: 0.7500"
                                      "\r2/4 [===============>..............] - 1s - loss: 0.4500 - accuracy: 0.7500"
                                      "\r4/4 [==============================] - 1s - loss: 0.4000 - accuracy: 0.7500"
                                      "\r" + first + second.replace("1/1", "\r1/1"))
    assert two_epochs(io.StringIO()) == "Epoch 1/3\n" + first + second
    assert two_epochs(Terminal(), enabled=False) == ""


def test_the_learning_curves_show_each_epochs_figures(tmp_path, saved_figures):
    """Seed 003's two panels: accuracy and loss per epoch, train and validation; no validation curve
    where the history has none."""
    from polarity.training.plots import plot_curves

    history = [{"epoch": 1, "loss": 0.6, "accuracy": 0.7, "val_loss": 0.5, "val_accuracy": 0.75},
               {"epoch": 2, "loss": 0.4, "accuracy": 0.8, "val_loss": 0.45, "val_accuracy": 0.8},
               {"epoch": 3, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.47, "val_accuracy": 0.79}]
    plot_curves(history, tmp_path / "curves.png", title="lstm-dropout")
    plot_curves([{k: row[k] for k in ("epoch", "loss", "accuracy")} for row in history], tmp_path / "train.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG") and (tmp_path / "train.png").is_file()
    both, train_only = saved_figures
    assert both._suptitle.get_text() == "lstm-dropout" and train_only._suptitle is None
    for figure, curves in ((both, ["Train", "Val"]), (train_only, ["Train"])):
        left, right = (ax.get_position() for ax in figure.axes)  # two panels, side by side
        assert left.x1 <= right.x0 and left.y0 == pytest.approx(right.y0)
        for ax, metric, title in zip(figure.axes, ("accuracy", "loss"), ("Model accuracy", "Model loss")):
            assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (title, "Epoch", metric.capitalize())
            assert [line.get_label() for line in ax.get_lines()] == curves
            assert [t.get_text() for t in ax.get_legend().get_texts()] == curves
            assert list(ax.get_xticks()) == [1, 2, 3]
            for line, key in zip(ax.get_lines(), (metric, f"val_{metric}")):
                assert list(line.get_xdata()) == [1, 2, 3]
                assert list(line.get_ydata()) == [row[key] for row in history]


def test_reproduce_reports_each_seeds_run_and_their_spread(tmp_path, sentiment_archive):
    """`polarity reproduce`: one folder per seed, trained as the notebook evaluates (its last epoch),
    and a report of each run, the mean and spread in %, per epoch too, beside the notebook's figure."""
    import statistics

    from polarity.training.reproduce import format_report, reproduce

    from polarity.errors import DataError

    with pytest.raises(DataError):  # a partial copy of the archive is refused unless strict=False (--no-strict)
        reproduce("mean-embedding", out=tmp_path, data=str(sentiment_archive), log=lambda *a: None)
    lines = []
    report = reproduce("mean-embedding", seeds=[3, 4], out=tmp_path, data=str(sentiment_archive), strict=False,
                       limit=120, overrides={"training.epochs": 2, "training.eval_test_each_epoch": True},
                       log=lines.append)
    folders = [ModelFolder(tmp_path / f"mean-embedding-bucketed-seed{seed}") for seed in (3, 4)]
    accuracies = [folder.metrics()["test"]["accuracy"] for folder in folders]
    for seed, folder, run, accuracy in zip((3, 4), folders, report["runs"], accuracies):
        assert folder.config().recipe["training"]["restore_best"] is False  # a notebook's recipe
        assert folder.metrics()["test"]["reviews"] == 120
        assert run == {"seed": seed, "folder": str(folder.path), "test_accuracy": accuracy,
                       "seconds_per_epoch": folder.metrics()["seconds_per_epoch"],
                       "training_seconds": folder.config().training["seconds"],
                       "test_per_epoch": [row["test_accuracy"] for row in folder.history()]}
    assert report["measured"] == {"mean": round(100 * statistics.fmean(accuracies), 2),
                                  "std": round(100 * statistics.stdev(accuracies), 2),
                                  "values": [round(100 * a, 2) for a in accuracies]}
    epochs = list(zip(*(run["test_per_epoch"] for run in report["runs"])))
    assert len(epochs) == 2 and report["measured_per_epoch"] == [
        {"mean": round(100 * statistics.fmean(e), 2), "std": round(100 * statistics.stdev(e), 2),
         "values": [round(100 * a, 2) for a in e]} for e in epochs]
    assert report["seconds_per_epoch"] == round(statistics.fmean(r["seconds_per_epoch"] for r in report["runs"]), 1)
    seconds = [r["training_seconds"] for r in report["runs"]]
    assert report["training_seconds"] == {"mean": round(statistics.fmean(seconds), 1), "values": seconds}
    recipe = load_recipe("mean-embedding")
    assert {k: report[k] for k in ("recipe", "notebook", "batching", "reported", "reported_per_epoch", "reported_note",
                                   "seeds", "seed_values", "limited_to", "device")} == {
        "recipe": "mean-embedding", "notebook": "004", "batching": "bucketed", "reported": 83.32,
        "reported_per_epoch": recipe.reported_per_epoch, "reported_note": recipe.reported_note,
        "seeds": 2, "seed_values": [3, 4], "limited_to": 120, "device": "cpu"}
    assert json.loads((tmp_path / "mean-embedding-bucketed.json").read_text()) == report
    assert lines[-1] == format_report(report)
    assert lines[-1].splitlines()[1].startswith(f"  notebook:    83.32 %   measured: {report['measured']['mean']:.2f} % ± ")


def test_reproduce_runs_the_seeds_the_command_line_names(monkeypatch):
    import polarity.training.reproduce as module

    calls = []
    monkeypatch.setattr(module, "reproduce", lambda recipe, **options: calls.append((recipe, options)) or {})
    assert main(["reproduce", "mean-embedding", "--seeds", "2", "--seed", "5", "--epochs", "1"]) == 0
    assert main(["reproduce", "mean-embedding", "--set", "training.seed=7"]) == 0
    assert main(["reproduce", "mean-embedding"]) == 0
    assert [(list(options["seeds"]), options["overrides"]) for _, options in calls] == [
        ([5, 6], {"training.epochs": 1}), ([7], {}), ([0], {})]  # the seed set by each run, not by an override


def test_reproduce_keeps_a_restore_best_the_user_sets(tmp_path, sentiment_archive):
    from polarity.training.reproduce import reproduce

    reproduce("mean-embedding", seeds=[0], out=tmp_path, data=str(sentiment_archive), strict=False, limit=40,
              overrides={"training.epochs": 1, "training.restore_best": True}, log=lambda *a: None)
    folder = ModelFolder(tmp_path / "mean-embedding-bucketed-seed0")
    assert folder.config().recipe["training"]["restore_best"] is True  # a notebook recipe's default is False


def test_summary_of_a_rating_band_recipe_ends_in_four_outputs(capsys):
    assert main(["summary", "lstm-dropout", "--set", "data.target=rating-bands", "--json"]) == 0
    last = json.loads(capsys.readouterr().out)["layers"][-1]
    assert last["output_shape"] == [None, 4] and "softmax" in last["type"]


def test_reproduce_report_reads_as_printed():
    """The report `polarity reproduce` prints: the run's settings, the notebook's figure beside the
    measured mean and spread (or each seed's accuracy for a recipe with no notebook), and per epoch."""
    from polarity.training.reproduce import format_report

    notebook = {"recipe": "lstm", "notebook": "001", "batching": "exact", "seeds": 3, "seconds_per_epoch": 41.5,
                "training_seconds": {"mean": 207.46, "values": [200.0, 210.0, 212.4]}, "device": "cpu",
                "reported": 86.9, "reported_note": "Keras, 5 epochs",
                "measured": {"mean": 87.123, "std": 0.456, "values": [86.5, 87.25, 87.62]},
                "reported_per_epoch": [80.0, 85.5], "measured_per_epoch": [{"mean": 81.237}, {"mean": 86.004}]}
    assert format_report(notebook) == "\n".join([
        "lstm (notebook 001, exact batching, 3 seed(s), 41.5 s/epoch, 207 s per run on cpu)",
        "  notebook:    86.90 %   measured: 87.12 % ± 0.46   (Keras, 5 epochs)",
        "  per epoch   notebook   measured",
        "          1     80.00     81.24",
        "          2     85.50     86.00"])
    no_figure = {**notebook, "reported": None, "measured_per_epoch": None}
    assert format_report(no_figure).splitlines()[1:] == [
        "  notebook:       none   measured: 87.12 % ± 0.46   (Keras, 5 epochs)"]
    own = {**notebook, "notebook": None, "training_seconds": None, "seeds": 2, "reported_per_epoch": None,
           "measured": {"mean": 90.875, "std": None, "values": [90.5, 91.25]}}
    assert format_report(own) == "\n".join([
        "lstm (exact batching, 2 seed(s), 41.5 s/epoch on cpu)",
        "  measured: 90.88 %   (test accuracy per seed: 90.50, 91.25)"])


@pytest.mark.parametrize("batching", ["exact", "bucketed"])
def test_each_epoch_reads_every_text_once_in_its_own_seeded_order(tmp_path, corpus, monkeypatch, batching):
    """As Keras shuffles: every epoch sees each training text once, in an order of its own, the same
    for the same seed."""
    from conftest import two_epochs_twice

    recipe = tiny_recipe(**{"training.epochs": 2, "training.batching": batching})
    (first, second), again = two_epochs_twice(monkeypatch, lambda name: run(recipe, tmp_path / name, corpus))
    assert sorted(first) == sorted(second) == list(range(len(first)))
    assert first != second and [first, second] == again
    if batching == "exact":  # as Keras: consecutive slices of one seeded permutation, not batches by length
        from polarity.engine.batches import sequential_batches

        keras = [sum((b.tolist() for b in sequential_batches(len(first), 16, seed=0, epoch=e)), []) for e in (0, 1)]
        assert [first, second] == keras


def exact_weights_at(maxlen: int, mask_padding: bool, out) -> dict:
    """A tiny LSTM's weights after one epoch of exact batching at ``maxlen``, on reviews of at most 12 words."""
    from conftest import synthetic_reviews

    texts = [" ".join(t.split()[:12]) for t in synthetic_reviews(30, True, 0) + synthetic_reviews(30, False, 1)]
    recipe = tiny_recipe(**{"training.batching": "exact", "training.epochs": 1, "data.maxlen": maxlen,
                            "model.mask_padding": mask_padding})
    train_recipe(recipe, out, train=(texts, [1] * 30 + [0] * 30), progress=False, log=lambda *a: None)
    return load_file(out / "model.safetensors")


def test_exact_batching_pads_every_batch_to_maxlen_as_keras_does(tmp_path):
    """Keras pads every review to maxlen: an LSTM that does not mask padding reads the zeros, so a
    longer maxlen changes what it learns even when every review is shorter than both; one that
    masks it (mask_padding) reads each review's own length and learns the same."""
    unmasked = [exact_weights_at(maxlen, False, tmp_path / f"u{maxlen}") for maxlen in (20, 30)]
    assert not torch.equal(unmasked[0]["rnn.weight_hh_l0"], unmasked[1]["rnn.weight_hh_l0"])
    masked = [exact_weights_at(maxlen, True, tmp_path / f"m{maxlen}") for maxlen in (20, 30)]
    for name in masked[0]:
        torch.testing.assert_close(masked[0][name], masked[1][name], rtol=1e-5, atol=1e-6)


def test_pretrained_vectors_honour_num_words_and_the_seed(tmp_path):
    """With pretrained vectors too, data.num_words caps the model's vocabulary, and the same seed
    gives the same model (the rows made up for words without a vector are drawn from it)."""
    rows = {"good": 0.1, "bad": -0.1, "plot": 0.2, "film": 0.3, "dull": 0.4}
    vectors = tmp_path / "vectors.50d.txt"
    vectors.write_text("".join(f"{word} {' '.join([str(value)] * 50)}\n" for word, value in rows.items()))
    texts, labels = ["good good film", "bad film", "dull plot"] * 10, ["pos", "neg", "neg"] * 10
    sizes, embeddings = {}, {}
    for name, overrides in {"all": {}, "again": {}, "capped": {"data.num_words": 4}}.items():
        recipe = load_recipe("glove-lstm", {"model.pretrained": str(vectors), "training.epochs": 1, "model.units": 4,
                                            "training.batch_size": 10, **overrides})
        train_recipe(recipe, tmp_path / name, train=(texts, labels), test=(texts, labels), progress=False,
                     log=lambda *a: None)
        sizes[name] = ModelFolder(tmp_path / name).load().encoder.vocab_size
        embeddings[name] = load_file(tmp_path / name / "model.safetensors")["embedding.weight"]
    assert sizes["capped"] == 4 < sizes["all"]
    assert torch.equal(embeddings["all"], embeddings["again"])
    every = load_recipe("glove-lstm", {"model.pretrained": str(vectors), "training.epochs": 1, "model.units": 4,
                                       "data.pretrained_vocabulary": "all"})
    train_recipe(every, tmp_path / "every", train=(texts, labels), test=(texts, labels), progress=False, log=lambda *a: None)
    assert ModelFolder(tmp_path / "every").load().encoder.vocab.words == list(rows)  # the vectors' words, in their order


@pytest.mark.parametrize("name, cls, defaults", [
    ("adam", torch.optim.Adam, {"eps": 1e-7}), ("adagrad", torch.optim.Adagrad, {"eps": 1e-7}),
    ("rmsprop", torch.optim.RMSprop, {"alpha": 0.9, "eps": 1e-7}), ("sgd", torch.optim.SGD, {}),
])
def test_each_optimizer_runs_at_the_recipes_rate_with_keras_defaults(name, cls, defaults):
    from polarity.training.loop import make_optimizer

    optimizer = make_optimizer(name, torch.nn.Linear(2, 1).parameters(), 0.0042)
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.0042 and {k: group[k] for k in defaults} == defaults


def test_a_resumed_run_remembers_its_best_epoch(tmp_path, corpus, monkeypatch):
    """restore_best across a stop: the epoch that was best before the stop stays best after it, when
    the epochs after the resume do worse (validation accuracies 0.8, 0.6, 0.7 here)."""
    from polarity.training.trainer import ClassifierTask

    real_evaluate = ClassifierTask.evaluate

    def scripted(self, state):
        return {**real_evaluate(self, state), "val_accuracy": [0.8, 0.6, 0.7][state.epoch]}

    monkeypatch.setattr(ClassifierTask, "evaluate", scripted)
    recipe = tiny_recipe(**{"training.epochs": 3, "training.restore_best": True})
    straight = run(recipe, tmp_path / "straight", corpus)

    def stop(trainer, state):
        if (state.epoch, state.batch) == (2, 1):
            trainer.request_stop()

    with pytest.raises(TrainingInterrupted):
        run(recipe, tmp_path / "resumed", corpus, callbacks=[stop])
    resumed = run(recipe, tmp_path / "resumed", corpus, resume=True)
    assert straight["best_epoch"] == resumed["best_epoch"] == 1
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)

"""polarity pretrain on tiny data: the language-model objective goes down, the encoder folder, exact
resume, and fine-tuning a classifier from it with discriminative learning rates and gradual unfreezing."""

import json
import re
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from polarity.errors import ConfigError
from polarity.inference import Predictor
from polarity.models import RecurrentClassifier
from polarity.training import load_recipe, train_recipe
from polarity.training.encoders import load_encoder
from polarity.training.loop import TrainingInterrupted
from polarity.training.pretrain import PretrainSettings, Pretrainer, pretrain
from polarity.training.trainer import Trainer, discriminative_groups, unfrozen_groups
from polarity.training.recipes import Recipe, TrainingConfig

from conftest import step_loop_clock, synthetic_reviews, two_epochs_twice

QUIET = dict(log=lambda *a: None)
SMALL = dict(words=60, embedding_dim=8, units=8, window=12, batch_size=8, lr=0.01, vectors=None, held_out=10)


def texts(n: int = 60, seed: int = 0) -> list[str]:
    return synthetic_reviews(n, True, seed) + synthetic_reviews(n, False, seed + 1)


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("enc") / "tiny-bilm"
    pretrain(PretrainSettings(**SMALL, epochs=3), out, texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    return out


def test_language_model_loss_and_held_out_perplexity_go_down(encoder_folder):
    config = json.loads((encoder_folder / "config.json").read_text())
    history = config["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    losses = [row["loss"] for row in history]
    assert losses[2] < losses[1] < losses[0]
    for direction in ("forward", "backward"):
        ppl = [row["held_out_perplexity"][direction] for row in history]
        assert ppl[-1] < ppl[0]
        assert ppl[-1] < SMALL["words"]  # better than guessing among the model's words
    # the training loss is the mean per-word loss of both directions: near the log of the held-out perplexity
    final = history[-1]["held_out_perplexity"]
    assert abs(losses[-1] - np.log([final["forward"], final["backward"]]).mean()) < 1.0
    assert config["kind"] == "polarity-encoder" and config["epochs_done"] == 3
    assert sorted(p.name for p in (encoder_folder / "snapshots").iterdir()) == [f"epoch-{k}.safetensors" for k in (1, 2, 3)]
    assert (encoder_folder / "checkpoint.safetensors").exists()  # kept: a finished run can be extended


def test_a_classifier_starts_from_the_encoder_exactly(encoder_folder):
    loaded = load_encoder(encoder_folder)
    model = RecurrentClassifier(loaded.settings["words"], embedding_dim=8, units=8, bidirectional=True,
                                encoder=loaded.tensors)
    state = model.state_dict()
    assert set(loaded.tensors) == {k for k in state if k.startswith(("embedding.", "rnn."))}
    for name, tensor in loaded.tensors.items():
        assert torch.equal(state[name], tensor), name
    snapshot = load_encoder(encoder_folder / "snapshots" / "epoch-1.safetensors")
    assert snapshot.epochs == 1 and 0 < snapshot.pretraining_seconds <= loaded.pretraining_seconds
    assert not torch.equal(snapshot.tensors["rnn.weight_hh_l0"], loaded.tensors["rnn.weight_hh_l0"])


@pytest.mark.parametrize("options, message", [
    (dict(units=16), "units"), (dict(bidirectional=False), "bidirectional"), (dict(embedding_dim=4), "embedding_dim"),
])
def test_an_encoder_that_does_not_fit_the_model_says_which_setting(encoder_folder, options, message):
    settings = dict(embedding_dim=8, units=8, bidirectional=True) | options
    with pytest.raises(ConfigError, match=message):
        loaded = load_encoder(encoder_folder)
        RecurrentClassifier(loaded.settings["words"], encoder=loaded.tensors, **settings)


def test_a_missing_encoder_says_how_to_make_it(tmp_path):
    with pytest.raises(ConfigError, match="polarity pretrain --name nowhere"):
        load_encoder("nowhere")
    with pytest.raises(ConfigError, match=f"polarity pretrain --out {tmp_path / 'nowhere'}"):
        load_encoder(tmp_path / "nowhere")


def test_pretraining_resumes_exactly_after_a_stop(tmp_path, monkeypatch):
    settings = PretrainSettings(**SMALL, epochs=2)
    data = dict(texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    pretrain(settings, tmp_path / "whole", **data)

    real_step = Pretrainer.train_step
    calls = {"n": 0}

    def stop_midway(self, rows):
        calls["n"] += 1
        if calls["n"] == 20:  # within the first epoch (35 steps per epoch)
            self.request_stop()
        return real_step(self, rows)

    monkeypatch.setattr(Pretrainer, "train_step", stop_midway)
    with pytest.raises(TrainingInterrupted):
        pretrain(settings, tmp_path / "stopped", **data)
    monkeypatch.setattr(Pretrainer, "train_step", real_step)
    with pytest.raises(ConfigError) as info:
        pretrain(settings, tmp_path / "stopped", **data)
    assert str(info.value) == (f"{tmp_path / 'stopped'} holds a pretraining run: continue or extend it with --resume "
                               "(and --epochs), or choose another --out")
    resumed_steps = {"n": 0}

    def count(self, rows):
        resumed_steps["n"] += 1
        return real_step(self, rows)

    monkeypatch.setattr(Pretrainer, "train_step", count)
    pretrain(settings, tmp_path / "stopped", resume=True, **data)
    monkeypatch.setattr(Pretrainer, "train_step", real_step)
    assert resumed_steps["n"] == 70 - 20  # the steps left of 2 epochs of 35, not a run from the start

    whole, resumed = (load_file(str(tmp_path / d / "encoder.safetensors")) for d in ("whole", "stopped"))
    assert whole.keys() == resumed.keys()
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name

    calls["n"] = 0
    monkeypatch.setattr(Pretrainer, "train_step", stop_midway)  # stopped again, in epoch 3 of 4
    with pytest.raises(TrainingInterrupted):
        pretrain(None, tmp_path / "stopped", resume=True, epochs=4, **data)
    monkeypatch.setattr(Pretrainer, "train_step", real_step)
    extended = pretrain(None, tmp_path / "stopped", resume=True, **data)  # remembers the 4 epochs asked for
    assert [row["epoch"] for row in extended["history"]] == [1, 2, 3, 4] and extended["epochs_done"] == 4
    with pytest.raises(ConfigError, match="4 epochs done already"):
        pretrain(None, tmp_path / "stopped", resume=True, epochs=2, **data)
    again = pretrain(None, tmp_path / "stopped", resume=True, epochs=4, **data)  # as many as done: nothing to add
    assert again["history"] == extended["history"] and again["epochs_done"] == 4
    with pytest.raises(ConfigError, match="resume with the same data"):
        pretrain(None, tmp_path / "stopped", resume=True, epochs=5, **dict(data, texts=texts()[:100]))


def test_gradual_unfreezing_schedule_and_discriminative_learning_rates():
    assert [unfrozen_groups(e, 3, "gradual") for e in range(5)] == [1, 2, 3, 3, 3]
    assert [unfrozen_groups(e, 3, "none") for e in range(3)] == [3, 3, 3]
    model = RecurrentClassifier(50, embedding_dim=4, units=4)
    groups = discriminative_groups(model, 0.01, 2.0)
    assert [g["lr"] for g in groups] == [0.0025, 0.005, 0.01]
    assert [p for g in groups for p in g["params"]] == list(model.parameters())


def test_the_trainer_unfreezes_one_layer_group_per_epoch_and_keeps_frozen_weights_frozen():
    from polarity.engine import EncodedSet

    model = RecurrentClassifier(50, embedding_dim=4, units=4, freeze_embedding=True)
    data = EncodedSet([[1, 5, 6], [1, 7]], np.array([0, 1]))
    trainer = Trainer(model, torch.optim.Adam(model.parameters()), data, None, training=TrainingConfig(unfreeze="gradual"),
                      maxlen=None, device=torch.device("cpu"), checkpoint=None, progress=False)
    trainable = lambda: [any(p.requires_grad for p in group) for group in model.layer_groups()]  # noqa: E731
    assert trainer.unfreeze(0) == 1 and trainable() == [False, False, True]
    assert trainer.unfreeze(1) == 2 and trainable() == [False, True, True]
    assert trainer.unfreeze(2) == 3 and trainable() == [False, True, True]  # the recipe froze the embedding


def test_fine_tuning_from_the_encoder_trains_the_top_first_and_saves_a_usable_folder(encoder_folder, tmp_path):
    recipe = Recipe.from_dict({
        "name": "tiny-pretrained",
        "model": {"type": "rnn", "encoder": str(encoder_folder), "embedding_dim": 8, "units": 8, "bidirectional": True,
                  "pooling": "max-mean", "mask_padding": True},
        "data": {"valid_fraction": 0.2, "num_words": load_encoder(encoder_folder).settings["words"]},
        "training": {"epochs": 2, "unfreeze": "gradual", "lr_decay": 2.0, "restore_best": False},
    })
    train, labels = texts(40, seed=11), [1] * 40 + [0] * 40
    seen = {}

    rates = {}

    def after_each_batch(trainer, state):  # which weights train in each epoch, and how fast
        seen[state.epoch] = [all(p.requires_grad for p in group) for group in trainer.model.layer_groups()]
        rates[state.epoch] = [group["lr"] for group in trainer.optimizer.param_groups]

    metrics = train_recipe(recipe, tmp_path / "model", train=(train, labels), device="cpu", progress=False,
                           callbacks=[after_each_batch], **QUIET)
    assert metrics["reported_on"] == "valid"
    assert seen[0] == [False, False, True]  # epoch 1: the output layer alone
    assert seen[1] == [False, True, True]  # epoch 2: the LSTM too
    lr = recipe.training.lr  # each layer group lr_decay times slower than the one above it
    assert rates[0] == rates[1] == pytest.approx([lr / 4, lr / 2, lr])
    weights = load_file(str(tmp_path / "model" / "model.safetensors"))
    start = load_encoder(encoder_folder).tensors
    assert torch.equal(weights["embedding.weight"], start["embedding.weight"])  # epoch 3 would unfreeze it
    assert not torch.equal(weights["rnn.weight_hh_l0"], start["rnn.weight_hh_l0"])
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["pretrained_encoder"]["encoder"] == str(encoder_folder.resolve())
    assert json.loads((tmp_path / "model" / "vocab.json").read_text())["words"][:5] == \
        json.loads((encoder_folder / "vocab.json").read_text())["words"][:5]
    probs = Predictor.load(tmp_path / "model").predict_proba(train)
    assert probs.shape == (80, 2) and np.allclose(probs.sum(axis=1), 1.0)


def test_recipes_check_the_encoder_setting():
    assert load_recipe("bilstm-pretrained").model["encoder"] == "imdb-bilm"
    with pytest.raises(ConfigError, match="model.encoder must name an encoder folder"):
        load_recipe("bilstm-pretrained", {"model.encoder": 3})
    with pytest.raises(ConfigError, match="training.unfreeze must be one of"):
        load_recipe("bilstm-pretrained", {"training.unfreeze": "slowly"})


def test_the_pretrain_command_writes_to_the_cache_and_extends_with_resume(tiny_archive, capsys):
    from polarity.cli import main
    from polarity.training.encoders import encoders_dir

    common = ["--data", str(tiny_archive), "--no-strict", "--name", "tiny"]
    small = ["--words", "40", "--units", "4", "--embedding-dim", "4", "--vectors", "none", "--window", "8",
             "--batch-size", "4"]
    assert main(["pretrain", *common, *small, "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "held-out perplexity forward" in out and f"encoder folder: {encoders_dir() / 'tiny'}" in out
    assert ", backward " in out  # a biLM by default
    assert f"reading every review of {tiny_archive.name} (the first time only" in out
    assert main(["pretrain", *common, "--resume", "--epochs", "2"]) == 0
    assert "after 2 epochs" in capsys.readouterr().out
    assert main(["pretrain", *common, *small]) == 1
    assert "continue or extend it with --resume" in capsys.readouterr().err
    assert main(["pretrain", *common, "--resume", "--units", "8"]) == 1
    assert "drop --units" in capsys.readouterr().err
    assert main(["pretrain", "--data", str(tiny_archive), "--no-strict", "--name", "none-yet", "--resume"]) == 1
    assert "nothing to resume" in capsys.readouterr().err
    one_way = ["--data", str(tiny_archive), "--no-strict", "--name", "tiny-forward", "--forward-only", "--epochs", "1"]
    assert main(["pretrain", *one_way, *small]) == 0
    out = capsys.readouterr().out
    assert "held-out perplexity forward " in out and "backward" not in out


def test_an_encoder_is_found_by_name_under_the_cache_or_by_path(encoder_folder, tmp_path, monkeypatch):
    """`[model] encoder = "NAME"` reads `$POLARITY_CACHE/encoders/NAME` (or a folder, or one epoch's
    snapshot); a folder that is not a finished encoder is refused with what to do."""
    import shutil

    from safetensors import safe_open

    from polarity.training.encoders import EncoderFolder

    monkeypatch.setenv("POLARITY_CACHE", str(tmp_path / "cache"))
    shutil.copytree(encoder_folder, tmp_path / "cache" / "encoders" / "mine")
    config = json.loads((encoder_folder / "config.json").read_text())
    by_name = load_encoder("mine")
    assert (by_name.folder, by_name.epochs) == (tmp_path / "cache" / "encoders" / "mine", 3)
    assert by_name.pretraining_seconds == config["pretraining_seconds"] > 0
    snapshot_file = encoder_folder / "snapshots" / "epoch-2.safetensors"
    with safe_open(str(snapshot_file), framework="pt") as handle:
        seconds = float(handle.metadata()["seconds"])
    for name in (snapshot_file, "mine/snapshots/epoch-2.safetensors"):
        snapshot = load_encoder(name)
        assert (snapshot.epochs, snapshot.pretraining_seconds, snapshot.folder.name) == (2, seconds, snapshot_file.name)
    assert EncoderFolder(encoder_folder).epochs_done() == 3 and EncoderFolder(tmp_path / "none").epochs_done() == 0
    assert EncoderFolder(encoder_folder).load().epochs == 3  # the folder's own encoder by default

    def refused(name) -> str:
        with pytest.raises(ConfigError) as info:
            load_encoder(name)
        return str(info.value)

    cache = tmp_path / "cache" / "encoders"
    assert refused("nowhere") == (f"no pretrained encoder 'nowhere' (looked for nowhere and {cache / 'nowhere'}); "
                                  "make it with: polarity pretrain --name nowhere")
    (cache / "mine" / "encoder.safetensors").unlink()  # a folder without its weights is no encoder
    assert refused("mine").startswith("the pretraining run 'mine' has not finished an epoch yet: continue it with "
                                      "polarity pretrain --resume")
    other = tmp_path / "other"
    shutil.copytree(encoder_folder, other)
    (other / "config.json").write_text(json.dumps({**config, "kind": "polarity-model"}))
    assert refused(other) == (f"{other} is not a readable encoder folder (kind is 'polarity-model', not "
                              "'polarity-encoder'); make it again with polarity pretrain")


def test_pretraining_settings_and_texts_are_refused_with_what_to_change(tmp_path, sentiment_archive):
    from polarity.errors import DataError

    with pytest.raises(ConfigError) as info:
        PretrainSettings(epochs=0)
    assert str(info.value) == "pretrain epochs must be a positive integer, got 0"
    for vectors in (5, "  "):  # vectors: a name or path, or none
        with pytest.raises(ConfigError) as info:
            PretrainSettings(vectors=vectors)
        assert str(info.value) == ('pretrain vectors must name the vectors (e.g. "glove-6b-50d") or be none, '
                                   f"got {vectors!r}")
    with pytest.raises(ConfigError) as info:
        pretrain(PretrainSettings(**SMALL), tmp_path / "short", texts=texts(), held_out=["Too short."], device="cpu",
                 **QUIET)
    assert str(info.value) == ("the held-out texts hold 3 words, fewer than one window of 12: give more texts "
                               "(a larger --limit) or a smaller --window")
    with pytest.raises(ConfigError) as info:
        pretrain(PretrainSettings(**SMALL), tmp_path / "few", texts=["Too short."], held_out=texts(), device="cpu", **QUIET)
    assert str(info.value).startswith("the training texts hold 3 words, fewer than one window of 12")
    with pytest.raises(ConfigError) as info:
        pretrain(PretrainSettings(**SMALL), tmp_path / "none", texts=texts(), held_out=[], device="cpu", **QUIET)
    assert str(info.value) == "pretraining needs held-out texts to measure the perplexity"
    with pytest.raises(DataError):  # a partial copy of the archive is refused unless strict=False (--no-strict)
        pretrain(PretrainSettings(**SMALL), tmp_path / "partial", data=str(sentiment_archive), device="cpu", **QUIET)


def test_ctrl_c_says_it_stops_and_periodic_checkpoints_are_written_within_an_epoch(tmp_path, monkeypatch):
    """Ctrl-C prints what happens and leaves a checkpoint; `checkpoint_minutes` saves within an epoch."""
    import os
    import signal

    from polarity.training.checkpoint import load_checkpoint

    real_step = Pretrainer.train_step
    seen = {"steps": 0, "checkpoint_at_step_3": None}
    out = tmp_path / "run"

    def step(self, rows):
        seen["steps"] += 1
        if seen["steps"] == 3:
            seen["checkpoint_at_step_3"] = load_checkpoint(out / "checkpoint.safetensors")[1]["batch"]  # steps it holds
        if seen["steps"] == 5 and out.name == "run":
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(self, rows)

    monkeypatch.setattr(Pretrainer, "train_step", step)
    lines = []
    with pytest.raises(TrainingInterrupted):
        pretrain(PretrainSettings(**SMALL, epochs=1, checkpoint_minutes=1e-9), out, texts=texts(),
                 held_out=texts(10, seed=5), device="cpu", log=lines.append)
    assert "\nstopping after this batch (Ctrl-C again to abort without a checkpoint)..." in lines
    assert seen == {"steps": 5, "checkpoint_at_step_3": 2}
    seen.update(steps=0)
    out = tmp_path / "every-5-minutes"
    pretrain(PretrainSettings(**SMALL, epochs=1), out, texts=texts(), held_out=texts(10, seed=5),
             device="cpu", **QUIET)  # the default saves every 5 minutes: not within this epoch
    assert seen["checkpoint_at_step_3"] == 0  # the one written as the run starts


def test_the_encoder_files_are_tagged_and_each_snapshot_knows_its_pretraining_time(encoder_folder, tmp_path):
    """The files say what they are; epoch K's snapshot carries the seconds of pretraining at its end,
    as the history's row K does; a damaged run file is refused with what to do."""
    import shutil

    from safetensors import safe_open

    config = json.loads((encoder_folder / "config.json").read_text())
    history = config["history"]
    assert config["pretraining_seconds"] == history[-1]["seconds"] > 0  # what fine-tuning reports, to 0.1 s
    with safe_open(str(encoder_folder / "encoder.safetensors"), framework="pt") as handle:
        assert handle.metadata() == {"format": "polarity-encoder"}
    for row in history:
        snapshot = encoder_folder / "snapshots" / f"epoch-{row['epoch']}.safetensors"
        with safe_open(str(snapshot), framework="pt") as handle:
            assert handle.metadata() == {"format": "polarity-encoder", "seconds": str(row["seconds"])}
        assert load_encoder(snapshot).pretraining_seconds == row["seconds"]
    damaged = tmp_path / "damaged"
    shutil.copytree(encoder_folder, damaged)
    (damaged / "pretrain.json").write_text("{")
    with pytest.raises(ConfigError) as info:
        pretrain(None, damaged, resume=True, texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    assert str(info.value).startswith(f"{damaged / 'pretrain.json'} cannot be read (")
    assert str(info.value).endswith("); start over with another --out")
    run = json.loads((encoder_folder / "pretrain.json").read_text())
    (damaged / "pretrain.json").write_text(json.dumps(dict(run, settings=dict(run["settings"], epoch=4))))
    with pytest.raises(ConfigError) as info:  # a hand-edited setting: the message names the file
        pretrain(None, damaged, resume=True, texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    assert str(info.value) == (f"unknown key 'epoch' in the settings ({damaged / 'pretrain.json'}); "
                               "did you mean 'epochs'?")
    with pytest.raises(ConfigError) as info:
        pretrain(None, tmp_path / "new", texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    assert str(info.value) == "pretrain needs settings unless it resumes a run"


def test_pretraining_starts_from_word_vectors_of_the_models_size(tmp_path):
    """`vectors`: the embedding starts from a GloVe text file's vectors (the log says how many words
    have one); vectors of another size than `embedding_dim` are refused."""
    from polarity.data.tokenizer import Tokenizer

    words = sorted({w for text in texts() for w in Tokenizer()(text)})[:20]
    glove = tmp_path / "glove.6B.8d.txt"
    rng = np.random.default_rng(0)
    glove.write_text("".join(f"{w} {' '.join(f'{x:.4f}' for x in rng.normal(size=8))}\n" for w in words))
    lines = []
    settings = PretrainSettings(**{**SMALL, "vectors": str(glove), "units": 6}, epochs=1)
    started_at = time.perf_counter()
    pretrain(settings, tmp_path / "enc", texts=texts(), held_out=texts(10, seed=5), device="cpu", log=lines.append)
    elapsed = time.perf_counter() - started_at
    settings = PretrainSettings(**{**SMALL, "vectors": str(glove), "units": 6}, epochs=1)
    pretrain(settings, tmp_path / "again", texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    first, again = (load_file(str(tmp_path / d / "encoder.safetensors")) for d in ("enc", "again"))
    assert all(torch.equal(first[k], again[k]) for k in first)  # the same seed, the same encoder
    assert first["embedding.weight"].shape[1] == 8 and first["rnn.weight_hh_l0"].shape == (4 * 6, 6)
    started = [line for line in lines if line.startswith("embedding starts from")]
    assert len(started) == 1 and started[0].startswith(f"embedding starts from {glove}: ")
    prepared = [line for line in lines if line.startswith("pretraining on 120 texts")]
    seconds = re.fullmatch(r".*prepared in (\d+) s", prepared[0]).group(1)
    assert len(prepared) == 1 and int(seconds) <= elapsed + 1  # a duration within the run, not a clock reading
    assert started[0].endswith("% of the words have a vector") and float(started[0].split(": ")[1].split("%")[0]) > 0
    with pytest.raises(ConfigError) as info:
        pretrain(PretrainSettings(**{**SMALL, "vectors": str(glove), "embedding_dim": 6}), tmp_path / "other",
                 texts=texts(), held_out=texts(10, seed=5), device="cpu", **QUIET)
    assert str(info.value) == "the vectors have 8 dimensions; set embedding_dim to that"


def test_with_gradual_unfreezing_early_stopping_counts_once_every_layer_trains(tmp_path):
    """ULMFiT's schedule: epochs that still thaw a layer do not use up the patience."""
    from polarity.engine import EncodedSet

    data = EncodedSet([[1, 5, 6], [1, 7], [1, 8, 9, 5], [1, 6]], np.array([0, 1, 0, 1]))
    for unfreeze, epochs_run in (("gradual", 3), ("none", 2)):
        torch.manual_seed(0)  # a model that gets some texts right and some wrong
        model = RecurrentClassifier(50, embedding_dim=4, units=4)
        training = TrainingConfig(unfreeze=unfreeze, early_stopping=1, epochs=6, lr=1e-12, batch_size=2)
        trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=1e-12), data, data, training=training,
                          maxlen=None, device=torch.device("cpu"), checkpoint=tmp_path / f"{unfreeze}.safetensors",
                          progress=False)
        history = trainer.fit()  # the weights barely move: no epoch beats the first
        assert len(history) == epochs_run, unfreeze
        if unfreeze == "none":  # and each epoch's training metrics start from zero: the same in both
            assert history[1]["accuracy"] == history[0]["accuracy"] and 0 < history[0]["accuracy"] < 1
            assert history[1]["loss"] == pytest.approx(history[0]["loss"], rel=1e-6)


def test_a_model_that_names_no_layer_groups_is_one_group_at_the_top_rate():
    layer = torch.nn.Linear(2, 2)
    groups = discriminative_groups(layer, 0.1, 2.0)
    assert len(groups) == 1 and groups[0]["lr"] == 0.1 and groups[0]["params"] == list(layer.parameters())


def fine_tuning(encoder_folder, **overrides) -> Recipe:
    """A one-epoch BiLSTM fine-tuned from ``encoder_folder``, with ``overrides``."""
    return Recipe.from_dict({"name": "tiny-pretrained", "model": {"type": "rnn", "encoder": str(encoder_folder),
                                                                  "embedding_dim": 8, "units": 8, "bidirectional": True},
                             "data": {"valid_fraction": 0.2}, "training": {"epochs": 1}}).with_overrides(overrides)


def test_a_fine_tune_reads_its_recipes_length_and_truncation_and_records_the_encoders_settings(encoder_folder,
                                                                                               tmp_path):
    """The encoder brings its words and tokenizer; how much of a review the classifier reads
    (``data.maxlen``, ``data.truncating``) is the recipe's; config.json names the encoder's settings."""
    from polarity.models.folder import ModelFolder

    out = tmp_path / "m"
    train_recipe(fine_tuning(encoder_folder, **{"data.maxlen": 7, "data.truncating": "post"}), out,
                 train=(texts(20), [1] * 20 + [0] * 20), device="cpu", progress=False, log=lambda *a: None)
    encoder = ModelFolder(out).load().encoder
    assert (encoder.maxlen, encoder.truncating) == (7, "post")
    settings = json.loads((encoder_folder / "config.json").read_text())["settings"]
    assert ModelFolder(out).config().pretrained_encoder["settings"] == settings


def test_fine_tuning_with_another_num_words_than_the_encoders_is_refused_by_name(encoder_folder, tmp_path):
    """The embedding comes from the encoder, one row per word it read: ``data.num_words`` must be
    its number of words, not silently replaced by it."""
    words = load_encoder(encoder_folder).settings["words"]
    with pytest.raises(ConfigError) as info:
        train_recipe(fine_tuning(encoder_folder, **{"data.num_words": words - 2}), tmp_path / "m",
                     train=(texts(20), [1] * 20 + [0] * 20), device="cpu", **QUIET)
    assert f"embedding.weight is ({words}, 8), the model's is ({words - 2}, 8)" in str(info.value)
    assert "data.num_words for an rnn" in str(info.value)


TOKENIZER_KEPT = ("data.remove_characters, data.stop_words and data.negation_scope would change the pretrained "
                  "encoder's tokenizer: drop them (the encoder's own settings apply)")


@pytest.mark.parametrize("setting, message", [
    ({"data.stop_words": ["the"]}, TOKENIZER_KEPT), ({"data.remove_characters": "[.]"}, TOKENIZER_KEPT),
    ({"data.negation_scope": True}, TOKENIZER_KEPT),
    ({"model.pretrained": "glove-6b-50d"}, "model.encoder brings its own embedding: drop model.pretrained"),
    ({"data.skip_top": 2}, "data.skip_top would make words the pretrained encoder knows unknown: drop it"),
])
def test_fine_tuning_refuses_settings_that_the_encoder_overrides(encoder_folder, tmp_path, setting, message):
    """The encoder brings its tokenizer and embedding: settings that would change them are refused."""
    with pytest.raises(ConfigError) as info:
        train_recipe(fine_tuning(encoder_folder, **setting), tmp_path / "m", train=(texts(20), [1] * 20 + [0] * 20),
                     device="cpu", progress=False, **QUIET)
    assert str(info.value) == message


def test_the_progress_line_every_so_often_and_at_each_epochs_end(monkeypatch):
    """`polarity pretrain` prints, every `every` seconds, the step, loss, perplexity, words a second
    and the time left (of this epoch and the next ones), and a line at each epoch's end."""
    from polarity.training import pretrain as module

    clock = iter([100.0, 102.0, 102.5, 106.0, 200.0, 201.0])
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    lines = []
    log = module.PeriodicLog(PretrainSettings(**SMALL, epochs=2), steps_per_epoch=10, log=lines.append, every=1.0)
    log.start_epoch(0, 10)
    for done in (1, 2, 3):  # at 102 s, 102.5 s (too soon for a line) and 106 s
        log.update(done, {"loss": 0.5})
    # 2 s a step; after step 1, 9 steps and one more epoch of 10 are left; 8 x 12 words a step
    assert lines == ["epoch 1/2 step 1/10 - loss 0.500 (perplexity 2) - 48 words/s - ETA 0m38s",
                     "epoch 1/2 step 3/10 - loss 0.500 (perplexity 2) - 48 words/s - ETA 0m34s"]
    log.end_epoch({"epoch": 1, "loss": 0.5, "held_out_perplexity": {"forward": 40.1, "backward": 41.0}, "seconds": 3600})
    assert lines[-1] == ("epoch 1: training loss 0.500, held-out perplexity forward 40.1, backward 41.0, "
                         "1h00m of pretraining so far")
    log.end_epoch({"epoch": 1, "loss": 0.5, "held_out_perplexity": {"forward": 40.1}, "seconds": 3599})
    assert lines[-1].endswith("59m59s of pretraining so far")
    log.end_epoch({"epoch": 1, "loss": 0.5, "held_out_perplexity": {"forward": 40.1}, "seconds": 600})
    assert lines[-1].endswith("10m00s of pretraining so far")
    log.start_epoch(1, 10)  # resumed after step 5 of the last epoch: its speed counts from there
    log.update(6, {"loss": 0.5})  # 1 s later, exactly `every`: a line
    assert lines[-1] == "epoch 2/2 step 6/10 - loss 0.500 (perplexity 2) - 96 words/s - ETA 0m04s"


def test_pretraining_prints_its_progress_with_the_steps_of_an_epoch(tmp_path, monkeypatch):
    import itertools

    from polarity.training import pretrain as module

    clock = itertools.count(0.0, 31.0)  # each reading of the clock 31 s later: a progress line every step
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    lines: list[str] = []
    pretrain(PretrainSettings(**SMALL, epochs=1), tmp_path / "run", texts=texts(), held_out=texts(10, seed=5),
             log=lines.append)  # and the default device: the GPU if there is one, else the CPU
    progress = [line for line in lines if line.startswith("epoch 1/1 step")]
    assert len(progress) > 1 and all(re.match(r"epoch 1/1 step \d+/35 - loss [\d.]+ ", line) for line in progress)


def test_a_forward_only_language_model_measures_one_direction(tmp_path):
    config = pretrain(PretrainSettings(**SMALL, bidirectional=False, epochs=1), tmp_path / "forward", texts=texts(),
                      held_out=texts(10, seed=5), device="cpu", **QUIET)
    assert list(config["history"][0]["held_out_perplexity"]) == ["forward"]


def test_the_learning_rate_the_gradient_clip_and_the_dropout_reach_pretraining(tmp_path):
    def weights(**settings) -> dict:
        out = tmp_path / "-".join(f"{k}{v}" for k, v in settings.items())
        pretrain(PretrainSettings(**{**SMALL, **settings}, epochs=1), out, texts=texts(), held_out=texts(10, seed=5),
                 device="cpu", **QUIET)
        return load_file(str(out / "encoder.safetensors"))

    base = weights()
    for changed in (weights(lr=0.001), weights(clip=0.01), weights(dropout=0.0)):
        assert any(not torch.equal(base[name], changed[name]) for name in base)


def test_pretraining_settings_read_from_a_run_name_a_wrong_key():
    with pytest.raises(ConfigError) as info:
        PretrainSettings.from_dict({"epoch": 1})
    assert str(info.value) == "unknown key 'epoch' in the settings (pretraining settings); did you mean 'epochs'?"


def test_the_log_names_the_encoder_a_classifier_starts_from(encoder_folder, tmp_path):
    from polarity.training.pipeline import Pretrained, describe_pretrained

    lines = []
    train_recipe(fine_tuning(encoder_folder), tmp_path / "m", train=(texts(20), [1] * 20 + [0] * 20), device="cpu",
                 progress=False, log=lines.append)
    assert f"pretrained encoder {encoder_folder.resolve()} (3 epochs, 0 min of pretraining)" in lines
    longer = Pretrained(None, {"encoder": "wiki", "epochs": 3, "pretraining_seconds": 5400.0}, encoder={})
    assert describe_pretrained(longer) == "pretrained encoder wiki (3 epochs, 90 min of pretraining)"


def test_each_pretraining_epoch_visits_every_window_once_in_its_own_seeded_order(tmp_path, monkeypatch):
    (first, second), again = two_epochs_twice(monkeypatch, lambda name: pretrain(
        PretrainSettings(**SMALL, epochs=2), tmp_path / name, texts=texts(), held_out=texts(10, seed=5), device="cpu",
        **QUIET))
    assert sorted(first) == sorted(second) == list(range(len(first)))
    assert first != second and [first, second] == again


def test_pretraining_holds_out_unlabelled_reviews_a_twentieth_as_many_with_a_limit(tmp_path, sentiment_archive):
    """--limit N reads N training texts and keeps N/20 unlabelled reviews (at least one) for the perplexity;
    without one, it trains on the training reviews and every unlabelled review but the held-out ones."""
    for limit, kept, held_out in ((10, 10, 1), (40, 10, 2), (40, 1, 1)):  # kept: the held_out setting
        settings = PretrainSettings(**dict(SMALL, window=4, held_out=kept), epochs=1, limit=limit)
        config = pretrain(settings, tmp_path / f"{limit}-{kept}", data=str(sentiment_archive), strict=False,
                          device="cpu", **QUIET)
        assert config["texts"]["fit"] == limit and config["texts"]["held_out"] == held_out
    whole = pretrain(PretrainSettings(**dict(SMALL, window=4, held_out=2), epochs=1), tmp_path / "whole",
                     data=str(sentiment_archive), strict=False, device="cpu", **QUIET)
    assert (whole["texts"]["fit"], whole["texts"]["held_out"]) == (1 + 240, 2)  # 3 unlabelled: 2 aside, never trained on
    again = pretrain(PretrainSettings(**dict(SMALL, window=4), epochs=1, limit=40), tmp_path / "again",
                     data=str(sentiment_archive), strict=False, device="cpu", **QUIET)  # the same seeded draw
    assert (tmp_path / "again" / "vocab.json").read_text() == (tmp_path / "40-10" / "vocab.json").read_text()
    first = json.loads((tmp_path / "40-10" / "config.json").read_text())
    assert again["history"][0]["held_out_perplexity"] == first["history"][0]["held_out_perplexity"]


@pytest.mark.parametrize("step_seconds", [25.0, 20.0])  # 20: a checkpoint due at exactly 60 s is written
def test_checkpoint_minutes_are_minutes_of_training(tmp_path, monkeypatch, step_seconds):
    """With steps of 25 s or 20 s (a clock the loop reads), checkpoint_minutes = 1 saves every third
    step, besides the checkpoints at the start and at the epoch's end."""
    step_loop_clock(monkeypatch, step_seconds)
    real_save = Pretrainer.save
    saved_at: list[int] = []

    def save(self):
        saved_at.append(self.state.batch)
        return real_save(self)

    monkeypatch.setattr(Pretrainer, "save", save)
    pretrain(PretrainSettings(**SMALL, epochs=1, checkpoint_minutes=1), tmp_path / "run", texts=texts(),
             held_out=texts(10, seed=5), device="cpu", **QUIET)
    assert saved_at == [0, *range(3, 35, 3), 0]  # 35 steps in the epoch


def test_neither_direction_reads_the_word_it_predicts():
    """On words drawn at random, no direction can do better than chance (log 8 per word for 8 words)
    unless it sees the word it is asked for: a model that learns to copy has read it."""
    from polarity.models.language import LanguageModel

    torch.manual_seed(0)
    model = LanguageModel(8, embedding_dim=8, units=16, cutoffs=(4,), dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    generator = torch.Generator().manual_seed(1)
    for _ in range(150):
        losses = model.losses(torch.randint(0, 8, (32, 12), generator=generator))
        optimizer.zero_grad()
        sum(losses).backward()
        optimizer.step()
    with torch.no_grad():
        held_out = model.losses(torch.randint(0, 8, (256, 12), generator=generator))
    assert [round(loss.item(), 1) for loss in held_out] == [pytest.approx(np.log(8), abs=0.2)] * 2

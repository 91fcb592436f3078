"""The onnxruntime backend of Predictor: the same probabilities as PyTorch's, through the same API."""

import numpy as np
import pytest

from polarity.cli import main
from polarity.errors import ConfigError
from polarity.inference import Predictor

from conftest import synthetic_reviews

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def tiny_lstm(tmp_path_factory):
    """An lstm-dropout model (unmasked, bucketed: predicted as if each review were alone), tiny."""
    from polarity.training import load_recipe, train_recipe

    folder = tmp_path_factory.mktemp("tiny-lstm") / "lstm"
    texts = synthetic_reviews(40, True, 1) + synthetic_reviews(40, False, 2)
    recipe = load_recipe("lstm-dropout", {"data.num_words": 200, "training.epochs": 1, "model.units": 8,
                                          "model.embedding_dim": 8})
    train_recipe(recipe, folder, train=(texts, ["positive"] * 40 + ["negative"] * 40), progress=False,
                 log=lambda *a: None)
    return folder


@pytest.fixture(scope="module")
def exact_lstm(tmp_path_factory):
    """An unmasked LSTM predicted with exact batching: every review padded to maxlen, padding read."""
    from polarity.training import load_recipe, train_recipe

    folder = tmp_path_factory.mktemp("exact-lstm") / "lstm"
    texts = synthetic_reviews(40, True, 1) + synthetic_reviews(40, False, 2)
    recipe = load_recipe("lstm-dropout", {"data.num_words": 200, "data.maxlen": 30, "training.epochs": 1,
                                          "training.batching": "exact", "model.units": 8, "model.embedding_dim": 8})
    train_recipe(recipe, folder, train=(texts, ["positive"] * 40 + ["negative"] * 40), progress=False,
                 log=lambda *a: None)
    return folder


@pytest.mark.parametrize("which", ["tiny_model", "tiny_lstm", "exact_lstm"])
def test_onnxruntime_backend_gives_pytorchs_probabilities(which, request, capsys):
    folder = request.getfixturevalue(which)
    texts = ["A wonderful, moving film.", "Dull and far too long.", "", "zzz qqq", "great " * 300]
    ours = Predictor.load(folder)
    theirs = Predictor.load(folder, backend="onnxruntime")
    assert theirs.backend.name == "onnxruntime"
    assert np.abs(ours.predict_proba(texts) - theirs.predict_proba(texts)).max() < 1e-5
    assert np.abs(ours.predict_proba(texts) - theirs.predict_proba(texts, batch_size=2)).max() < 1e-5
    assert [p.label for p in ours.classify(texts)] == [p.label for p in theirs.classify(texts)]
    assert main(["predict", str(folder), "--backend", "onnxruntime", "--json", *texts[:2]]) == 0
    assert '"label"' in capsys.readouterr().out


def test_an_exact_batching_model_is_predicted_padded_to_maxlen(exact_lstm):
    """Exact batching predicts as Keras does: every review pre-padded to maxlen, the padding read."""
    import torch

    predictor = Predictor.load(exact_lstm)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # weights large enough that the padding read shows in the probabilities
        for weights in predictor.model.parameters():
            weights.copy_(torch.randn(weights.shape, generator=generator))
    texts = ["A wonderful, moving film.", "Dull and far too long.", "great " * 300]
    ids = predictor.encode(texts)

    def forward(seqs, width):
        padded = torch.tensor([[0] * (width - len(seq)) + seq for seq in seqs])
        with torch.no_grad():
            p = torch.sigmoid(predictor.model(padded, torch.tensor([len(seq) for seq in seqs]))).numpy()
        return np.stack([1 - p, p], axis=1)

    got = predictor.predict_proba(texts)
    assert np.abs(got - forward(ids, 30)).max() < 1e-5
    alone = np.concatenate([forward([seq], len(seq)) for seq in ids[:2]])
    assert np.abs(got[:2] - alone).max() > 1e-3  # unpadded, the short reviews get other probabilities


def test_onnxruntime_backend_refuses_what_it_cannot_run(tiny_model):
    with pytest.raises(ConfigError) as error:
        Predictor.load(tiny_model, backend="tensorrt")
    assert str(error.value) == "backend must be one of torch, onnxruntime, got 'tensorrt'"
    with pytest.raises(ConfigError) as error:
        Predictor.load(tiny_model, backend="onnxruntime", precision="bfloat16")
    assert str(error.value) == "the onnxruntime backend runs float32 on the CPU: drop --device and --precision"


def test_onnxruntime_backend_says_which_models_it_cannot_run(tmp_path):
    from polarity.training import load_recipe, train_recipe

    texts = synthetic_reviews(30, True, 1) + synthetic_reviews(30, False, 2)
    recipe = load_recipe("lstm-dropout", {"data.num_words": 200, "training.epochs": 1, "model.units": 4,
                                          "model.embedding_dim": 4, "model.pooling": "max"})
    train_recipe(recipe, tmp_path / "m", train=(texts, ["positive"] * 30 + ["negative"] * 30), progress=False,
                 log=lambda *a: None)
    with pytest.raises(ConfigError) as error:
        Predictor.load(tmp_path / "m", backend="onnxruntime")
    assert str(error.value) == (
        "the onnxruntime backend runs what polarity export exports (cannot export an rnn with pooling over time "
        "or hard_sigmoid gates (a step loop): only the last step of a fused LSTM/GRU is exported); use the torch "
        "backend for this model")


def test_onnxruntime_backend_without_onnxruntime_says_what_to_install(tiny_model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    with pytest.raises(ConfigError) as error:
        Predictor.load(tiny_model, backend="onnxruntime")
    assert str(error.value) == 'the onnxruntime backend needs ONNX Runtime: pip install "polarity[export]"'

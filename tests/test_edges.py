"""What users see at the edges: rating bands at their boundaries, the hybrid's reading window, the
epoch metrics a history reports, every recipe range, a record's score under a moved threshold,
averaged metrics, explanations of two-label models, the API key's header as RFC 7235 reads it, the
printed report, McNemar's test, input warnings, thresholds of 0 and 1, nearest words, the words an
explanation marks as read, and the request body limit at its edge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polarity.data.imdb import ReviewSet
from polarity.data.splits import imdb_labelled
from polarity.errors import ConfigError, DataError
from polarity.inference import Predictor
from polarity.training import load_recipe, train_recipe

from conftest import synthetic_reviews

QUIET = dict(progress=False, log=lambda *a: None)


def test_rating_bands_take_each_rating_to_its_band():
    ratings = np.array([1, 2, 3, 4, 7, 8, 9, 10])
    reviews = ReviewSet("train", [f"review {r}" for r in ratings], (ratings >= 7).astype(np.int64), ratings,
                        np.arange(len(ratings)))
    bands = imdb_labelled(reviews, "rating-bands")
    assert bands.names == ["1-2", "3-4", "7-8", "9-10"]
    assert [bands.names[i] for i in bands.labels] == ["1-2", "1-2", "3-4", "3-4", "7-8", "7-8", "9-10", "9-10"]
    unrated = ReviewSet("unsup", ["x"], np.array([-1]), np.array([0]), np.array([0]))
    with pytest.raises(DataError, match="rating bands need ratings"):
        imdb_labelled(unrated, "rating-bands")


@pytest.mark.parametrize("mask_padding", [False, True])
def test_the_hybrids_rnn_reads_the_last_window_words_and_its_own_vocabulary(mask_padding):
    from polarity.data.vocab import OOV
    from polarity.models import build_model

    torch.manual_seed(0)
    model = build_model({"type": "hybrid", "words": 6, "window": 3, "embedding_dim": 4, "units": 4,
                         "mask_padding": mask_padding}, vocab_size=20).eval()
    ids = torch.tensor([[0, 4, 5, 9, 3, 12]])  # pre-padded; ids 9 and 12 are beyond the RNN's 6 words
    seen = torch.tensor([[9, 3, 12]]).where(torch.tensor([[9, 3, 12]]) < 6, torch.tensor(OOV))
    torch.testing.assert_close(model.recurrent(ids, torch.tensor([5])), model.recurrent.rnn(seen, torch.tensor([3])))


def test_a_masked_hybrid_gives_a_padded_text_what_it_gets_alone():
    """With padding masks, a short text batched with a longer one (so pre-padded) gets the hybrid's
    output it gets alone: the lengths reach the RNN. Random biases: Keras's initial ones (zero, forget
    gate one) would leave the state at zero over padding and hide a lost length."""
    from polarity.models import build_model

    torch.manual_seed(0)
    model = build_model({"type": "hybrid", "words": 12, "window": 5, "embedding_dim": 4, "units": 4,
                         "mask_padding": True}, vocab_size=20).eval()
    with torch.no_grad():
        for name, parameter in model.recurrent.rnn.rnn.named_parameters():
            if "bias" in name:
                parameter.uniform_(-1.0, 1.0)
    short, long = [4, 5, 6], [7, 4, 5, 6, 9, 10]
    together = model(torch.tensor([[0, 0, 0, *short], long]), torch.tensor([3, 6]))
    alone = torch.cat([model(torch.tensor([short]), torch.tensor([3])), model(torch.tensor([long]), torch.tensor([6]))])
    torch.testing.assert_close(together, alone)


def test_the_history_reports_the_epochs_mean_loss_and_accuracy(tmp_path):
    """With a learning rate too small to move the weights, an epoch's training loss and accuracy are the
    model's on the training texts, and its validation figures are the model's on the validation texts."""
    from polarity.engine import EncodedSet, evaluate_logits, predict_logits
    from polarity.models.folder import ModelFolder
    from polarity.training.pipeline import prepare_data

    texts = synthetic_reviews(40, True, 1) + synthetic_reviews(40, False, 2)
    labels = ["positive"] * 40 + ["negative"] * 40
    recipe = load_recipe("mean-embedding", {"training.lr": 1e-12, "training.epochs": 1, "data.num_words": 100,
                                            "model.mask_padding": True})
    metrics = train_recipe(recipe, tmp_path / "m", train=(texts, labels), **QUIET)
    predictor = Predictor.load(tmp_path / "m")
    splits = prepare_data(recipe, train=(texts, labels))
    [row] = ModelFolder(tmp_path / "m").history()
    for split, prefix in ((splits.fit, ""), (splits.valid, "val_")):
        ids = predictor.encode(split.texts)
        logits = predict_logits(predictor.model, EncodedSet(ids, split.labels), batching="bucketed", maxlen=None,
                                device=torch.device("cpu"))
        expected = evaluate_logits(logits, split.labels)
        assert row[prefix + "loss"] == pytest.approx(expected["loss"], abs=1e-5)
        assert row[prefix + "accuracy"] == pytest.approx(expected["accuracy"])
    assert metrics["valid"]["accuracy"] == pytest.approx(row["val_accuracy"])


@pytest.mark.parametrize("key, bad, good", [
    ("data.valid_fraction", 1.0, 0.0), ("data.valid_fraction", -0.1, 0.99), ("data.maxlen", -1, 0),
    ("data.num_words", -1, 0), ("data.skip_top", -1, 0), ("data.truncating", "mid", "post"),
    ("data.augment_fraction", 0.0, 1.0), ("data.contrast_fraction", 1.01, 1.0), ("data.pair_repeat", 0, 1),
    ("training.lr", 0.0, 1e-9), ("training.batch_size", 0, 1), ("training.epochs", 0, 1), ("training.seed", -1, 0),
    ("training.early_stopping", -1, 0), ("training.lr_decay", 0.99, 1.0), ("training.initial_accumulator", -0.1, 0.0),
    ("training.pair_weight", -0.1, 0.0), ("training.pairs_per_step", 0, 1), ("training.shards", 0, 1),
    ("training.optimizer", "adamw", "rmsprop"), ("training.precision", "float16", "bfloat16"),
    ("training.mix_counterfactuals", 1.01, 1.0), ("training.mix_counterfactuals", -0.1, 0.0),
    ("training.ngram_pair_repeat", -1, 0),
])
def test_every_range_refuses_just_outside_and_takes_its_edge(key, bad, good):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_recipe("lstm-dropout", {key: bad})
    section, name = key.split(".")
    assert getattr(getattr(load_recipe("lstm-dropout", {key: good}), section), name) == good


@pytest.mark.parametrize("option, value", [("embedding_dropout", 1.0), ("recurrent_dropout", -0.1),
                                           ("output_dropout", 1.5), ("input_dropout", 1.0)])
def test_model_dropouts_must_be_below_one(option, value):
    from polarity.models import build_model

    with pytest.raises(ConfigError, match=f"{option} must be in \\[0, 1\\)"):
        build_model({"type": "rnn", option: value}, vocab_size=10)


@pytest.mark.parametrize("words, window, ok", [(5, 1, True), (4, 1, False), (5, 0, False)])
def test_the_hybrids_vocabulary_and_window_have_their_floors(words, window, ok):
    from polarity.models import build_model

    options = {"type": "hybrid", "words": words, "window": window, "units": 4, "embedding_dim": 4}
    if ok:
        assert build_model(options, vocab_size=50).recurrent.window == window
    else:
        with pytest.raises(ConfigError, match=f"model.words must be >= 5 and model.window >= 1, got {words} and {window}"):
            build_model(options, vocab_size=50)


def test_a_records_score_is_the_probability_of_the_label_it_gives(tiny_model):
    predictor = Predictor.load(tiny_model)
    text = "a wonderful film"
    p = float(predictor.predict_proba([text])[0, 1])
    above, below = predictor.classify([text], threshold=min(1.0, p + 1e-3))[0], predictor.classify([text], threshold=p)[0]
    assert (above.label, above.score) == ("negative", pytest.approx(1 - p))
    assert (below.label, below.score) == ("positive", pytest.approx(p))
    assert above.probabilities == below.probabilities == {"negative": pytest.approx(1 - p), "positive": pytest.approx(p)}


def test_macro_f1_is_the_unweighted_mean_and_rows_are_the_true_labels():
    from polarity.inference.evaluation import classification_metrics

    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 0, 1, 1, 2, 2])
    probs = np.eye(3)[predicted] * 0.8 + 0.2 / 3
    report = classification_metrics(labels, probs, predicted, ["a", "b", "c"])
    f1 = {"a": 2 * 1.0 * 0.75 / 1.75, "b": 0.5, "c": 2 * 0.5 * 1.0 / 1.5}
    assert {k: v["f1-score"] for k, v in report["per_label"].items()} == pytest.approx(f1)
    assert report["macro_f1"] == pytest.approx(sum(f1.values()) / 3)  # not weighted by support (4, 2, 1)
    assert report["confusion_matrix"] == [[3, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report["accuracy"] == pytest.approx(5 / 7)
    assert report["per_label"]["a"]["support"] == 4 and report["per_label"]["a"]["recall"] == pytest.approx(0.75)


def test_a_two_label_model_explains_the_second_label_by_leaving_each_word_out(tiny_model):
    from polarity.inference.explore import explain

    predictor = Predictor.load(tiny_model)
    text = "awful terrible boring film"
    result = explain(predictor, text)
    p = predictor.predict_proba([text])[0]
    assert result["explained_label"] == "positive" and result["probability"] == pytest.approx(p[1])
    assert result["label"] == predictor.predict([text])[0]
    words = text.split()
    without = predictor.predict_proba([" ".join(words[:i] + words[i + 1:]) for i in range(len(words))])[:, 1]
    assert [w["word"] for w in result["words"]] == words
    assert [w["contribution"] for w in result["words"]] == pytest.approx(list(p[1] - without))


@pytest.fixture(scope="module")
def keyed_client(tiny_model):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from polarity.server import create_app

    with TestClient(create_app([tiny_model], api_key="s3cret")) as client:
        yield client


@pytest.mark.parametrize("header, status", [
    ("Bearer s3cret", 200), ("bearer s3cret", 200), ("BEARER s3cret", 200), ("Bearer   s3cret", 200),
    ("Bearer s3cret ", 200), ("Bearer wrong", 401), ("Basic s3cret", 401), ("Bearers3cret", 401), ("s3cret", 401),
    ("Bearer", 401), ("", 401),
])
def test_the_api_key_header_is_read_as_rfc_7235_says(keyed_client, header, status):
    """The scheme is case-insensitive and separated from the token by spaces; nothing else gets in."""
    headers = {"Authorization": header} if header else {}
    answer = keyed_client.get("/v1/models", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer" and answer.json()["error"]["code"] == "unauthorized"
    assert keyed_client.get("/healthz").status_code == 200  # probes need no key


# -- reports, explanations and limits at their edges ------------------------------------------------------
def test_the_printed_report_names_the_second_label_its_threshold_and_what_the_model_reads(tiny_model):
    from polarity.inference.evaluation import evaluate_texts, format_report

    predictor = Predictor.load(tiny_model)
    texts = synthetic_reviews(10, True, 5) + synthetic_reviews(10, False, 6)
    report, _ = evaluate_texts(predictor, texts, np.array([1] * 10 + [0] * 10), threshold=0.0)
    assert report["threshold"] == 0.0  # not the default: at 0 every text is positive
    assert (report["precision"], report["recall"]) == (0.5, 1.0)
    printed = format_report(report, "test")
    assert "  positive: precision 0.5000  recall 1.0000" in printed and "(threshold 0)" in printed
    for truncating, kept in (("pre", "last"), ("post", "first")):
        shown = format_report({**report, "maxlen": 80, "truncating": truncating}, "test")
        assert f"(tokens; the model reads the {kept} 80):" in shown


def test_mcnemar_is_two_sided_and_symmetric():
    from polarity.inference.evaluation import mcnemar

    a = np.array([True] * 8 + [False] * 2 + [True] * 5)
    b = np.array([False] * 8 + [True] * 2 + [True] * 5)
    ab, ba = mcnemar(a, b), mcnemar(b, a)
    assert (ab["only_first_right"], ab["only_second_right"]) == (8, 2)
    assert ab["p_value"] == ba["p_value"] == pytest.approx(112 / 1024)  # 2 * P(X >= 8), X ~ Bin(10, 1/2)


def test_only_a_text_without_a_single_known_word_gets_a_warning(tiny_model):
    mixed, unknown, empty = Predictor.load(tiny_model).classify(["wonderful qqqzzz", "qqqzzz xxxyyy", "  "])
    assert mixed.warning is None
    assert unknown.warning == "no known words: every word is out of the model's vocabulary"
    assert empty.warning == "empty text: scored from the start marker alone"


def test_thresholds_of_zero_and_one_are_allowed(tiny_model):
    predictor = Predictor.load(tiny_model)
    texts = ["wonderful film", "awful film"]
    assert predictor.predict(texts, threshold=0.0) == ["positive", "positive"]
    assert predictor.predict(texts, threshold=1.0) == ["negative", "negative"]
    for bad in (-0.01, 1.01):
        with pytest.raises(DataError, match="threshold must be between 0 and 1"):
            predictor.predict(texts, threshold=bad)


def test_nearest_words_are_the_vocabularys_words_and_no_marker(tiny_model):
    from polarity.inference.explore import nearest_words

    predictor = Predictor.load(tiny_model)
    vocab = predictor.encoder.vocab
    nearest = nearest_words(predictor, "wonderful", k=vocab.size)
    words = [n["word"] for n in nearest]
    assert words[0] == "wonderful" and nearest[0]["distance"] == 0.0
    assert sorted(words) == sorted(vocab.words[: vocab.size - vocab.index_from - 1])


def test_the_embedding_map_colours_each_word_by_its_positive_probability(tiny_model):
    from polarity.inference.explore import word_probabilities

    good, bad = word_probabilities(Predictor.load(tiny_model), ["wonderful", "awful"])
    assert good > 0.5 and good > bad


@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("start_marker", [True, False])
def test_explanations_mark_exactly_the_words_the_model_reads(truncating, start_marker):
    """``read`` agrees with what padding and truncation (Keras's rules) keep of the ids."""
    from polarity.data.sequence import pad_sequences
    from polarity.inference.explore import reading_mask

    for n in range(8):
        assert reading_mask(n, None, truncating, start_marker) == [True] * n
        for maxlen in range(1, 10):
            ids = ([1] if start_marker else []) + list(range(10, 10 + n))
            kept = set(pad_sequences([ids], maxlen=maxlen, truncating=truncating)[0].tolist())
            assert reading_mask(n, maxlen, truncating, start_marker) == [10 + i in kept for i in range(n)], (n, maxlen)


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(tiny_model):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from polarity.server import create_app

    def body(size: int) -> bytes:
        head, tail = b'{"texts": ["', b'"]}'
        return head + b"a" * (size - len(head) - len(tail)) + tail

    with TestClient(create_app([tiny_model], max_body_bytes=1000)) as client:
        while client.get("/readyz").status_code != 200:
            pass
        for name, send in (("with Content-Length", lambda b: b), ("chunked", lambda b: iter([b[:500], b[500:]]))):
            post = lambda b: client.post("/v1/predict", content=send(b), headers={"content-type": "application/json"})  # noqa: E731, B023
            assert post(body(1000)).status_code == 200, name
            assert post(body(1001)).status_code == 413, name

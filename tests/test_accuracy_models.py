"""The accuracy recipes' pieces on tiny data: bag-of-n-gram models against scikit-learn, pooling,
the hybrid, and every one of them through the model folder."""

import json
import random
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from polarity.data import TextEncoder
from polarity.engine import EncodedSet, predict_logits
from polarity.data.labelled import LabelledTexts
from polarity.errors import ConfigError, DataError
from polarity.inference import Predictor
from polarity.models import NBSVM, HybridClassifier, RecurrentClassifier, TfidfLogisticRegression, build_model
from polarity.models.ngrams import FIRST_WORD
from polarity.training import load_recipe, train_recipe
from polarity.training.linear import fit_bag_of_ngrams, naive_bayes_ratio, part_logits

from conftest import synthetic_reviews

QUIET = dict(progress=False, log=lambda *a: None)


def corpus(n: int = 80, seed: int = 0) -> tuple[list[str], np.ndarray]:
    pos, neg = synthetic_reviews(n, True, seed), synthetic_reviews(n, False, seed + 1)
    return pos + neg, np.array([1] * n + [0] * n)


def encoded(encoder: TextEncoder, texts: list[str], labels: np.ndarray) -> EncodedSet:
    return EncodedSet(encoder.encode(texts), labels)


def ngram_strings(encoder: TextEncoder, text: str, n: int) -> list[str]:
    """The n-grams scikit-learn should see: runs of known words (unknown words break them)."""
    ids = encoder.encode([text])[0]
    words = [encoder.vocab.decode([i])[0] if i >= FIRST_WORD else None for i in ids]
    grams = []
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            if all(w is not None for w in words[i:i + k]):
                grams.append(" ".join(words[i:i + k]))
    return grams


def cpu_logits(model, encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    return predict_logits(model, EncodedSet.unlabelled(encoder.encode(texts)), batching="bucketed", maxlen=None,
                          device=torch.device("cpu"))


MORE_THAN_ONE_CHUNK = 300  # 600 texts: the fit reads texts 512 at a time


@pytest.mark.parametrize("n", [80, MORE_THAN_ONE_CHUNK])
def test_tfidf_lr_computes_what_scikit_learn_computes(n):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = corpus(n)
    encoder = TextEncoder.fit(texts)
    model = TfidfLogisticRegression(encoder.vocab_size, ngrams=2, c=3.0)
    fit_bag_of_ngrams(model, encoded(encoder, texts, labels), None, classes=2)

    vectorizer = TfidfVectorizer(analyzer=lambda t: ngram_strings(encoder, t, 2), sublinear_tf=True)
    x = vectorizer.fit_transform(texts)
    reference = LogisticRegression(C=3.0, solver="liblinear").fit(x, labels)
    unseen = synthetic_reviews(20, True, 7) + synthetic_reviews(20, False, 8) + ["zzz unseen words only", ""]
    expected = reference.decision_function(vectorizer.transform(unseen))
    got = cpu_logits(model, encoder, unseen)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_a_texts_features_do_not_depend_on_its_batch_or_padding():
    texts, labels = corpus()
    encoder = TextEncoder.fit(texts)
    model = NBSVM(encoder.vocab_size)
    fit_bag_of_ngrams(model, encoded(encoder, texts, labels), None, classes=2)
    ids = encoder.encode(texts[:5])
    alone = torch.stack([model(torch.tensor([seq])) for seq in ids]).ravel()
    width = max(map(len, ids)) + 7
    padded = torch.tensor([[0] * (width - len(s)) + s for s in ids])
    torch.testing.assert_close(model(padded), alone)


def test_naive_bayes_ratio_is_wang_and_mannings():
    counts = np.array([[3, 0, 1], [0, 2, 1]])  # texts of the first / second label holding each n-gram
    p, q = np.array([1, 3, 2]), np.array([4, 1, 2])  # alpha = 1 added
    np.testing.assert_allclose(naive_bayes_ratio(counts, 1.0), np.log(p / p.sum()) - np.log(q / q.sum()))


@pytest.mark.parametrize("n", [80, MORE_THAN_ONE_CHUNK])
def test_nbsvm_computes_wang_and_mannings_svm(n):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.svm import LinearSVC

    texts, labels = corpus(n)
    encoder = TextEncoder.fit(texts)
    model = NBSVM(encoder.vocab_size, c=0.5, beta=0.25)
    fit_bag_of_ngrams(model, encoded(encoder, texts, labels), None, classes=2)  # no validation: no Platt scaling

    counts = CountVectorizer(analyzer=lambda t: ngram_strings(encoder, t, 2), binary=True)
    x = counts.fit_transform(texts)
    positive, negative = x[labels == 1].sum(axis=0).A1 + 1.0, x[labels == 0].sum(axis=0).A1 + 1.0
    r = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    svm = LinearSVC(C=0.5, max_iter=10000).fit(x.multiply(r).tocsr(), labels)
    w = 0.75 * np.abs(svm.coef_.ravel()).mean() + 0.25 * svm.coef_.ravel()
    unseen = synthetic_reviews(20, True, 7) + synthetic_reviews(20, False, 8)
    expected = counts.transform(unseen).multiply(r).tocsr() @ w + svm.intercept_[0]
    got = cpu_logits(model, encoder, unseen)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


def test_nbsvm_with_validation_texts_is_platt_scaled():
    """Its logits are then a logistic regression of the SVM's margins on the validation texts (Platt)."""
    from sklearn.linear_model import LogisticRegression

    texts, labels = corpus()
    valid_texts, valid_labels = corpus(40, seed=3)
    valid_labels[::5] = 1 - valid_labels[::5]  # some wrong labels: the margins do not separate them
    encoder = TextEncoder.fit(texts)
    plain, scaled = NBSVM(encoder.vocab_size), NBSVM(encoder.vocab_size)
    fit_bag_of_ngrams(plain, encoded(encoder, texts, labels), None, classes=2)
    fit_bag_of_ngrams(scaled, encoded(encoder, texts, labels), encoded(encoder, valid_texts, valid_labels), classes=2)
    platt = LogisticRegression(C=1e4).fit(cpu_logits(plain, encoder, valid_texts)[:, None], valid_labels)
    unseen = synthetic_reviews(20, True, 7) + synthetic_reviews(20, False, 8)
    expected = platt.decision_function(cpu_logits(plain, encoder, unseen)[:, None])
    np.testing.assert_allclose(cpu_logits(scaled, encoder, unseen), expected, rtol=1e-3, atol=1e-3)


def topic_rows(per_topic: int = 40) -> list[tuple[str, str]]:
    rng = random.Random(0)
    topics = {"books": "novel author pages", "films": "actors cinema scene", "music": "album song guitar"}
    return [(f"{rng.choice(['the', 'a', 'it'])} {rng.choice(words.split())} was {rng.choice(words.split())}", topic)
            for topic, words in topics.items() for _ in range(per_topic)]


@pytest.mark.parametrize("kind", ["nbsvm", "tfidf-lr on three labels"])
def test_a_closed_form_fits_history_row_is_its_loss_and_accuracy_on_the_training_texts(kind):
    from sklearn.metrics import accuracy_score, log_loss

    if kind == "nbsvm":
        texts, labels = corpus(MORE_THAN_ONE_CHUNK)
        labels[::7] = 1 - labels[::7]  # some wrong labels, so that neither figure is perfect
        classes, model_type = 2, NBSVM
    else:
        rows = topic_rows(300)
        names = sorted({topic for _, topic in rows})
        texts, labels = [t for t, _ in rows], np.array([names.index(topic) for _, topic in rows])
        labels[::7] = (labels[::7] + 1) % 3
        classes, model_type = 3, TfidfLogisticRegression
    encoder = TextEncoder.fit(texts)
    model = model_type(encoder.vocab_size, num_outputs=1 if classes == 2 else classes)
    started = time.perf_counter()
    row = fit_bag_of_ngrams(model, encoded(encoder, texts, labels), None, classes=classes)
    elapsed = time.perf_counter() - started
    logits = torch.as_tensor(cpu_logits(model, encoder, texts), dtype=torch.float64)
    probs = torch.sigmoid(logits).numpy() if classes == 2 else torch.softmax(logits, dim=1).numpy()
    predicted = (probs >= 0.5).astype(int) if classes == 2 else probs.argmax(axis=1)
    assert row["epoch"] == 1 and row["features"] == model.num_features > 0
    assert row["accuracy"] == pytest.approx(accuracy_score(labels, predicted)) and row["accuracy"] < 1.0
    assert row["loss"] == pytest.approx(log_loss(labels, probs, labels=list(range(classes))), rel=1e-4)
    assert 0.0 < row["seconds"] <= elapsed + 0.005  # to 2 decimals: a fit of 600 texts takes more than 0.005 s


def test_an_nbsvm_fit_is_the_same_every_time():
    texts, labels = corpus(MORE_THAN_ONE_CHUNK)
    encoder = TextEncoder.fit(texts)
    fitted = []
    for _ in range(2):
        model = NBSVM(encoder.vocab_size, c=10.0)
        fit_bag_of_ngrams(model, encoded(encoder, texts, labels), None, classes=2)
        fitted.append(model.state_dict())
    for name, value in fitted[0].items():
        assert torch.equal(value, fitted[1][name]), name


def test_an_ngram_table_left_empty_by_min_df_names_the_setting():
    texts, labels = corpus(10)
    encoder = TextEncoder.fit(texts)
    with pytest.raises(ConfigError, match="no n-gram occurs in 1000 training texts: lower model.min_df"):
        fit_bag_of_ngrams(NBSVM(encoder.vocab_size, min_df=1000), encoded(encoder, texts, labels), None, classes=2)


@pytest.mark.parametrize("mask_padding", [True, False])
def test_a_hybrids_part_logits_are_what_each_text_gets_alone(mask_padding):
    """The logits a hybrid's mix is fitted on never depend on the texts that share a batch."""
    texts, _ = corpus(6)
    encoder = TextEncoder.fit(texts)
    torch.manual_seed(0)
    model = HybridClassifier(encoder.vocab_size, words=50, window=30, units=4, embedding_dim=4,
                             bidirectional=True, mask_padding=mask_padding).eval()
    ids = encoder.encode(texts)
    assert len(set(map(len, ids))) > 1
    with torch.no_grad():
        alone = np.stack([model.parts(torch.tensor([seq]))[0].numpy() for seq in ids])
    got = part_logits(model, EncodedSet.unlabelled(ids), torch.device("cpu"))
    np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-6)


def test_a_damaged_ngram_table_is_refused():
    model = NBSVM(50)
    state = {"keys": torch.tensor([5, 4, 9]), "scale": torch.ones(3), "weight": torch.zeros(3, 1), "bias": torch.zeros(1)}
    with pytest.raises(ConfigError, match="does not fit together"):
        model.load_state_dict(state)


def test_nbsvm_is_for_two_labels():
    with pytest.raises(ConfigError, match="two labels"):
        build_model({"type": "nbsvm"}, vocab_size=50, num_outputs=3)
    texts, labels = corpus(10)
    encoder = TextEncoder.fit(texts)
    with pytest.raises(ConfigError) as refused:
        fit_bag_of_ngrams(NBSVM(encoder.vocab_size), encoded(encoder, texts, labels % 3), None, classes=3)
    assert str(refused.value) == "nbsvm separates two labels; for more, use tfidf-lr"


@pytest.mark.parametrize("recipe", ["tfidf-lr", "nbsvm"])
def test_linear_recipes_round_trip_through_the_model_folder(recipe, tmp_path):
    texts, labels = corpus(60)
    test_texts, test_labels = corpus(30, seed=5)
    names = ["negative", "positive"]
    metrics = train_recipe(load_recipe(recipe), tmp_path / recipe, train=(texts, [names[y] for y in labels]),
                           test=(test_texts, [names[y] for y in test_labels]), **QUIET)
    assert metrics["test"]["accuracy"] > 0.9
    weights = load_file(str(tmp_path / recipe / "model.safetensors"))
    assert {"keys", "scale", "weight", "bias"} <= set(weights)
    assert weights["keys"].dtype == torch.int64 and weights["weight"].shape[0] == len(weights["keys"]) > 0
    predictor = Predictor.load(tmp_path / recipe)
    probs = predictor.predict_proba(test_texts)
    accuracy = float(((probs[:, 1] >= 0.5) == test_labels).mean())
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])
    assert predictor.predict(["a wonderful , brilliant film", "an awful , boring waste"]) == ["positive", "negative"]


@pytest.mark.parametrize("recipe", ["tfidf-lr", "nbsvm"])
def test_a_label_without_training_texts_is_refused_by_a_closed_form_fit(recipe, tmp_path):
    """Not a model that gives every label the same probability (three labels), nor scikit-learn's error."""
    texts, labels = corpus(30)
    names = ["negative", "odd", "positive"] if recipe == "tfidf-lr" else ["negative", "positive"]
    kept = labels == 1 if recipe == "nbsvm" else np.ones(len(labels), bool)
    train = LabelledTexts.from_lists([t for t, k in zip(texts, kept) if k],
                                     [["negative", "positive"][y] for y, k in zip(labels, kept) if k], names)
    missing = "'odd'" if recipe == "tfidf-lr" else "'negative'"
    with pytest.raises(DataError, match=f"{recipe} is fitted on texts of every label, and its training texts have "
                                        f"none labelled {missing}: add some, or raise --limit"):
        train_recipe(load_recipe(recipe), tmp_path / "m", train=train, **QUIET)


@pytest.mark.parametrize("recipe, verb", [("tfidf-lr", "fitting"), ("nbsvm", "fitting"), ("mean-embedding", "training")])
def test_the_log_says_whether_a_model_is_fitted_or_trained(recipe, verb, tmp_path):
    texts, labels = corpus(20)
    lines = []
    train_recipe(load_recipe(recipe, {"training.epochs": 1}), tmp_path / "m", train=(texts, labels.tolist()),
                 progress=False, log=lines.append)
    assert [line.split(" on ")[0] for line in lines if f" {recipe} on " in line] == [f"{verb} {recipe}"]


def test_tfidf_lr_separates_more_than_two_labels(tmp_path):
    rows = topic_rows()
    metrics = train_recipe(load_recipe("tfidf-lr"), tmp_path / "m", train=([t for t, _ in rows], [y for _, y in rows]),
                           **QUIET)
    assert metrics["valid"]["accuracy"] > 0.9
    assert Predictor.load(tmp_path / "m").predict(["the guitar song", "a novel by the author"]) == ["music", "books"]


@pytest.mark.parametrize("pooling", ["max", "mean", "max-mean"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_pooling_reads_only_each_reviews_words(pooling, bidirectional):
    torch.manual_seed(0)
    model = RecurrentClassifier(30, embedding_dim=8, units=6, bidirectional=bidirectional, pooling=pooling,
                                mask_padding=True).eval()
    reviews = [[5, 9, 12], [7, 8, 9, 10, 11, 3, 4]]
    alone = [model(torch.tensor([r]), torch.tensor([len(r)])) for r in reviews]
    batch = torch.tensor([[0] * 4 + reviews[0], reviews[1]])
    torch.testing.assert_close(model(batch, torch.tensor([3, 7])), torch.cat(alone))

    outputs, _ = model.rnn(model.embedding(torch.tensor([reviews[0]])))
    pooled = {"max": outputs.amax(1), "mean": outputs.mean(1), "max-mean": torch.cat([outputs.amax(1), outputs.mean(1)], 1)}
    torch.testing.assert_close(model(torch.tensor([reviews[0]]), torch.tensor([3])), model.output(pooled[pooling]).squeeze(-1))


def test_pooling_must_be_known():
    with pytest.raises(ConfigError, match="pooling must be one of"):
        build_model({"type": "rnn", "pooling": "attention"}, vocab_size=10)


def test_a_length_mix_weighs_the_parts_by_how_short_a_text_is(tmp_path):
    """``model.mix = "length"``: the mix reads [rnn, ngrams, rnn * s, ngrams * s, s], s = 1 / (1 + ids / 30),
    fitted and reported with those names, and the folder predicts what the metrics measured."""
    texts, labels = corpus(100)
    test_texts, test_labels = corpus(40, seed=5)
    names = ["negative", "positive"]
    recipe = load_recipe("lstm-hybrid", {"model.words": 30, "model.window": 12, "model.units": 8, "model.embedding_dim": 8,
                                         "training.epochs": 1, "data.valid_fraction": 0.3, "model.mix": "length"})
    metrics = train_recipe(recipe, tmp_path / "h", train=(texts, [names[y] for y in labels]),
                           test=(test_texts, [names[y] for y in test_labels]), **QUIET)
    assert list(metrics["parts"]["mix_weights"]) == ["rnn", "ngrams", "rnn_short", "ngrams_short", "short"]
    predictor = Predictor.load(tmp_path / "h")
    probs = predictor.predict_proba(test_texts)
    assert float(((probs[:, 1] >= 0.5) == test_labels).mean()) == pytest.approx(metrics["test"]["accuracy"])
    model = predictor.model
    for text in ("good", test_texts[0] * 5):
        ids = torch.tensor([predictor.encode([text])[0]])
        with torch.no_grad():
            rnn, ngrams = model.parts(ids, torch.tensor([ids.shape[1]]))[0].tolist()
            s = 1 / (1 + ids.shape[1] / 30)
            expected = float(model.mix.weight[0] @ torch.tensor([rnn, ngrams, rnn * s, ngrams * s, s]) + model.mix.bias)
            assert float(model(ids, torch.tensor([ids.shape[1]]))) == pytest.approx(expected, rel=1e-5, abs=1e-5)
    short, long = "good", " ".join(test_texts[:6])
    together = predictor.predict_proba([short, long])  # one padded batch: the length counts the words, not the padding
    np.testing.assert_allclose(together, np.vstack([predictor.predict_proba([short]), predictor.predict_proba([long])]),
                               rtol=1e-5, atol=1e-6)
    assert "Linear(2 logits and text length)" in json.dumps(model.summary(None))
    with pytest.raises(ConfigError, match=r"^model\.mix must be one of 'plain', 'length', got 'gated'$"):
        build_model({"type": "hybrid", "mix": "gated"}, vocab_size=50)


def test_hybrid_trains_both_parts_and_mixes_them_on_validation(tmp_path):
    from sklearn.metrics import log_loss

    texts, labels = corpus(100)
    test_texts, test_labels = corpus(40, seed=5)
    names = ["negative", "positive"]
    recipe = load_recipe("lstm-hybrid", {"model.words": 30, "model.window": 12, "model.units": 8, "model.embedding_dim": 8,
                                    "training.epochs": 2, "data.valid_fraction": 0.3})
    lines = []
    metrics = train_recipe(recipe, tmp_path / "h", train=(texts, [names[y] for y in labels]),
                           test=(test_texts, [names[y] for y in test_labels]), progress=False, log=lines.append)
    # no parameter count before the n-gram weights are fitted: it would leave them out
    assert lines[0] == "training lstm-hybrid on 140 texts (validation 60, test 80), 2 labels, device cpu"
    parts = metrics["parts"]
    assert set(parts) == {"mix_weights", "valid", "test"} and set(parts["mix_weights"]) == {"rnn", "ngrams"}
    assert set(parts["valid"]) == set(parts["test"]) == {"rnn", "ngrams"}
    assert parts["mix_weights"]["ngrams"] != 0.0  # the mix was fitted (it starts at the RNN alone)
    predictor = Predictor.load(tmp_path / "h")
    probs = predictor.predict_proba(test_texts)
    assert float(((probs[:, 1] >= 0.5) == test_labels).mean()) == pytest.approx(metrics["test"]["accuracy"])
    assert metrics["test"]["loss"] == pytest.approx(log_loss(test_labels, probs[:, 1]), rel=1e-3)
    each = part_logits(predictor.model, EncodedSet.unlabelled(predictor.encode(test_texts)), torch.device("cpu"))
    for k, name in enumerate(("rnn", "ngrams")):
        assert parts["test"][name] == pytest.approx(float(((each[:, k] > 0) == test_labels).mean()))
    model = predictor.model
    ids = torch.tensor([predictor.encode(test_texts[:1])[0]])
    with torch.no_grad():
        parts = model.parts(ids, torch.tensor([ids.shape[1]]), alone=True)
        mixed = parts @ model.mix.weight.T + model.mix.bias
        torch.testing.assert_close(model(ids, torch.tensor([ids.shape[1]]), alone=True), mixed.squeeze(-1))
    assert {t.device for t in [*model.parameters(), *model.buffers()]} == {torch.device("cpu")}
    rnn = predictor.model.recurrent
    assert rnn.rnn.embedding.num_embeddings == 30 and rnn.window == 12
    config = json.loads((tmp_path / "h" / "config.json").read_text())
    assert config["preprocessing"]["maxlen"] is None  # the n-gram part reads whole texts


def test_hybrid_needs_a_validation_split(tmp_path):
    texts, labels = corpus(20)
    with pytest.raises(ConfigError, match="validation split"):
        train_recipe(load_recipe("lstm-hybrid", {"data.valid_fraction": 0.0}), tmp_path / "h",
                     train=(texts, labels.tolist()), test=(texts, labels.tolist()), **QUIET)


def test_step_lstm_is_an_lstm_and_hard_sigmoid_is_keras_2s():
    from polarity.models import classifiers

    torch.manual_seed(0)
    model = classifiers.StepLSTM(5, 4, batch_first=True)
    x = torch.randn(3, 7, 5)
    assert classifiers.hard_sigmoid(torch.tensor([-3.0, 0.0, 1.0, 3.0])).tolist() == pytest.approx([0.0, 0.5, 0.7, 1.0])
    outputs, (h, c) = model(x, recurrent_mask=torch.ones(3, 4))  # the step loop, with PyTorch's gates
    expected, (h_ref, c_ref) = torch.nn.LSTM.forward(model, x)
    torch.testing.assert_close(outputs, expected)
    torch.testing.assert_close(c, c_ref)
    hard = classifiers.StepLSTM(5, 4, batch_first=True, gate="hard_sigmoid")
    hard.load_state_dict(model.state_dict())
    assert not torch.allclose(hard(x)[0], expected)  # other gates, same parameters
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([7, 5, 2]), batch_first=True)
    for inputs, state in ((packed, None), (x, (h_ref, c_ref))):
        with pytest.raises(ConfigError) as error:
            hard(inputs, state)
        assert str(error.value) == "a step-loop LSTM reads dense batches from a zero state only (no packed sequences)"


def test_a_per_sequence_recurrent_mask_drops_the_same_units_at_every_step():
    """Keras's recurrent dropout: one mask per sequence over the hidden state feeding each step. A row
    whose mask is all zero never sees its past state: it computes what a zero recurrent kernel does."""
    from polarity.models import classifiers

    torch.manual_seed(0)
    model = classifiers.StepLSTM(5, 4, batch_first=True)
    x = torch.randn(2, 6, 5)
    mask = torch.stack([torch.zeros(4), torch.ones(4)])
    outputs, _ = model(x, recurrent_mask=mask)
    forgetful = classifiers.StepLSTM(5, 4, batch_first=True)
    forgetful.load_state_dict(model.state_dict())
    with torch.no_grad():
        forgetful.weight_hh_l0.zero_()
    torch.testing.assert_close(outputs[0], forgetful(x[:1], recurrent_mask=torch.ones(1, 4))[0][0])
    torch.testing.assert_close(outputs[1], model(x[1:])[0][0])


def test_per_sequence_recurrent_dropout_trains_and_predicts_like_the_batch_mask(tmp_path):
    """The setting changes training's masks only: the same weights predict the same in both settings."""
    texts, labels = corpus(40)
    options = {"model.recurrent_dropout": 0.3, "model.units": 8, "model.embedding_dim": 8, "training.epochs": 1}
    train_recipe(load_recipe("lstm-dropout", {**options, "model.recurrent_dropout_mask": "sequence"}), tmp_path / "s",
                 train=(texts, labels.tolist()), test=(texts, labels.tolist()), **QUIET)
    sequence = Predictor.load(tmp_path / "s")
    assert isinstance(sequence.model.rnn, torch.nn.LSTM) and sequence.model.recurrent_dropout_mask == "sequence"
    plain = RecurrentClassifier(sequence.model.embedding.num_embeddings, embedding_dim=8, units=8, maxlen=500,
                                recurrent_dropout=0.3).eval()
    plain.load_state_dict(sequence.model.state_dict())
    ids, lengths = torch.randint(3, 20, (4, 9)), torch.tensor([9, 5, 3, 1])
    torch.testing.assert_close(plain(ids, lengths), sequence.model(ids, lengths))
    from polarity.inference.export import ExportModule

    exported = ExportModule(sequence.model, alone=True)(ids, lengths)[:, 1]  # predicts as a fused LSTM: it exports
    torch.testing.assert_close(exported, torch.sigmoid(plain(ids, lengths, alone=True)))
    with pytest.raises(ConfigError, match="one forward LSTM layer"):
        RecurrentClassifier(50, bidirectional=True, recurrent_dropout_mask="sequence")


def test_unknown_words_can_read_the_vectors_last_row():
    from polarity.data.vocab import OOV, Vocabulary
    from polarity.models.pretrained import pretrained_matrix

    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    vocab = Vocabulary.build([["good", "film", "zzz"]])
    random, _ = pretrained_matrix(vocab, ["good", "film", "a", "last"], vectors, seed=0)
    last, _ = pretrained_matrix(vocab, ["good", "film", "a", "last"], vectors, seed=0, unknown="last")
    assert last[OOV].tolist() == vectors[-1].tolist() and random[OOV].tolist() != vectors[-1].tolist()
    np.testing.assert_array_equal(np.delete(last, OOV, axis=0), np.delete(random, OOV, axis=0))
    assert load_recipe("glove-lstm", {"data.unknown_vector": "last"}).data.unknown_vector == "last"
    with pytest.raises(ConfigError, match="data.unknown_vector must be one of random, last"):
        load_recipe("glove-lstm", {"data.unknown_vector": "first"})


def test_recipe_tokenisation_settings_travel_in_the_model_folder(tmp_path):
    texts, labels = corpus(30)
    texts = [t.replace("film", "film's") for t in texts]
    recipe = load_recipe("tfidf-lr", {"data.remove_characters": "[^a-z0-9 ]", "data.stop_words": ["the"]})
    train_recipe(recipe, tmp_path / "m", train=(texts, labels.tolist()), **QUIET)
    encoder = Predictor.load(tmp_path / "m").encoder
    assert encoder.tokenize("The film's end.") == ["films", "end"]
    assert "the" not in encoder.vocab and "films" in encoder.vocab


def test_masked_bilstm_predictions_are_the_same_from_parallel_threads():
    torch.manual_seed(0)
    model = RecurrentClassifier(40, embedding_dim=8, units=6, bidirectional=True, pooling="max", mask_padding=True)
    rng = random.Random(0)
    data = EncodedSet.unlabelled([[rng.randrange(4, 40) for _ in range(rng.randint(1, 30))] for _ in range(400)])
    cpu = torch.device("cpu")
    alone = predict_logits(model, data, batching="bucketed", maxlen=None, device=cpu, batch_size=8, workers=1)
    for _ in range(3):
        threaded = predict_logits(model, data, batching="bucketed", maxlen=None, device=cpu, batch_size=8, workers=4)
        np.testing.assert_array_equal(threaded, alone)


def test_removing_characters_and_stop_words_gives_the_same_ids_on_every_path():
    from polarity.data.tokenizer import Tokenizer

    texts, _ = corpus(20)
    texts = [t.replace("film", "Film's") for t in texts]
    tokenizer = Tokenizer(remove="[^a-z0-9 ]", stop_words=("The", "a"))
    encoder = TextEncoder.fit(texts, tokenizer=tokenizer, maxlen=10)
    assert tokenizer("The film's a bore") == ["films", "bore"]
    assert encoder.encode(texts) == encoder.encode_tokens([tokenizer(t) for t in texts])


def test_the_glove_lstm_starts_as_keras_2_2_would():
    """Keras 2.2's LSTM: glorot-uniform kernel, orthogonal recurrent kernel (one matrix for the four
    gates), zero biases but the forget gate's at 1; here as one hard_sigmoid step loop."""
    import math

    from polarity.models.classifiers import StepLSTM

    torch.manual_seed(0)
    units, dim = 64, 50
    model = RecurrentClassifier(100, embedding_dim=dim, units=units, mask_padding=True, input_dropout=0.3,
                                recurrent_dropout=0.1, recurrent_activation="hard_sigmoid")
    rnn = model.rnn
    assert isinstance(rnn, StepLSTM) and rnn.gate == "hard_sigmoid"
    limit = math.sqrt(6 / (dim + 4 * units))  # Keras's (input, 4 * units) kernel: the same fans
    assert rnn.weight_ih_l0.abs().max() <= limit and rnn.weight_ih_l0.abs().max() > 0.9 * limit
    recurrent = rnn.weight_hh_l0.detach()  # (4 * units, units): Keras's (units, 4 * units) kernel, transposed
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(units), atol=1e-5, rtol=0)
    bias = rnn.bias_ih_l0.detach()
    assert bias[units:2 * units].eq(1).all() and bias[:units].eq(0).all() and bias[2 * units:].eq(0).all()
    assert rnn.bias_hh_l0.eq(0).all() and "bias_hh_l0" not in dict(rnn.named_parameters())


def test_a_length_mix_never_weighs_a_part_against_its_own_evidence():
    """Where short texts have n-gram logits that point the wrong way (as counterfactual sentences do),
    an unconstrained logistic regression gives the n-grams a negative weight on short texts; the
    length mix stops at 0 and still fits what it can: the RNN on short texts, both on long ones."""
    from sklearn.linear_model import LogisticRegression

    from polarity.training.linear import fit_length_mix

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    sign = 2.0 * y - 1.0
    short = np.r_[np.full(2000, 0.9), np.full(2000, 0.1)]
    rnn = sign * rng.uniform(0.5, 2.0, 4000)
    ngrams = np.where(short > 0.5, -sign, sign) * rng.uniform(0.5, 2.0, 4000)  # wrong way on short texts
    inputs = np.column_stack([rnn, ngrams, rnn * short, ngrams * short, short])
    free = LogisticRegression(C=1e4, max_iter=1000).fit(inputs, y).coef_[0]
    assert free[1] + free[3] < 0  # unconstrained: the n-grams count against themselves on short texts
    weight, bias = fit_length_mix(inputs, y)
    w = weight[0]
    for s in (0.0, 1.0):
        assert w[0] + w[2] * s >= -1e-9 and w[1] + w[3] * s >= -1e-9  # both parts >= 0 at every length
    assert w[1] > 0.5 and w[0] + w[2] > 0.5  # the n-grams on long texts, the RNN on short ones
    logits = inputs @ w + bias[0]
    assert ((logits > 0) == y).mean() > 0.95


@pytest.mark.parametrize("short_weight", [1.2, -1.2])
def test_a_length_mix_recovers_the_weights_its_labels_were_drawn_with(short_weight):
    """Labels drawn from a logistic model whose part weights stay >= 0 at every length: the fit finds
    its five weights and bias again, whichever way shortness alone leans (only the parts are bounded)."""
    from polarity.training.linear import fit_length_mix

    rng = np.random.default_rng(1)
    rnn, ngrams = rng.normal(0, 2, (2, 40000))
    short = 1 / (1 + rng.integers(1, 300, 40000) / 30)
    inputs = np.column_stack([rnn, ngrams, rnn * short, ngrams * short, short])
    truth, true_bias = np.array([0.5, 1.0, 1.5, -0.5, short_weight]), -0.4
    y = (rng.random(40000) < 1 / (1 + np.exp(-(inputs @ truth + true_bias)))).astype(int)
    weight, bias = fit_length_mix(inputs, y)
    assert weight.shape == (1, 5) and bias.shape == (1,)
    np.testing.assert_allclose(weight[0], truth, atol=0.15)
    assert abs(bias[0] - true_bias) < 0.15

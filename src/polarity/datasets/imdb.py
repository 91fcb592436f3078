"""Drop-in for ``keras.datasets.imdb``, built from the raw review text.

``load_data`` returns the same types, shapes, shuffling and id conventions as Keras: object arrays
of lists of ints and int64 labels, train and test each shuffled by ``np.random.RandomState(seed)``,
``start_char`` first, word of rank ``r`` as ``r + index_from``, ``num_words``/``skip_top`` mapped to
``oov_char``, reviews of ``maxlen`` words or more dropped. Differences, both from building on the raw
text: words come from polarity's Keras-default tokenizer, and the word index is built from the
training reviews only, so a test word never seen in training is out of vocabulary (``oov_char``).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from polarity.data.encoder import TextEncoder
from polarity.data.imdb import load_imdb
from polarity.data.vocab import Vocabulary

__all__ = ["load_data", "get_word_index"]


@lru_cache(maxsize=2)
def _ranked(source: str | None) -> tuple[Vocabulary, tuple[list[list[int]], ...], tuple[np.ndarray, ...]]:
    corpus = load_imdb(source)
    encoder = TextEncoder.fit(corpus.train.texts)  # every training word; load_data applies num_words itself
    ranks = TextEncoder(encoder.vocab.with_options(index_from=0, start_char=None, oov_char=-1), encoder.tokenizer)
    x_train, x_test = ranks.encode(corpus.train.texts), ranks.encode(corpus.test.texts)
    vocab = encoder.vocab
    labels = (corpus.train.labels.astype(np.int64), corpus.test.labels.astype(np.int64))
    return vocab, (x_train, x_test), labels


def _object_array(rows: list[list[int]]) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def _shuffled(raw: list, labels: np.ndarray, rng: np.random.RandomState) -> tuple[list, np.ndarray]:
    """Texts and labels in the order Keras's ``load_data`` shuffles them with ``rng``."""
    order = np.arange(len(raw))
    rng.shuffle(order)
    return [raw[i] for i in order], labels[order]


def load_data(
    path: str | os.PathLike | None = None,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    **kwargs,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.imdb.load_data`` returns them.

    ``path`` locates the raw dataset (archive or folder; default: ``$POLARITY_DATA``, the cache, or
    the official download), not Keras's ``imdb.npz``.
    """
    if kwargs:
        raise TypeError(f"unrecognized keyword arguments: {sorted(kwargs)}")
    _, (raw_train, raw_test), (labels_train, labels_test) = _ranked(str(path) if path is not None else None)

    rng = np.random.RandomState(seed)
    x_train, labels_train = _shuffled(raw_train, labels_train, rng)
    x_test, labels_test = _shuffled(raw_test, labels_test, rng)

    unknown = -1  # a word of the test split that training never saw
    def shift(seq: list[int]) -> list[int]:
        shifted = [w + index_from if w != unknown else unknown for w in seq]
        return [start_char] + shifted if start_char is not None else shifted

    x_train = [shift(x) for x in x_train]
    x_test = [shift(x) for x in x_test]

    if maxlen:
        keep_train = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        keep_test = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        x_train, labels_train = [x_train[i] for i in keep_train], labels_train[keep_train]
        x_test, labels_test = [x_test[i] for i in keep_test], labels_test[keep_test]
        if not x_train or not x_test:
            raise ValueError(
                f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                "Increase maxlen."
            )

    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x, default=0) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]

    split = len(x_train)
    return (_object_array(xs[:split]), labels[:split]), (_object_array(xs[split:]), labels[split:])


def get_word_index(path: str | os.PathLike | None = None) -> dict[str, int]:
    """Word to frequency rank in the training reviews (1 = most frequent), as Keras's ``get_word_index``."""
    vocab, _, _ = _ranked(str(path) if path is not None else None)
    return vocab.word_index()

"""Tokenise once with polarity and store what both frameworks read: ids, Keras-padded arrays, labels, texts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from polarity.data import TextEncoder, load_imdb, pad_sequences
from polarity.training import load_recipe


def prepare(recipe_name: str, folder: Path, data: str | None = None) -> Path:
    """Write ``folder/data.npz`` and ``folder/meta.json`` for the workers; returns the folder."""
    recipe = load_recipe(recipe_name)
    d = recipe.data
    corpus = load_imdb(data)
    # the archive lists negatives first: shuffle once, so that the first N reviews (Keras's slice) are a random draw
    train = corpus.train.subset(np.random.default_rng(0).permutation(len(corpus.train)))
    maxlen = d.maxlen or None
    encoder = TextEncoder.fit(train.texts, num_words=d.num_words or None, maxlen=maxlen)
    train_ids, test_ids = encoder.encode(train.texts), encoder.encode(corpus.test.texts)
    vocab = encoder.vocab
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / "data.npz",
        x_train=pad_sequences(train_ids, maxlen=maxlen),
        x_test=pad_sequences(test_ids, maxlen=maxlen),
        train_lengths=np.array([len(s) for s in train_ids]),
        test_lengths=np.array([len(s) for s in test_ids]),
        y_train=train.labels.astype(np.int64),
        y_test=corpus.test.labels.astype(np.int64),
    )
    vocab.save(folder / "vocab.json")
    (folder / "texts.json").write_text(json.dumps(corpus.test.texts[:1000]))
    (folder / "meta.json").write_text(json.dumps({"recipe": recipe.to_dict(), "vocab_size": vocab.size, "maxlen": maxlen}))
    return folder


def sequences_from_padded(padded: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    """Recover each review's ids from its pre-padded row."""
    width = padded.shape[1]
    return [padded[i, width - n :].tolist() for i, n in enumerate(lengths)]

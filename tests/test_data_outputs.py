"""What the data commands and the Keras view give, written out by hand on a corpus small enough to
count: `polarity data stats` (text and JSON, an empty split included), `imdb.load_data` with its
defaults and every option at its boundary, and review subsets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from polarity.cli import main
from polarity.datasets import imdb

from conftest import layout, write_archive

# words per review: train 3, 1 | 2, 3 (and an unlabelled one of 0); test 2 | 1
TRAIN_POS, TRAIN_NEG = ["good good film", "good"], ["bad film", "bad bad bad"]
TEST_POS, TEST_NEG = ["good new"], ["bad"]


@pytest.fixture
def counted(tmp_path, monkeypatch):
    files = {k: v for k, v in layout(pos=TRAIN_POS, neg=TRAIN_NEG, unsup=["!!!"]).items() if "/test/" not in k}
    files.update({k: v for k, v in layout(pos=TEST_POS, neg=TEST_NEG, unsup=[]).items() if "/test/" in k})
    archive = write_archive(tmp_path / "counted.tar.gz", files)
    allow_partial(monkeypatch)
    yield archive
    imdb._ranked.cache_clear()


def allow_partial(monkeypatch) -> None:
    """The Keras view reads a small archive (``strict=False``), from a fresh cache."""
    from polarity.data import imdb as raw

    imdb._ranked.cache_clear()
    original = raw.load_imdb
    monkeypatch.setattr(imdb, "load_imdb", lambda path: original(path, strict=False))


def test_data_stats_prints_the_counted_table(counted, capsys):
    assert main(["data", "stats", "--data", str(counted), "--no-strict"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"source: {counted}",
        "",
        "split    reviews     pos     neg  unlab.   tokens:    mean  median     p90    max",
        "train          4       2       2       0               2.2       2       3      3",
        "test           2       1       1       0               1.5       2       2      2",
        "unsup          1       0       0       1               0.0       0       0      0",
        "",
        "vocabulary (training split): 3 words",
    ]


def test_data_stats_json_counts_every_split(counted, capsys):
    assert main(["data", "stats", "--data", str(counted), "--no-strict", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["splits"]["train"]["length"] == {"mean": 2.2, "median": 2.5, "p90": 3.0, "max": 3}
    assert stats["splits"]["test"]["length"] == {"mean": 1.5, "median": 1.5, "p90": pytest.approx(1.9), "max": 2}
    assert stats["splits"]["unsup"] == {"reviews": 1, "positive": 0, "negative": 0, "unlabelled": 1,
                                        "length": {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0}}
    assert stats["vocabulary_size"] == 3 and stats["tokenizer"]["lower"] is True


def test_the_vocabulary_size_counts_the_training_words_only(tmp_path, capsys):
    files = {k: v for k, v in layout(pos=["good film"], neg=["bad film"], unsup=["other words"]).items() if "/test/" not in k}
    files.update({k: v for k, v in layout(pos=["good and new words"], neg=["bad"], unsup=[]).items() if "/test/" in k})
    archive = write_archive(tmp_path / "words.tar.gz", files)
    assert main(["data", "stats", "--data", str(archive), "--no-strict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vocabulary_size"] == 3  # good, film, bad


def sequences(split) -> list[tuple[list[int], int]]:
    (x, y) = split
    return sorted((list(seq), int(label)) for seq, label in zip(x, y))


# ranks in the training reviews: bad 4 times (1), good 3 (2), film 2 (3); "new" only in a test review.
# Without num_words, Keras takes the largest id as num_words, so that word (film, 6) is out of vocabulary.
DEFAULT_TRAIN = sorted([([1, 5, 5, 2], 1), ([1, 5], 1), ([1, 4, 2], 0), ([1, 4, 4, 4], 0)])
DEFAULT_TEST = sorted([([1, 5, 2], 1), ([1, 4], 0)])


def test_load_data_defaults_are_keras(counted):
    train, test = imdb.load_data(counted)
    assert sequences(train) == DEFAULT_TRAIN and sequences(test) == DEFAULT_TEST
    explicit = imdb.load_data(counted, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
                              index_from=3)
    assert [list(x) for x in explicit[0][0]] == [list(x) for x in train[0]]
    order = np.arange(4)
    np.random.RandomState(113).shuffle(order)
    from polarity.data.imdb import load_imdb

    assert train[1].tolist() == load_imdb(counted, strict=False).train.labels[order].tolist()
    assert imdb.get_word_index(counted) == {"bad": 1, "good": 2, "film": 3}
    with pytest.raises(TypeError, match=r"unrecognized keyword arguments: \['bogus'\]"):
        imdb.load_data(counted, bogus=1)


def test_load_data_options_at_their_boundaries(counted):
    num_words = imdb.load_data(counted, num_words=5)
    assert sequences(num_words[0]) == sorted([([1, 2, 2, 2], 1), ([1, 2], 1), ([1, 4, 2], 0), ([1, 4, 4, 4], 0)])
    skip = imdb.load_data(counted, skip_top=4)  # id 4 (rank 1) is kept: skip_top <= id
    assert sequences(skip[0]) == sorted([([2, 5, 5, 2], 1), ([2, 5], 1), ([2, 4, 2], 0), ([2, 4, 4, 4], 0)])
    short = imdb.load_data(counted, maxlen=3)  # Keras keeps reviews shorter than maxlen: 3 ids is too long
    assert sequences(short[0]) == [([1, 2], 1)] and sequences(short[1]) == [([1, 4], 0)]  # num_words: 5, after
    dropped = imdb.load_data(counted, num_words=5, oov_char=None)
    assert sequences(dropped[1]) == sorted([([1], 1), ([1, 4], 0)])
    shifted = imdb.load_data(counted, index_from=0, start_char=None)
    assert sequences(shifted[0]) == sorted([([2, 2, 2], 1), ([2], 1), ([1, 2], 0), ([1, 1, 1], 0)])
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb.load_data(counted, maxlen=1)
    kept = imdb.load_data(counted, skip_top=4, oov_char=None)  # without an OOV id, what is skipped is dropped
    assert sequences(kept[0]) == sorted([([5, 5], 1), ([5], 1), ([4], 0), ([4, 4, 4], 0)])


def test_load_data_refuses_a_maxlen_that_empties_one_split(tmp_path, monkeypatch):
    files = {k: v for k, v in layout(pos=["good film"], neg=["bad film"], unsup=[]).items() if "/test/" not in k}
    files.update({k: v for k, v in layout(pos=["good"], neg=["bad"], unsup=[]).items() if "/test/" in k})
    archive = write_archive(tmp_path / "short-test.tar.gz", files)
    allow_partial(monkeypatch)
    try:
        with pytest.raises(ValueError, match="Increase maxlen"):  # the test reviews fit, the training ones do not
            imdb.load_data(archive, maxlen=3)
    finally:
        imdb._ranked.cache_clear()


def test_load_data_without_a_path_reads_the_configured_archive(counted, monkeypatch):
    monkeypatch.setenv("POLARITY_DATA", str(counted))
    imdb._ranked.cache_clear()
    train, test = imdb.load_data()
    assert sequences(train) == DEFAULT_TRAIN and sequences(test) == DEFAULT_TEST
    assert imdb.get_word_index() == {"bad": 1, "good": 2, "film": 3}


def test_a_review_subset_keeps_texts_labels_ratings_and_ids_together(counted):
    from polarity.data.imdb import load_imdb

    corpus = load_imdb(counted, strict=False)
    picked = corpus.train.subset([3, 0])
    assert picked.name == "train"
    for row, source in enumerate([3, 0]):
        assert (picked.texts[row], picked.labels[row], picked.ratings[row], picked.ids[row]) == (
            corpus.train.texts[source], corpus.train.labels[source], corpus.train.ratings[source], corpus.train.ids[source])
    assert corpus.train.subset([1], name="mine").name == "mine"
    fit, valid = corpus.train.subset(range(4)), corpus.split("valid", valid_fraction=0.5, seed=0)
    assert valid.name == "valid" and len(valid) == 2 and set(valid.texts) <= set(fit.texts)


def test_data_stats_counts_unbalanced_labels_and_an_empty_split(tmp_path, monkeypatch, capsys):
    """Negatives are counted as negatives even when they outnumber positives; a split with no reviews
    reports zero lengths rather than failing on an empty array."""
    files = {k: v for k, v in layout(pos=["good film", "good"], neg=["bad"], unsup=[]).items() if "/test/" not in k}
    files.update({k: v for k, v in layout(pos=["good"], neg=["bad film", "bad", "bad bad bad"], unsup=[]).items()
                  if "/test/" in k})
    archive = write_archive(tmp_path / "unbalanced.tar.gz", files)
    allow_partial(monkeypatch)
    assert main(["data", "stats", "--data", str(archive), "--no-strict", "--json"]) == 0
    splits = json.loads(capsys.readouterr().out)["splits"]
    imdb._ranked.cache_clear()
    assert {k: splits["test"][k] for k in ("reviews", "positive", "negative")} == {"reviews": 4, "positive": 1,
                                                                                  "negative": 3}
    assert splits["test"]["length"] == {"mean": 1.8, "median": 1.5, "p90": pytest.approx(2.7), "max": 3}
    assert splits["train"]["length"] == {"mean": 1.3, "median": 1.0, "p90": pytest.approx(1.8), "max": 2}
    assert splits["unsup"] == {"reviews": 0, "positive": 0, "negative": 0, "unlabelled": 0,
                               "length": {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0}}

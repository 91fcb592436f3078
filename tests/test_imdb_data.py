import gzip
import os
import time

import numpy as np
import pytest

from conftest import NEGATIVE, POSITIVE, layout, write_archive, write_folder
from polarity.data import load_imdb, locate_dataset, validation_split
from polarity.data.imdb import cache_dir
from polarity.errors import DataError


@pytest.mark.parametrize("source", ["tiny_archive", "tiny_folder"])
def test_reads_archive_and_folder_alike(source, request):
    corpus = load_imdb(request.getfixturevalue(source), strict=False)
    assert (len(corpus.train), len(corpus.test), len(corpus.unsup)) == (12, 12, 3)
    assert corpus.train.labels.tolist() == [0] * 6 + [1] * 6
    assert corpus.train.texts[6] == POSITIVE[0]
    assert corpus.train.texts[0] == NEGATIVE[0]
    assert corpus.train.ratings.tolist()[:4] == [1, 2, 3, 4]
    assert corpus.train.ids.tolist()[:3] == [0, 1, 2]
    assert set(corpus.unsup.labels.tolist()) == {-1}


def test_folder_parent_is_accepted(tiny_folder):
    assert len(load_imdb(tiny_folder.parent, strict=False).test) == 12


def test_strict_mode_names_expected_and_found_counts(tiny_archive):
    with pytest.raises(DataError, match=r"train/pos/: expected 12,500 reviews, found 6"):
        load_imdb(tiny_archive)


def test_second_load_comes_from_the_cache(tiny_archive):
    first = load_imdb(tiny_archive, strict=False)
    assert list(cache_dir().glob("aclimdb-*.npz"))
    second = load_imdb(tiny_archive, strict=False)
    assert second.train.texts == first.train.texts
    np.testing.assert_array_equal(second.test.ratings, first.test.ratings)


def test_cache_follows_changes_of_the_source(tmp_path):
    path = write_archive(tmp_path / "a.tar.gz", layout())
    load_imdb(path, strict=False)
    changed = layout(pos=["Changed and still great."] * 6)
    write_archive(path, changed)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert load_imdb(path, strict=False).train.texts[6] == "Changed and still great."


def test_missing_folder_is_named(tmp_path):
    files = {k: v for k, v in layout().items() if "/test/neg/" not in k}
    root = write_folder(tmp_path, files)
    with pytest.raises(DataError, match=r"missing folder test/neg/"):
        load_imdb(root, strict=False)


def test_missing_split_in_archive_is_counted(tmp_path):
    files = {k: v for k, v in layout().items() if "/test/pos/" not in k}
    with pytest.raises(DataError, match=r"test/pos/: expected 12,500 reviews, found 0"):
        load_imdb(write_archive(tmp_path / "a.tar.gz", files), strict=False)


def test_truncated_archive_is_reported(tmp_path, tiny_archive):
    data = tiny_archive.read_bytes()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_imdb(broken, strict=False)


def test_not_an_archive_is_reported(tmp_path):
    path = tmp_path / "notes.tar.gz"
    path.write_bytes(gzip.compress(b"hello"))
    with pytest.raises(DataError):
        load_imdb(path, strict=False)


def test_non_utf8_review_names_the_file(tmp_path):
    files = layout()
    files["aclImdb/test/pos/3_10.txt"] = b"caf\xe9 au lait"
    with pytest.raises(DataError, match=r"test/pos/3_10.txt.*not valid UTF-8"):
        load_imdb(write_archive(tmp_path / "a.tar.gz", files), strict=False)


def test_empty_review_names_the_file(tmp_path):
    files = layout()
    files["aclImdb/train/neg/2_3.txt"] = b"  \n"
    with pytest.raises(DataError, match=r"train/neg/2_3.txt is empty"):
        load_imdb(write_folder(tmp_path, files), strict=False)


def test_bad_file_name_and_impossible_rating(tmp_path):
    files = layout()
    files["aclImdb/train/pos/notes.txt"] = b"hello"
    with pytest.raises(DataError, match="named <id>_<rating>.txt"):
        load_imdb(write_archive(tmp_path / "a.tar.gz", files), strict=False)
    files = layout()
    files["aclImdb/train/pos/99_2.txt"] = b"hello"
    with pytest.raises(DataError, match="rating 2 is impossible"):
        load_imdb(write_archive(tmp_path / "b.tar.gz", files), strict=False)


def test_locate_order_explicit_then_env_then_cache(tmp_path, monkeypatch, tiny_archive):
    with pytest.raises(DataError, match="does not exist"):
        locate_dataset(tmp_path / "nowhere")
    monkeypatch.setenv("POLARITY_DATA", str(tiny_archive))
    assert locate_dataset() == tiny_archive
    other = write_archive(tmp_path / "other.tar.gz", layout())
    assert locate_dataset(other) == other
    monkeypatch.delenv("POLARITY_DATA")
    with pytest.raises(DataError, match="not found"):
        locate_dataset(download=False)
    cached = cache_dir() / "aclImdb_v1.tar.gz"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(tiny_archive.read_bytes())
    assert locate_dataset(download=False) == cached


def test_validation_split_is_seeded_and_stratified(tiny_archive):
    train = load_imdb(tiny_archive, strict=False).train
    fit, valid = validation_split(train, 0.5, seed=3)
    assert len(fit) + len(valid) == len(train)
    assert (valid.labels == 1).sum() == (valid.labels == 0).sum() == 3
    assert not set(fit.texts) & set(valid.texts)
    again = validation_split(train, 0.5, seed=3)[1]
    assert again.texts == valid.texts
    assert validation_split(train, 0.5, seed=4)[1].texts != valid.texts
    with pytest.raises(DataError, match="fraction"):
        validation_split(train, 1.0, seed=0)


@pytest.mark.real_data
def test_real_archive_counts_and_lengths(real_archive):
    corpus = load_imdb(real_archive)
    for reviews in (corpus.train, corpus.test):
        assert (reviews.labels == 1).sum() == 12_500 and (reviews.labels == 0).sum() == 12_500
        assert set(np.unique(reviews.ratings)) == {1, 2, 3, 4, 7, 8, 9, 10}
    assert len(corpus.unsup) == 50_000
    assert len(set(corpus.test.texts)) > 24_500  # a few duplicate reviews exist in the official data
    # the cached second load is the same data
    assert load_imdb(real_archive).test.texts[:100] == corpus.test.texts[:100]

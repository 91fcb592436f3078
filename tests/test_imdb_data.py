import gzip
import os
import re
import sys
import time
import warnings
from pathlib import Path

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
    load_imdb(tiny_archive, strict=False)  # its parse cache must not let the partial copy pass as whole
    with pytest.raises(DataError, match=r"train/pos/: expected 12,500 reviews, found 6"):
        load_imdb(tiny_archive)


def test_training_reads_the_imdb_archive_strictly_unless_told(tiny_archive, tmp_path):
    """`train_recipe(data=...)` (and `prepare_data`) check the official counts as `polarity train`
    does: a partial copy is refused by default, with the hint, and trains with ``strict=False``; the
    run's log says when the archive is read for the first time."""
    from polarity.training import load_recipe, train_recipe
    from polarity.training.pipeline import prepare_data

    recipe = load_recipe("mean-embedding", {"data.num_words": 50, "training.epochs": 1, "data.valid_fraction": 0.5})
    refusal = r"pass strict=False / --no-strict for a partial copy(.|\n)*found 6"
    with pytest.raises(DataError, match=refusal):
        train_recipe(recipe, tmp_path / "strict", data=str(tiny_archive), progress=False, log=lambda *a: None)
    assert not (tmp_path / "strict").exists()
    with pytest.raises(DataError, match=refusal):
        prepare_data(recipe, data=str(tiny_archive))
    lines = []
    metrics = train_recipe(recipe, tmp_path / "partial", data=str(tiny_archive), strict=False, progress=False,
                           log=lines.append)
    assert metrics["epochs_run"] == 1
    assert "reading every review of tiny.tar.gz (the first time only: a cache makes later reads fast)" in lines


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


def test_the_cache_follows_the_folders_read_where_an_aclimdb_folder_sits_beside_train(tmp_path):
    source = write_folder(tmp_path / "copy", layout())  # copy/aclImdb, holding train/ and test/
    (source / "aclImdb" / "train" / "pos").mkdir(parents=True)  # a stray (here empty) copy inside it
    assert len(load_imdb(source, strict=False).train) == 12
    (source / "train" / "pos" / "99_9.txt").write_text("A new and great review.")
    os.utime(source / "train" / "pos", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert load_imdb(source, strict=False).train.texts[-1] == "A new and great review."


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
    with pytest.raises(DataError, match=r"test/pos/3_10\.txt in \S+ is not valid UTF-8 \(byte 3: b'\\xe9'\)$"):
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
    with pytest.raises(DataError, match=r"99_2\.txt in \S+: rating 2 is impossible in train/pos/ \(expected 7-10\)$"):
        load_imdb(write_archive(tmp_path / "b.tar.gz", files), strict=False)


@pytest.mark.parametrize("folder, rating, expected", [
    ("train/neg", 0, "1-4"), ("train/neg", 5, "1-4"), ("test/pos", 6, "7-10"), ("test/pos", 11, "7-10"),
    ("train/unsup", 1, "0-0")])
def test_ratings_just_outside_their_folders_range_are_refused(tmp_path, folder, rating, expected):
    files = layout()
    files[f"aclImdb/{folder}/98_{rating}.txt"] = b"a review"
    with pytest.raises(DataError, match=rf"rating {rating} is impossible in {folder}/ \(expected {expected}\)$"):
        load_imdb(write_folder(tmp_path, files), strict=False)


def test_ratings_at_the_edges_of_their_folders_range_are_read(tmp_path):
    files = layout()
    edges = {"train/neg": 1, "test/neg": 4, "train/pos": 7, "test/pos": 10}
    for folder, rating in edges.items():
        files[f"aclImdb/{folder}/98_{rating}.txt"] = f"a review rated {rating}".encode()
    corpus = load_imdb(write_folder(tmp_path, files), strict=False)
    for folder, rating in edges.items():
        split = corpus.split(folder.split("/")[0])
        assert rating in split.ratings[[t == f"a review rated {rating}" for t in split.texts]].tolist()


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


# -- where the data comes from: environment, cache folder, download ------------------------------------
def test_default_cache_is_the_user_cache_named_polarity(tmp_path, monkeypatch):
    monkeypatch.delenv("POLARITY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform != "linux":
        pytest.skip("the XDG cache convention is Linux's")
    assert cache_dir() == tmp_path / "xdg" / "polarity"


def test_missing_locations_are_named_by_their_origin(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"^--data points to .*nowhere, which does not exist$"):
        locate_dataset(tmp_path / "nowhere")
    monkeypatch.setenv("POLARITY_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=r"^POLARITY_DATA points to .*elsewhere, which does not exist$"):
        locate_dataset()
    monkeypatch.delenv("POLARITY_DATA")
    with pytest.raises(DataError, match=r"^the IMDB dataset was not found: pass --data PATH \(the aclImdb_v1"):
        locate_dataset(download=False)
    with pytest.raises(DataError, match=r"^the IMDB dataset was not found"):
        load_imdb(download=False)


def test_an_extracted_folder_in_the_cache_is_found(tmp_path):
    write_folder(cache_dir(), layout())
    assert locate_dataset(download=False) == cache_dir() / "aclImdb"
    assert len(load_imdb(download=False, strict=False).train) == 12


class FakeDownload:
    """Stands in for pooch.retrieve: records the call and writes a small archive, or fails."""

    def __init__(self, failure: Exception | None = None):
        self.calls, self.failure = [], failure

    def __call__(self, url, known_hash, fname, path, progressbar):
        self.calls.append(dict(url=url, known_hash=known_hash, fname=fname, path=path, progressbar=progressbar))
        if self.failure is not None:
            raise self.failure
        return str(write_archive(path / fname, layout()))


def test_download_is_the_last_resort_and_checked_by_md5(tmp_path, monkeypatch):
    import pooch

    fake = FakeDownload()
    monkeypatch.setattr(pooch, "retrieve", fake)
    nested = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("POLARITY_CACHE", str(nested))
    corpus = load_imdb(strict=False)  # nothing given, nothing cached: download
    assert len(corpus.test) == 12
    assert fake.calls == [dict(url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                               known_hash="md5:7c2ac02c03563afcf9b574c7e56c153a", fname="aclImdb_v1.tar.gz",
                               path=nested, progressbar=True)]
    assert corpus.source == str(nested / "aclImdb_v1.tar.gz")
    assert locate_dataset() == nested / "aclImdb_v1.tar.gz"  # now cached: no second download
    assert len(fake.calls) == 1
    from polarity.data.imdb import download_dataset

    assert download_dataset(nested) == nested / "aclImdb_v1.tar.gz"  # the folder may exist already


@pytest.mark.parametrize("failure, message", [
    (ValueError("MD5 hash of downloaded file does not match"), r"^the downloaded archive failed its MD5 check: MD5 hash"),
    (ConnectionError("no route to host"), r"^could not download https://ai\.stanford\.edu/\S+: no route to host$"),
])
def test_download_failures_are_one_line_messages(monkeypatch, failure, message):
    import pooch

    monkeypatch.setattr(pooch, "retrieve", FakeDownload(failure))
    with pytest.raises(DataError, match=message):
        locate_dataset()


# -- splits ---------------------------------------------------------------------------------------------
def test_named_splits_of_a_corpus(tiny_archive):
    corpus = load_imdb(tiny_archive, strict=False)
    fit, valid = validation_split(corpus.train, 0.1, seed=0)
    assert corpus.split("valid").texts == valid.texts and len(valid) == 2  # 10 %, seed 0 by default
    assert corpus.split("fit").texts == fit.texts and len(fit) == 10
    assert (fit.name, valid.name) == ("train-fit", "valid")
    assert corpus.split("fit", seed=5).texts == validation_split(corpus.train, 0.1, seed=5)[0].texts
    assert corpus.split("test") is corpus.test
    with pytest.raises(DataError, match=r"^unknown split 'dev'; choose from train, test, unsup, valid, fit$"):
        corpus.split("dev")


def test_an_empty_subset_is_empty(tiny_archive):
    empty = load_imdb(tiny_archive, strict=False).train.subset([])
    assert (len(empty), empty.labels.tolist(), empty.ids.tolist()) == (0, [], [])


# -- the parse cache ------------------------------------------------------------------------------------
def test_cached_load_reads_nothing_again_and_keeps_every_field(tiny_archive):
    said = []
    first = load_imdb(tiny_archive, strict=False, log=said.append)
    assert said == ["reading every review of tiny.tar.gz (the first time only: a cache makes later reads fast)"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unusable cache would warn and parse again
        second = load_imdb(tiny_archive, strict=False, log=said.append)
    assert len(said) == 1
    assert second.source == first.source == str(tiny_archive.resolve())
    for name in ("train", "test", "unsup"):
        a, b = getattr(first, name), getattr(second, name)
        assert a.texts == b.texts
        for field in ("labels", "ratings", "ids"):
            assert getattr(a, field).tolist() == getattr(b, field).tolist()


def test_without_the_cache_nothing_is_written(tiny_archive):
    load_imdb(tiny_archive, strict=False, use_cache=False)
    assert not list(cache_dir().glob("*"))


def test_an_unreadable_cache_warns_and_is_rebuilt(tiny_archive):
    load_imdb(tiny_archive, strict=False)
    (cached,) = cache_dir().glob("aclimdb-*.npz")
    cached.write_bytes(b"not a zip file")
    with pytest.warns(RuntimeWarning) as caught:
        corpus = load_imdb(tiny_archive, strict=False)
    (warning,) = caught
    assert str(warning.message) == (f"the parse cache {cached} is unreadable (ValueError); reading tiny.tar.gz "
                                    "again and rebuilding it")
    assert corpus.train.texts[6] == POSITIVE[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_imdb(tiny_archive, strict=False).train.texts[6] == POSITIVE[0]


def test_cache_follows_changes_of_an_extracted_folder_given_by_its_parent(tmp_path):
    root = write_folder(tmp_path / "data", layout())
    assert len(load_imdb(root.parent, strict=False).train) == 12
    (root / "train" / "pos" / "6_9.txt").write_bytes(b"A seventh great review, wonderful.")
    later = time.time_ns() + 10**9  # a folder's time may not move within a coarse timestamp tick
    os.utime(root / "train" / "pos", ns=(later, later))
    assert len(load_imdb(root.parent, strict=False).train) == 13


# -- reading the layout --------------------------------------------------------------------------------
def test_archive_members_outside_the_layout_are_skipped_wherever_they_are(tmp_path):
    files = {"aclImdb/test/unsup/0_0.txt": b"not an official folder", **layout()}
    corpus = load_imdb(write_archive(tmp_path / "a.tar.gz", files), strict=False)
    assert (len(corpus.train), len(corpus.test), len(corpus.unsup)) == (12, 12, 3)


def test_folder_entries_that_are_not_files_are_skipped(tmp_path):
    root = write_folder(tmp_path, layout())
    (root / "train" / "pos" / "0_subfolder").mkdir()
    assert len(load_imdb(root, strict=False).train) == 12


def test_a_folder_holding_the_layout_and_an_aclImdb_folder_is_read_itself(tmp_path):
    root = write_folder(tmp_path, layout())
    (root / "aclImdb").mkdir()  # e.g. an unrelated, empty folder of the same name
    assert len(load_imdb(root, strict=False).train) == 12


def test_an_empty_folder_is_named_in_the_message(tmp_path):
    with pytest.raises(DataError, match=rf"^missing folder train/pos/ in {tmp_path} \(the official layout"):
        load_imdb(tmp_path, strict=False)


def test_a_source_that_is_neither_file_nor_folder(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"pipe is neither a file nor a folder$"):
        load_imdb(fifo, strict=False, use_cache=False)


def test_an_unreadable_review_file_is_named(tmp_path, monkeypatch):
    root = write_folder(tmp_path, layout())
    locked = root / "test" / "neg" / "2_3.txt"
    read_bytes = Path.read_bytes

    def refuse(self):  # as for a file without read permission (chmod has no effect for root)
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(DataError, match=rf"^cannot read {re.escape(str(locked))}: \[Errno 13\] Permission denied$"):
        load_imdb(root, strict=False)


def test_every_problem_of_a_source_is_listed_on_its_own_line(tmp_path):
    files = {k: v for k, v in layout().items() if "/test/pos/" not in k}
    files["aclImdb/train/pos/0_9.txt"] = b"Another review with the id of 0_7.txt."
    root = write_archive(tmp_path / "a.tar.gz", files)
    with pytest.raises(DataError) as caught:
        load_imdb(root, strict=False)
    assert str(caught.value).splitlines()[0] == f"{root} does not hold the aclImdb dataset as expected:"
    assert str(caught.value).splitlines()[1:] == [
        "  train/pos/: some review ids appear twice", "  test/pos/: expected 12,500 reviews, found 0"]
    assert "--no-strict" not in str(caught.value)
    with pytest.raises(DataError, match=r"as expected \(pass strict=False / --no-strict for a partial copy"):
        load_imdb(root)


def test_reading_writes_no_progress_bar_when_stderr_is_not_a_terminal(tiny_archive, capfd):
    load_imdb(tiny_archive, strict=False)
    assert capfd.readouterr().err == ""

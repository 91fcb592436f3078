"""The Large Movie Review Dataset (aclImdb v1.0): locate, validate, parse once, cache, split.

A source is the official ``.tar.gz`` archive or an extracted ``aclImdb/`` folder. The first read
parses every review (strict UTF-8) and keeps a compact cache keyed by the source's path, size and
modification time, so later reads take a fraction of a second.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polarity.data.labelled import LabelledTexts, stratified_indices
from polarity.errors import DataError
from polarity.files import atomic_write

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
OFFICIAL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
OFFICIAL_COUNTS = {"train/pos": 12_500, "train/neg": 12_500, "test/pos": 12_500, "test/neg": 12_500, "train/unsup": 50_000}
FOLDERS = tuple(OFFICIAL_COUNTS)
SPLITS = ("train", "test", "unsup")
SPLIT_FOLDERS = {"train": ("train/neg", "train/pos"), "test": ("test/neg", "test/pos"), "unsup": ("train/unsup",)}
LABELS = {"pos": 1, "neg": 0, "unsup": -1}
RATINGS = {"pos": range(7, 11), "neg": range(1, 5), "unsup": range(0, 1)}
CACHE_FORMAT = 1
_MEMBER = re.compile(r"^(?:.*/)?(train|test)/(pos|neg|unsup)/([^/]+)$")
_FILENAME = re.compile(r"^(\d+)_(\d+)\.txt$")


# -- where the data is ---------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Folder for downloads and parse caches: ``$POLARITY_CACHE`` or the platform's user cache."""
    env = os.environ.get("POLARITY_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("polarity"))


def locate_dataset(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Find the dataset: ``path``, then ``$POLARITY_DATA``, then the cache folder, then download it."""
    for origin, candidate in (("--data", path), ("POLARITY_DATA", os.environ.get("POLARITY_DATA"))):
        if candidate:
            found = Path(candidate).expanduser()
            if not found.exists():
                raise DataError(f"{origin} points to {found}, which does not exist")
            return found
    cached = cache_dir()
    for candidate in (cached / ARCHIVE_NAME, cached / "aclImdb"):
        if candidate.exists():
            return candidate
    if not download:
        raise DataError(
            "the IMDB dataset was not found: pass --data PATH (the aclImdb_v1.tar.gz archive or an "
            f"extracted aclImdb/ folder), set POLARITY_DATA, or allow the download into {cached}"
        )
    return download_dataset(cached)


def download_dataset(folder: Path) -> Path:
    """Download the official archive into ``folder`` with a progress bar, checked by MD5."""
    folder.mkdir(parents=True, exist_ok=True)
    return fetch(OFFICIAL_URL, f"md5:{OFFICIAL_MD5}", ARCHIVE_NAME, folder, "archive failed its MD5 check")


def fetch(url: str, known_hash: str, fname: str, folder: Path, failed_check: str, progressbar: bool = True) -> Path:
    """``url`` downloaded by pooch into ``folder``/``fname``, checked by ``known_hash`` ("md5:...")."""
    import pooch

    try:
        return Path(pooch.retrieve(url, known_hash=known_hash, fname=fname, path=folder, progressbar=progressbar))
    except ValueError as exc:  # pooch reports a checksum mismatch as ValueError
        raise DataError(f"the downloaded {failed_check}: {exc}") from exc
    except Exception as exc:  # network errors come in many types
        raise DataError(f"could not download {url}: {exc}") from exc


# -- the parsed corpus -----------------------------------------------------------------------------------
@dataclass
class ReviewSet:
    """Reviews of one split: raw text, label (1 pos, 0 neg, -1 unlabelled), star rating and file id."""

    name: str
    texts: list[str]
    labels: np.ndarray
    ratings: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray, name: str | None = None) -> "ReviewSet":
        indices = np.asarray(indices, dtype=np.int64)
        return ReviewSet(
            name or self.name,
            [self.texts[i] for i in indices],
            self.labels[indices],
            self.ratings[indices],
            self.ids[indices],
        )

    def labelled(self) -> LabelledTexts:
        """The reviews as :class:`LabelledTexts` (0 negative, 1 positive); unlabelled ones raise :class:`DataError`."""
        if (self.labels < 0).any():
            raise DataError(f"the {self.name} reviews are unlabelled; use the train, test, fit or valid split")
        return LabelledTexts(list(self.texts), self.labels.astype(np.int64), ["negative", "positive"], self.name)


@dataclass
class ImdbCorpus:
    """All reviews of one source, by split."""

    source: str
    train: ReviewSet
    test: ReviewSet
    unsup: ReviewSet

    def split(self, name: str, *, valid_fraction: float = 0.1, seed: int = 0) -> ReviewSet:
        """``train``, ``test``, ``unsup``, or ``valid`` / ``fit`` (the two parts of ``train``)."""
        if name in SPLITS:
            return getattr(self, name)
        if name in ("valid", "fit"):
            fit, valid = validation_split(self.train, valid_fraction, seed)
            return valid if name == "valid" else fit
        raise DataError(f"unknown split {name!r}; choose from train, test, unsup, valid, fit")


def validation_split(reviews: ReviewSet, fraction: float, seed: int) -> tuple[ReviewSet, ReviewSet]:
    """Seeded split stratified by label: (rest, validation), each in the original order."""
    rest, held = stratified_indices(reviews.labels, fraction, seed)
    return reviews.subset(rest, name=f"{reviews.name}-fit"), reviews.subset(held, name="valid")


def load_imdb(
    path: str | os.PathLike | None = None, *, strict: bool = True, download: bool = True, use_cache: bool = True,
    log: Callable[[str], None] | None = None,
) -> ImdbCorpus:
    """Load every review of the dataset (see :func:`locate_dataset` for where it is looked for).

    ``strict`` checks the official counts (12,500 per split and label, 50,000 unlabelled); without
    it any non-empty folders in the official layout are accepted, e.g. a sample of the dataset.
    """
    source = locate_dataset(path, download=download).resolve()
    cache_file = cache_dir() / f"aclimdb-{_source_key(source, strict)}.npz" if use_cache else None
    if cache_file is not None and cache_file.exists():
        try:
            return _read_cache(cache_file, source)
        except (OSError, ValueError, KeyError, EOFError, zlib.error, UnicodeDecodeError, DataError) as exc:
            warnings.warn(f"the parse cache {cache_file} is unreadable ({type(exc).__name__}); reading {source.name} "
                          "again and rebuilding it", RuntimeWarning, stacklevel=2)
    if log is not None:
        log(f"reading every review of {source.name} (the first time only: a cache makes later reads fast)")
    records = list(_iter_source(source))
    corpus = _build_corpus(source, records, strict)
    if cache_file is not None:
        _write_cache(cache_file, records)
    return corpus


# -- reading archives and folders -------------------------------------------------------------------------
Record = tuple[str, int, int, str]  # folder ("train/pos"), file id, rating, text


def _iter_source(source: Path) -> Iterator[Record]:
    if source.is_dir():
        yield from _iter_folder(source)
    elif source.is_file():
        yield from _iter_archive(source)
    else:
        raise DataError(f"{source} is neither a file nor a folder")


def _parse_name(folder: str, filename: str, where: str) -> tuple[int, int]:
    match = _FILENAME.match(filename)
    if not match:
        raise DataError(f"unexpected file {where}: review files are named <id>_<rating>.txt")
    file_id, rating = int(match.group(1)), int(match.group(2))
    kind = folder.split("/")[1]
    if rating not in RATINGS[kind]:
        expected = RATINGS[kind]
        raise DataError(f"{where}: rating {rating} is impossible in {folder}/ (expected {expected.start}-{expected.stop - 1})")
    return file_id, rating


def _decode(raw: bytes, where: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from exc
    if not text.strip():
        raise DataError(f"{where} is empty")
    return text


def _iter_archive(archive: Path) -> Iterator[Record]:
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in _progress(tar, f"reading {archive.name}"):
                match = _MEMBER.match(member.name)
                if not match or not member.isfile():
                    continue
                folder = f"{match.group(1)}/{match.group(2)}"
                if folder not in OFFICIAL_COUNTS:
                    continue
                where = f"{member.name} in {archive}"
                file_id, rating = _parse_name(folder, match.group(3), where)
                handle = tar.extractfile(member)
                if handle is None:
                    raise DataError(f"cannot read {where}")
                yield folder, file_id, rating, _decode(handle.read(), where)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{archive} is not a readable .tar.gz archive (truncated or corrupt?): {exc}") from exc


def _dataset_root(folder: Path) -> Path:
    """The folder holding train/ and test/: ``folder``, or its aclImdb/ when it has no train/ of its own."""
    return folder / "aclImdb" if (folder / "aclImdb").is_dir() and not (folder / "train").is_dir() else folder


def _iter_folder(root: Path) -> Iterator[Record]:
    root = _dataset_root(root)
    for folder in FOLDERS:
        directory = root / folder
        if not directory.is_dir():
            raise DataError(f"missing folder {folder}/ in {root} (the official layout has {', '.join(FOLDERS)})")
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.is_file():
                continue
            where = str(Path(entry.path))
            file_id, rating = _parse_name(folder, entry.name, where)
            try:
                raw = Path(entry.path).read_bytes()
            except OSError as exc:
                raise DataError(f"cannot read {where}: {exc}") from exc
            yield folder, file_id, rating, _decode(raw, where)


def _progress(iterable, description: str):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=description, unit=" files", total=None, disable=None, leave=False)


def _build_corpus(source: Path, records: list[Record], strict: bool) -> ImdbCorpus:
    by_folder: dict[str, list[Record]] = {folder: [] for folder in FOLDERS}
    for record in records:
        by_folder[record[0]].append(record)
    problems = []
    for folder, expected in OFFICIAL_COUNTS.items():
        found = len(by_folder[folder])
        if found == 0 and folder != "train/unsup" or strict and found != expected:
            problems.append(f"{folder}/: expected {expected:,} reviews, found {found:,}")
        ids = [r[1] for r in by_folder[folder]]
        if len(set(ids)) != len(ids):
            problems.append(f"{folder}/: some review ids appear twice")
    if problems:
        hint = "" if not strict else " (pass strict=False / --no-strict for a partial copy of the dataset)"
        raise DataError(f"{source} does not hold the aclImdb dataset as expected{hint}:\n  " + "\n  ".join(problems))
    sets = {}
    for split, folders in SPLIT_FOLDERS.items():
        chosen = sorted((r for f in folders for r in by_folder[f]), key=lambda r: (r[0], r[1]))
        sets[split] = ReviewSet(
            split,
            [r[3] for r in chosen],
            np.array([LABELS[r[0].split("/")[1]] for r in chosen], dtype=np.int8),
            np.array([r[2] for r in chosen], dtype=np.int8),
            np.array([r[1] for r in chosen], dtype=np.int64),
        )
    return ImdbCorpus(str(source), sets["train"], sets["test"], sets["unsup"])


# -- cache ----------------------------------------------------------------------------------------------
def _source_key(source: Path, strict: bool) -> str:
    if source.is_dir():
        root = _dataset_root(source)
        stamps = [(f, (root / f).stat().st_mtime_ns if (root / f).exists() else 0) for f in FOLDERS]
    else:
        st = source.stat()
        stamps = [(st.st_size, st.st_mtime_ns)]
    text = f"{CACHE_FORMAT}|{source}|{stamps}|{strict}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_cache(path: Path, records: list[Record]) -> None:
    encoded = [r[3].encode("utf-8") for r in records]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    try:
        with atomic_write(path, text=False) as handle:
            np.savez(
                handle,
                text=np.frombuffer(b"".join(encoded), dtype=np.uint8),
                offsets=offsets,
                folder=np.array([FOLDERS.index(r[0]) for r in records], dtype=np.int8),
                file_id=np.array([r[1] for r in records], dtype=np.int64),
                rating=np.array([r[2] for r in records], dtype=np.int8),
            )
    except OSError:
        pass  # a read-only cache folder costs speed, not correctness


def _read_cache(path: Path, source: Path) -> ImdbCorpus:
    with np.load(path, allow_pickle=False) as data:
        blob = data["text"].tobytes()
        offsets, folders, file_ids, ratings = data["offsets"], data["folder"], data["file_id"], data["rating"]
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    records = [
        (FOLDERS[f], i, r, blob[s:e].decode("utf-8"))
        for f, i, r, s, e in zip(folders.tolist(), file_ids.tolist(), ratings.tolist(), starts, ends)
    ]
    return _build_corpus(source, records, strict=False)

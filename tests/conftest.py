"""Shared fixtures: small datasets in the official aclImdb layout, built by the tests themselves."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from hypothesis import settings

# Timing belongs in bench/, not in tests: no per-example deadline (a busy 2-core machine is slow).
# The suite (and CI) draws the same examples on every run, so a landing is never refused for a bug
# it did not add. POLARITY_HYPOTHESIS=random draws new ones (with POLARITY_PROPERTY_SCALE=10, the
# longer hunt of docs/RELIABILITY.md); a failure there prints the seed that reproduces it
# (`--hypothesis-seed=N`).
settings.register_profile("polarity", deadline=None, max_examples=100, derandomize=True, database=None)
settings.register_profile("random", deadline=None, max_examples=100, print_blob=True)
settings.load_profile("random" if os.environ.get("POLARITY_HYPOTHESIS") == "random" else "polarity")

POSITIVE = [
    "A wonderful film, brilliant acting and a great story. I loved it.",
    "Great movie! The cast is excellent and the ending is wonderful.",
    "One of the best films I have seen: superb, moving and beautiful.",
    "I loved this movie. Brilliant direction, great music, a perfect cast.",
    "An excellent, touching film.<br /><br />Highly recommended, a wonderful time.",
    "Superb! A beautiful story told with great care; the actors are brilliant.",
]
NEGATIVE = [
    "A terrible film, awful acting and a boring story. I hated it.",
    "Worst movie ever! The cast is bad and the ending is awful.",
    "One of the worst films I have seen: dull, stupid and ugly.",
    "I hated this movie. Awful direction, terrible music, a bad cast.",
    "A boring, pointless film.<br /><br />Avoid it, a waste of time.",
    "Dreadful! A stupid story told without care; the actors are terrible.",
]
UNSUP = ["Some film about a man and his dog.", "A movie. It has actors in it.", "I watched this on a Tuesday."]

REAL_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"


def layout(pos=POSITIVE, neg=NEGATIVE, unsup=UNSUP) -> dict[str, bytes]:
    """Relative path -> content of a small dataset in the official layout."""
    files: dict[str, bytes] = {"aclImdb/README": b"small test copy\n", "aclImdb/imdb.vocab": b"the\n"}
    for split in ("train", "test"):
        for kind, texts, ratings in (("pos", pos, (7, 8, 9, 10)), ("neg", neg, (1, 2, 3, 4))):
            for i, text in enumerate(texts):
                files[f"aclImdb/{split}/{kind}/{i}_{ratings[i % 4]}.txt"] = text.encode()
    for i, text in enumerate(unsup):
        files[f"aclImdb/train/unsup/{i}_0.txt"] = text.encode()
    files["aclImdb/train/labeledBow.feat"] = b"0 0:1\n"
    return files


def write_archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root / "aclImdb"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache folder and no dataset location from the environment."""
    monkeypatch.setenv("POLARITY_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("POLARITY_DATA", raising=False)


@pytest.fixture
def thread_settings_kept():
    """PyTorch's thread count and the interpreter's switch interval as they were, after the test."""
    import sys

    import torch

    threads, interval = torch.get_num_threads(), sys.getswitchinterval()
    yield
    torch.set_num_threads(threads)
    sys.setswitchinterval(interval)


@pytest.fixture
def tiny_archive(tmp_path) -> Path:
    return write_archive(tmp_path / "tiny.tar.gz", layout())


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    return write_folder(tmp_path / "extracted", layout())


@pytest.fixture(scope="session")
def real_archive() -> Path:
    """The full dataset: $POLARITY_TEST_DATA, else the shared copy next to the project."""
    path = Path(os.environ.get("POLARITY_TEST_DATA", REAL_ARCHIVE))
    if not path.exists():
        pytest.skip(f"the full aclImdb archive is not available at {path}")
    return path


GOOD = ["great", "wonderful", "excellent", "brilliant", "superb", "loved", "beautiful", "best"]
BAD = ["awful", "terrible", "boring", "worst", "dull", "hated", "stupid", "waste"]
FILLER = ["the", "film", "movie", "a", "story", "actors", "it", "was", "and", "plot", "scene", "of"]


def synthetic_reviews(n: int, positive: bool, seed: int) -> list[str]:
    """Reviews made of filler words and a few clearly positive or negative words."""
    import random

    rng = random.Random(seed)
    words = GOOD if positive else BAD
    reviews = []
    for _ in range(n):
        length = rng.randint(8, 40)
        tokens = [rng.choice(FILLER) for _ in range(length)]
        for _ in range(rng.randint(1, 3)):
            tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(words))
        reviews.append(" ".join(tokens).capitalize() + ".")
    return reviews


def step_loop_clock(monkeypatch, seconds: float, start: float = 0.0) -> None:
    """The training loop's clock moves ``seconds`` each time the loop reads it."""
    import types

    from polarity.training import loop

    now = [start]

    def perf_counter() -> float:
        now[0] += seconds
        return now[0]

    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=perf_counter))


def two_epochs_twice(monkeypatch, train) -> list[list[list[int]]]:
    """The items the training loop steps through in each of two epochs, for two runs: ``train(name)``
    trains two epochs into a folder called ``name``."""
    from polarity.training.loop import Loop

    real_step = Loop.train_step
    seen: list[list[int]] = []

    def record(self, indices):
        seen.append([int(i) for i in indices])
        return real_step(self, indices)

    monkeypatch.setattr(Loop, "train_step", record)
    runs = []
    for name in ("a", "b"):
        seen.clear()
        train(name)
        steps = len(seen) // 2
        runs.append([sum(seen[:steps], []), sum(seen[steps:], [])])
    return runs


def sentiment_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """(text, label) rows of synthetic reviews, positive and negative in turn."""
    pos, neg = synthetic_reviews(n, True, seed), synthetic_reviews(n, False, seed + 100)
    return [row for pair in zip(((t, "positive") for t in pos), ((t, "negative") for t in neg)) for row in pair]


def write_csv(path, rows, header=("review", "sentiment")):
    """A CSV file of ``rows`` under ``header``; returns its path."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def saved_figures(monkeypatch):
    """The matplotlib figures written to image files, in the order they were written: what a PNG shows."""
    from matplotlib.figure import Figure

    saved, savefig = [], Figure.savefig

    def record(figure, *args, **kwargs):
        saved.append(figure)
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


@pytest.fixture(scope="session")
def sentiment_archive(tmp_path_factory) -> Path:
    """A learnable dataset in the official layout: 120 reviews per split and label."""
    files = layout(
        pos=synthetic_reviews(120, True, seed=1), neg=synthetic_reviews(120, False, seed=2)
    )
    test_files = layout(pos=synthetic_reviews(120, True, seed=3), neg=synthetic_reviews(120, False, seed=4))
    files.update({k: v for k, v in test_files.items() if "/test/" in k})
    return write_archive(tmp_path_factory.mktemp("synthetic") / "synthetic.tar.gz", files)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A mean-embedding model (labels negative/positive) trained in about a second on synthetic reviews."""
    from polarity.training import load_recipe, train_recipe

    folder = tmp_path_factory.mktemp("tiny-model") / "tiny"
    texts = synthetic_reviews(60, True, 1) + synthetic_reviews(60, False, 2)
    train_recipe(load_recipe("mean-embedding", {"data.num_words": 200, "training.epochs": 2}), folder,
                 train=(texts, ["positive"] * 60 + ["negative"] * 60), progress=False, log=lambda *a: None)
    return folder


def report_counts(tmp_path_factory, name: str, counts: dict, heading: str, width: int) -> None:
    """Write ``counts`` (generated inputs per surface, requests per operation) to a JSON file in the
    session's temporary folder and print them, for the docs."""
    import json

    report = tmp_path_factory.getbasetemp() / f"{name}.json"
    report.write_text(json.dumps(dict(sorted(counts.items())), indent=2) + "\n", encoding="utf-8")
    print(f"\n{heading} ({report}):")
    for key, count in sorted(counts.items()):
        print(f"  {key:<{width}}{count:>6}")

"""Turn Pang & Lee's sentence polarity dataset v1.0 into train/test CSV files for `polarity train`.

The dataset (rt-polaritydata.tar.gz, 10,662 Rotten Tomatoes snippets) has one file per label,
`rt-polarity.pos` and `rt-polarity.neg`, one snippet per line, in Windows-1252. This writes a
seeded, stratified cross-validation fold of it:

    python docs/examples/rt_polarity.py rt-polaritydata --out rt            # fold 0 of 10
    python docs/examples/rt_polarity.py rt-polaritydata --out rt --fold 3   # another fold
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def read_snippets(folder: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label in ("pos", "neg"):
        raw = (folder / f"rt-polarity.{label}").read_bytes().decode("cp1252")
        lines = [line.strip() for line in raw.split("\n") if line.strip()]  # "\n" only: the files hold U+2026
        texts += lines
        labels += ["positive" if label == "pos" else "negative"] * len(lines)
    return texts, labels


def fold_indices(labels: list[str], folds: int, fold: int, seed: int) -> np.ndarray:
    """Indices of the test part of ``fold``: every label dealt round-robin over the folds after a shuffle."""
    rng = np.random.default_rng(seed)
    labels_array = np.array(labels)
    chosen = []
    for label in sorted(set(labels)):
        members = rng.permutation(np.flatnonzero(labels_array == label))
        chosen.append(members[fold::folds])
    return np.sort(np.concatenate(chosen))


def write(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence", "label"])
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the extracted rt-polaritydata folder")
    parser.add_argument("--out", type=Path, default=Path("rt"), help="where to write train.csv and test.csv")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    texts, labels = read_snippets(args.folder)
    test = set(fold_indices(labels, args.folds, args.fold, args.seed).tolist())
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out / "train.csv", ((t, y) for i, (t, y) in enumerate(zip(texts, labels)) if i not in test))
    write(args.out / "test.csv", ((t, y) for i, (t, y) in enumerate(zip(texts, labels)) if i in test))
    print(f"{args.out}/train.csv: {len(texts) - len(test):,} snippets; {args.out}/test.csv: {len(test):,} (fold {args.fold} "
          f"of {args.folds})")


if __name__ == "__main__":
    main()

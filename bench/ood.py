"""Out-of-domain accuracy of model folders on the small sentiment sets beside the project (evaluation only).

    python -m bench.ood runs/tfidf-lr runs/default ... [--ood ../shared/data/ood] [--json FILE]

Sets: the UCI sentiment sentences (amazon, imdb, yelp; 1,000 each), Pang & Lee's 2,000 movie
reviews (polarity v2.0) and their 10,662 sentence snippets (sentence polarity v1.0, cp1252).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from polarity.inference import Predictor
from polarity.inference.evaluation import evaluate_texts

DEFAULT_OOD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ood"


def uci(path: Path) -> tuple[list[str], np.ndarray]:
    """``sentence<TAB>label`` lines, split on LF only (the imdb file holds U+0085 characters)."""
    rows = [line.rsplit("\t", 1) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    return [text for text, _ in rows], np.array([int(label) for _, label in rows])


def pang_lee_reviews(root: Path) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for label, name in ((0, "neg"), (1, "pos")):
        for file in sorted((root / "txt_sentoken" / name).glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    return texts, np.array(labels)


def pang_lee_sentences(root: Path) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for label, name in ((0, "rt-polarity.neg"), (1, "rt-polarity.pos")):
        lines = [line for line in (root / name).read_text(encoding="cp1252", errors="replace").split("\n") if line.strip()]
        texts += lines
        labels += [label] * len(lines)
    return texts, np.array(labels)


def ood_sets(root: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    uci_root = root / "sentiment_labelled_sentences"
    return {
        "UCI amazon": uci(uci_root / "amazon_cells_labelled.txt"),
        "UCI imdb": uci(uci_root / "imdb_labelled.txt"),
        "UCI yelp": uci(uci_root / "yelp_labelled.txt"),
        "Pang & Lee reviews": pang_lee_reviews(root / "review_polarity"),
        "RT sentences": pang_lee_sentences(root / "rt-polaritydata"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--ood", type=Path, default=DEFAULT_OOD)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sets = ood_sets(args.ood)
    results = {}
    for folder in args.models:
        predictor = Predictor.load(folder)
        results[str(folder)] = {}
        for name, (texts, labels) in sets.items():
            report, _ = evaluate_texts(predictor, texts, labels)
            results[str(folder)][name] = {"accuracy": report["accuracy"], "roc_auc": report.get("roc_auc"), "texts": len(texts)}
    print("| model | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for folder, row in results.items():
        print(f"| {folder} | " + " | ".join(f"{100 * row[name]['accuracy']:.1f}" for name in sets) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

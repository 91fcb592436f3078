"""Does a model read what a review says? IMDB test accuracy beside the held-out CAD dev pairs
(originals and their label-flipping edits), the behavioural suite and the out-of-domain sets.

The models must have been trained without the dev pairs' originals (``--exclude cad-dev``, as the
default recipe does: those originals are aclImdb training reviews, and a model that trained on one
remembers it):

    polarity train --out runs/robust/default
    polarity train bilstm-hybrid --epochs 2 --exclude cad-dev --out runs/robust/earlier
    python -m bench.robustness runs/robust/default runs/robust/earlier ... [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from polarity.data.imdb import load_imdb
from polarity.data.pairs import load_cad
from polarity.inference import Predictor
from polarity.inference.check import check
from polarity.models.folder import ModelFolder

NEGATION_AND_CONTRAST = ("negation", "contrast")


def cad_dev_rows(train_texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    """The 490 dev texts, their labels (1 positive), which are originals (aclImdb training reviews),
    and how many training reviews a model that held the dev pairs out must have left out."""
    dev = load_cad("dev")
    dev_texts = set(dev.texts)
    return dev.texts, dev.data.labels, dev.originals(set(train_texts)), sum(t in dev_texts for t in train_texts)


def held_out(folder: Path, in_training: int) -> bool:
    """Whether the model's training left out every training review that is a CAD dev text (a model
    trained before TSV fields were unquoted left 109 of the originals in)."""
    config = ModelFolder(folder).config()
    return config.recipe["data"].get("exclude") == "cad-dev" and config.data.get("excluded") == in_training


def measure(folder: Path, dev: tuple[list[str], np.ndarray, np.ndarray, int], ood: dict | None) -> dict:
    predictor = Predictor.load(folder)
    texts, labels, originals, in_training = dev
    right = np.asarray(predictor.predict(texts)) == np.array([predictor.labels[i] for i in labels])
    metrics = ModelFolder(folder).metrics() or {}
    report = check(predictor)
    rates = {test.name: test.failure_rate for test in report.tests}
    groups = {name: [r for test, r in rates.items() if test.startswith(name)] for name in NEGATION_AND_CONTRAST}
    row = {
        "model": str(folder), "recipe": predictor.name, "held_out": held_out(folder, in_training),
        "imdb_test": metrics.get("test", {}).get("accuracy"),
        "cad_originals": float(right[originals].mean()), "cad_edits": float(right[~originals].mean()),
        "check": rates,
        "negation_failures": float(np.mean(groups["negation"])), "contrast_failures": float(np.mean(groups["contrast"])),
    }
    row["gap"] = row["cad_originals"] - row["cad_edits"]
    if ood is not None:
        from polarity.inference.evaluation import evaluate_texts

        row["ood"] = {name: evaluate_texts(predictor, t, y)[0]["accuracy"] for name, (t, y) in ood.items()}
    return row


def table(rows: list[dict]) -> str:
    lines = ["| model | IMDB test | CAD dev originals | CAD dev edits | gap | negation failures | contrast failures |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = "" if r["held_out"] else " (dev originals not held out!)"
        imdb = f"{100 * r['imdb_test']:.2f}" if r["imdb_test"] is not None else "-"
        lines.append(f"| {r['model']}{mark} | {imdb} | {100 * r['cad_originals']:.1f} | {100 * r['cad_edits']:.1f} | "
                     f"{100 * r['gap']:.1f} | {100 * r['negation_failures']:.1f} % | {100 * r['contrast_failures']:.1f} % |")
    return "\n".join(lines)


SHORT_NAMES = {"negated positive": "neg. pos.", "negated negative": "neg. neg.", "at a distance": "distance",
               "X but Y": "but", "although X, Y": "although", "intensifiers": "intens.", "diminishers": "dimin.",
               "neutral sentence": "neutral", "punctuation": "punct.", "adding 'I loved it.'": "loved",
               "adding 'I hated it.'": "hated"}


def check_table(rows: list[dict]) -> str:
    """The behavioural suite's failure rate per test, a row per model (docs/ROBUSTNESS.md, section 1)."""
    tests = list(rows[0]["check"])
    names = [SHORT_NAMES.get(test.split(": ", 1)[1], test.split(": ", 1)[1]) for test in tests]
    lines = ["| model | IMDB test | " + " | ".join(names) + " | mean |", "|---" * (len(tests) + 3) + "|"]
    for r in rows:
        imdb = f"{100 * r['imdb_test']:.2f} %" if r["imdb_test"] is not None else "-"
        rates = " | ".join(f"{100 * r['check'][test]:.0f} %" for test in tests)
        mean = 100 * float(np.mean([r["check"][test] for test in tests]))
        lines.append(f"| {r['model']} | {imdb} | {rates} | {mean:.1f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--from-json", type=Path, help="print the tables of an earlier --json file, measuring nothing")
    parser.add_argument("--data", help="the aclImdb archive (default: $POLARITY_DATA)")
    parser.add_argument("--ood", action="store_true", help="also the out-of-domain sets (bench.ood)")
    parser.add_argument("--json", type=Path, help="write every figure, the behavioural suite per test included")
    args = parser.parse_args()
    if args.from_json and (args.models or args.json or args.ood):
        parser.error("--from-json prints an earlier file's tables: give no models, --json or --ood with it")
    if not args.from_json and not args.models:
        parser.error("give the model folders to measure, or --from-json FILE")
    if args.from_json:
        rows = json.loads(args.from_json.read_text())
        print(table(rows), check_table(rows), sep="\n\n")
        return
    dev = cad_dev_rows(load_imdb(args.data).train.texts)
    ood = None
    if args.ood:
        from bench.ood import DEFAULT_OOD, ood_sets

        ood = ood_sets(DEFAULT_OOD)
    rows = []
    for folder in args.models:
        rows.append(measure(folder, dev, ood))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "check"}), flush=True)
    print(table(rows), check_table(rows), sep="\n\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

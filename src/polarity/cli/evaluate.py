"""``polarity evaluate|compare``: a model's metrics on a split of its own data or a labelled file,
and several models on the same texts with McNemar's test."""

from __future__ import annotations

import argparse

import numpy as np

from polarity.cli.common import command, load_corpus, load_predictor, precision_option, print_json, threshold_option
from polarity.errors import PolarityError


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    evaluate = command(commands, "evaluate", "accuracy, precision, recall, F1, AUC, log loss, by length",
                       "polarity evaluate runs/default --plots runs/default/plots", (data_opts,), reads_model=True)
    evaluate.add_argument("--plots", metavar="DIR", help="write roc.png and confusion.png there")
    precision_option(evaluate)
    threshold_option(evaluate)
    _data_choice(evaluate, cmd_evaluate)
    compare = command(commands, "compare", "compare models on the same reviews, with McNemar's test",
                      "polarity compare runs/default runs/mean-embedding", (data_opts,))
    compare.add_argument("models", nargs="+", metavar="MODEL_DIR", help="model folders; the first is the reference")
    _data_choice(compare, cmd_compare)


def _data_choice(parser: argparse.ArgumentParser, handler) -> None:
    parser.add_argument("--split", default="test", choices=["test", "valid", "train"],
                        help="which split of the model's own data (default test; valid: the reviews it was validated on)")
    parser.add_argument("--dataset", metavar="FILE", help="a labelled file or folder instead of a split of the "
                        "model's own data")
    parser.add_argument("--text-column", help="text column of --dataset (default: found by name)")
    parser.add_argument("--label-column", help="label column of --dataset (default: found by name)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handler)


def _labelled_texts(args: argparse.Namespace, predictor) -> tuple[list[str], np.ndarray, str]:
    """Texts and label indices to evaluate on: --dataset FILE, or a split of the model's own data."""
    if args.dataset:
        from polarity.data.labelled import read_labelled

        data = read_labelled(args.dataset, text_column=args.text_column, label_column=args.label_column,
                             names=predictor.labels)
        return data.texts, data.labels, args.dataset
    from polarity.inference.evaluation import model_split

    return model_split(predictor.config, args.split, lambda: load_corpus(args))


def _validation_threshold(model_dir: str) -> dict | None:
    from polarity.models.folder import ModelFolder

    try:
        return (ModelFolder(model_dir).metrics() or {}).get("valid", {}).get("best_f1_threshold")
    except (OSError, PolarityError, AttributeError):
        return None


def cmd_evaluate(args: argparse.Namespace) -> None:
    from pathlib import Path

    from polarity.inference.evaluation import evaluate_texts, format_report, save_plots

    predictor = load_predictor(args)
    texts, labels, name = _labelled_texts(args, predictor)
    report, probs = evaluate_texts(predictor, texts, labels, threshold=args.threshold)
    report["model"], report["data"] = args.model, name
    if predictor.binary:
        report["best_f1_threshold_on_validation"] = _validation_threshold(args.model)
    if args.plots:
        predicted = predictor.decide(probs, args.threshold)
        report["plots"] = save_plots(labels, probs, predicted, predictor.labels, Path(args.plots),
                                     f"{Path(args.model).name} on {name}")
    if args.json:
        print_json(report)
        return
    print(format_report(report, f"{args.model} on the {name}"))
    best = report.get("best_f1_threshold_on_validation")
    if best:
        print(f"  threshold with the best F1 on the validation split: {best['threshold']:.3f} (F1 {best['f1']:.4f}); "
              "use it with --threshold")
    for plot in report.get("plots", []):
        print(f"  wrote {plot}")


def cmd_compare(args: argparse.Namespace) -> None:
    from polarity.inference import Predictor
    from polarity.inference.evaluation import classification_metrics, mcnemar

    if len(args.models) < 2:
        raise PolarityError("compare needs at least two model folders")
    predictors = [Predictor.load(m) for m in args.models]
    for folder, predictor in zip(args.models[1:], predictors[1:]):
        if predictor.labels != predictors[0].labels:
            raise PolarityError(f"{folder} predicts {predictor.labels}, {args.models[0]} predicts {predictors[0].labels}: "
                                "compare models of the same labels")
    texts, labels, name = _labelled_texts(args, predictors[0])
    rows, correct = [], []
    for folder, predictor in zip(args.models, predictors):
        probs = predictor.predict_proba(texts)
        predicted = predictor.decide(probs)
        metrics = classification_metrics(labels, probs, predicted, predictor.labels)
        correct.append(predicted == labels)
        rows.append({"model": folder, **{k: metrics[k] for k in ("accuracy", "macro_f1", "log_loss")},
                     "roc_auc": metrics.get("roc_auc")})
    for row, right in zip(rows[1:], correct[1:]):
        row["vs_first"] = mcnemar(correct[0], right)
    if args.json:
        print_json({"data": name, "reviews": len(texts), "models": rows})
        return
    print(f"{len(texts):,} texts ({name}); McNemar's exact test against the first model")
    print(f"{'model':<40}{'accuracy':>10}{'macro F1':>10}{'AUC':>8}{'logloss':>9}{'p (vs 1st)':>12}")
    for row in rows:
        p = f"{row['vs_first']['p_value']:.3g}" if "vs_first" in row else "-"
        auc = f"{row['roc_auc']:.4f}" if row["roc_auc"] is not None else "n/a"
        print(f"{row['model'][-39:]:<40}{100 * row['accuracy']:>9.2f}%{row['macro_f1']:>10.4f}{auc:>8}"
              f"{row['log_loss']:>9.4f}{p:>12}")

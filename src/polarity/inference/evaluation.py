"""How good a model is: per-label metrics, accuracy by review length, and paired comparisons."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from polarity.errors import DataError
from polarity.files import atomic_path

LENGTH_BUCKETS = ((0, 100, "<100"), (100, 300, "100-300"), (300, 500, "300-500"), (500, None, ">500"))


def classification_metrics(labels: np.ndarray, probs: np.ndarray, predicted: np.ndarray, names: list) -> dict:
    """Accuracy, scikit-learn's per-label report, the confusion matrix and log loss; for two
    labels also precision, recall and F1 of the second label and ROC AUC."""
    from sklearn import metrics

    labels = np.asarray(labels, dtype=np.int64)
    indices = list(range(len(names)))
    report = metrics.classification_report(labels, predicted, labels=indices, target_names=[str(n) for n in names],
                                           output_dict=True, zero_division=0)
    clipped = np.clip(probs.astype(np.float64), 1e-7, 1.0)
    out = {
        "reviews": int(len(labels)),
        "labels": list(names),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "log_loss": float(metrics.log_loss(labels, clipped / clipped.sum(axis=1, keepdims=True), labels=indices)),
        "per_label": {str(n): {k: report[str(n)][k] for k in ("precision", "recall", "f1-score", "support")} for n in names},
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, labels=indices).tolist(),
    }
    if len(names) == 2:
        out.update(precision=float(metrics.precision_score(labels, predicted, zero_division=0)),
                   recall=float(metrics.recall_score(labels, predicted, zero_division=0)),
                   f1=float(metrics.f1_score(labels, predicted, zero_division=0)),
                   roc_auc=float(metrics.roc_auc_score(labels, probs[:, 1])) if len(np.unique(labels)) == 2 else None)
    return out


def accuracy_by_length(correct: np.ndarray, lengths: np.ndarray) -> list[dict]:
    """Accuracy per bucket of review length in tokens (before truncation): where truncation shows."""
    rows = []
    for low, high, name in LENGTH_BUCKETS:
        inside = (lengths >= low) & ((lengths < high) if high is not None else True)
        n = int(inside.sum())
        rows.append({"tokens": name, "reviews": n, "accuracy": float(correct[inside].mean()) if n else None})
    return rows


def evaluate_texts(predictor, texts: list[str], labels: np.ndarray, threshold: float | None = None) -> tuple[dict, np.ndarray]:
    """The report of ``predictor`` on ``texts`` with label indices ``labels``, and the probabilities."""
    if not len(texts):
        raise DataError("no texts to evaluate")
    started = time.perf_counter()
    encoder = predictor.encoder
    tokenized = [encoder.tokenize(t) for t in texts]  # once: for the model and for the length buckets
    probs = predictor.predict_proba_ids(encoder.encode_tokens(tokenized))
    seconds = time.perf_counter() - started
    predicted = predictor.decide(probs, threshold)
    labels = np.asarray(labels, dtype=np.int64)
    report = classification_metrics(labels, probs, predicted, predictor.labels)
    lengths = np.array([len(tokens) for tokens in tokenized], dtype=np.int64)
    report.update(seconds=round(seconds, 2), threshold=threshold if threshold is not None else 0.5,
                  by_length=accuracy_by_length(predicted == labels, lengths), maxlen=predictor.maxlen,
                  truncating=encoder.truncating)
    return report, probs


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test of two classifiers' accuracy on the same reviews."""
    from scipy.stats import binomtest

    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)
    return {"only_first_right": only_a, "only_second_right": only_b, "p_value": p}


def _save(fig, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return str(path)


def save_plots(labels: np.ndarray, probs: np.ndarray, predicted: np.ndarray, names: list, folder: Path,
               title: str) -> list[str]:
    """``confusion.png`` (and ``roc.png`` for two labels) in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if len(names) == 2 and len(np.unique(labels)) == 2:
        fig, ax = plt.subplots(figsize=(5, 5))
        RocCurveDisplay.from_predictions(labels, probs[:, 1], ax=ax, name=title, pos_label=1)
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        fig.tight_layout()
        written.append(_save(fig, folder / "roc.png"))
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(4 + 0.6 * len(names), 3.5 + 0.6 * len(names)))
    ConfusionMatrixDisplay.from_predictions(labels, predicted, labels=list(range(len(names))),
                                            display_labels=[str(n) for n in names], ax=ax, colorbar=False,
                                            values_format=",d")
    ax.set_title(title)
    fig.tight_layout()
    written.append(_save(fig, folder / "confusion.png"))
    plt.close(fig)
    return written


def format_report(report: dict, name: str) -> str:
    names = [str(n) for n in report["labels"]]
    lines = [f"{name}: {report['reviews']:,} texts in {report['seconds']:.1f} s",
             f"  accuracy  {100 * report['accuracy']:6.2f} %    macro F1 {report['macro_f1']:.4f}    "
             f"log loss {report['log_loss']:.4f}"]
    if len(names) == 2:
        auc = f"{report['roc_auc']:.4f}" if report.get("roc_auc") is not None else "n/a"
        lines.append(f"  {names[1]!s}: precision {report['precision']:.4f}  recall {report['recall']:.4f}  "
                     f"F1 {report['f1']:.4f}  ROC AUC {auc}  (threshold {report['threshold']:g})")
    width = max(10, *(len(n) + 2 for n in names))
    lines.append(f"  {'label':<{width}}{'precision':>10}{'recall':>9}{'F1':>9}{'support':>9}")
    for n in names:
        row = report["per_label"][n]
        lines.append(f"  {n:<{width}}{row['precision']:>10.4f}{row['recall']:>9.4f}{row['f1-score']:>9.4f}"
                     f"{int(row['support']):>9,}")
    lines.append("  confusion matrix (rows: true label, columns: predicted)")
    cell = max(8, *(len(n) + 1 for n in names))
    lines.append("  " + " " * width + "".join(f"{n:>{cell}}" for n in names))
    for n, row in zip(names, report["confusion_matrix"]):
        lines.append(f"  {n:<{width}}" + "".join(f"{v:>{cell},}" for v in row))
    kept = "first" if report.get("truncating") == "post" else "last"
    reads = f"the {kept} {report['maxlen']:,}" if report["maxlen"] else "all of them"
    lines.append(f"  accuracy by length (tokens; the model reads {reads}):")
    for row in report["by_length"]:
        acc = f"{100 * row['accuracy']:6.2f} %" if row["accuracy"] is not None else "     -  "
        lines.append(f"    {row['tokens']:>8}  {row['reviews']:>7,} texts  {acc}")
    return "\n".join(lines)


def held_out(data, recipe_data: dict):
    """``data`` less the texts the model's recipe held out of training and validation (``data.exclude``)."""
    from polarity.data.pairs import excluded_texts, without_texts

    return without_texts(data, excluded_texts(recipe_data["exclude"]))[0] if recipe_data.get("exclude") else data


def model_split(config, split: str, load_corpus) -> tuple[list[str], np.ndarray, str]:
    """Texts, label indices and a name for one split of the data a model was trained on:
    ``test``, ``valid`` (exactly the reviews it was validated on) or ``train`` (all of them).
    ``load_corpus`` is called for IMDB models."""
    from polarity.data.splits import as_labelled, fit_valid_split, imdb_splits

    origin, recipe = config.data, config.recipe
    fraction = origin.get("valid_fraction", recipe.get("data", {}).get("valid_fraction", 0.1))
    seed = origin.get("seed", recipe.get("training", {}).get("seed", 0))
    names = config.labels
    if origin.get("dataset", "imdb") == "imdb":
        train, test = imdb_splits(load_corpus(), origin.get("target", "sentiment"))
        sources = {"train": train, "test": test, "valid": None}
    else:
        sources = {key: origin.get(key) for key in ("train", "valid", "test")}
        if sources["train"] == "<memory>" or sources.get(split) == "<memory>":
            raise DataError("this model was trained on in-memory data: evaluate it with --dataset FILE")
    columns = {"text_column": origin.get("text_column"), "label_column": origin.get("label_column")}
    if split == "valid" and sources["valid"] is None:
        train = held_out(as_labelled(sources["train"], names=names, **columns), recipe.get("data", {}))
        data = fit_valid_split(train, fraction, seed)[1]
    elif sources.get(split) is None:
        raise DataError(f"this model has no {split} split on record: evaluate it with --dataset FILE")
    else:
        data = as_labelled(sources[split], names=names, **columns)
        if split == "valid":  # a validation file, less what the recipe held out as training did
            data = held_out(data, recipe.get("data", {}))
    if list(data.names) != list(names):
        raise DataError(f"the {split} split's labels {data.names} differ from the model's {names}")
    return data.texts, data.labels, f"{split} split"

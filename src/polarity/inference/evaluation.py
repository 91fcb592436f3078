"""How good a model is: classification metrics, accuracy by review length, and paired comparisons."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

LENGTH_BUCKETS = ((0, 100, "<100"), (100, 300, "100-300"), (300, 500, "300-500"), (500, None, ">500"))


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict:
    from sklearn import metrics

    labels = np.asarray(labels, dtype=np.int64)
    predicted = (probs >= 0.5).astype(np.int64)
    both_classes = len(np.unique(labels)) == 2
    clipped = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    return {
        "reviews": int(len(labels)),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(labels, probs)) if both_classes else None,
        "log_loss": float(metrics.log_loss(labels, clipped, labels=[0, 1])),
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }


def accuracy_by_length(labels: np.ndarray, probs: np.ndarray, lengths: np.ndarray) -> list[dict]:
    """Accuracy per bucket of review length in tokens (before truncation): where truncation shows."""
    correct = (probs >= 0.5).astype(np.int64) == labels
    rows = []
    for low, high, name in LENGTH_BUCKETS:
        inside = (lengths >= low) & ((lengths < high) if high is not None else True)
        n = int(inside.sum())
        rows.append({"tokens": name, "reviews": n, "accuracy": float(correct[inside].mean()) if n else None})
    return rows


def evaluate_texts(predictor, texts: list[str], labels: np.ndarray) -> dict:
    started = time.perf_counter()
    tokenized = [predictor.tokenizer(t) for t in texts]  # once: for the model and for the length buckets
    probs = predictor.predict_ids(predictor.encode_tokens(tokenized))
    seconds = time.perf_counter() - started
    lengths = np.array([len(tokens) for tokens in tokenized], dtype=np.int64)
    report = classification_metrics(labels, probs)
    report["seconds"] = round(seconds, 2)
    report["by_length"] = accuracy_by_length(np.asarray(labels), probs, lengths)
    report["maxlen"] = predictor.maxlen
    return report, probs


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test of two classifiers' accuracy on the same reviews."""
    from scipy.stats import binomtest

    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)
    return {"only_first_right": only_a, "only_second_right": only_b, "p_value": p}


def save_plots(labels: np.ndarray, probs: np.ndarray, folder: Path, title: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if len(np.unique(labels)) == 2:
        fig, ax = plt.subplots(figsize=(5, 5))
        RocCurveDisplay.from_predictions(labels, probs, ax=ax, name=title)
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        fig.tight_layout()
        fig.savefig(folder / "roc.png", dpi=100)
        plt.close(fig)
        written.append(str(folder / "roc.png"))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ConfusionMatrixDisplay.from_predictions(labels, (probs >= 0.5).astype(int), display_labels=["negative", "positive"], ax=ax,
                                            colorbar=False, values_format=",d")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(folder / "confusion.png", dpi=100)
    plt.close(fig)
    written.append(str(folder / "confusion.png"))
    return written


def format_report(report: dict, name: str) -> str:
    cm = report["confusion_matrix"]
    auc = f"{report['roc_auc']:.4f}" if report["roc_auc"] is not None else "n/a"
    lines = [
        f"{name}: {report['reviews']:,} reviews in {report['seconds']:.1f} s",
        f"  accuracy  {100 * report['accuracy']:6.2f} %    precision {report['precision']:.4f}    recall {report['recall']:.4f}",
        f"  F1        {report['f1']:.4f}      ROC AUC   {auc}      log loss {report['log_loss']:.4f}",
        "  confusion matrix (rows: true neg/pos, columns: predicted neg/pos)",
        f"    {cm[0][0]:>7,} {cm[0][1]:>7,}",
        f"    {cm[1][0]:>7,} {cm[1][1]:>7,}",
        f"  accuracy by review length (tokens; the model reads the last {report['maxlen'] or 'all'}):",
    ]
    for row in report["by_length"]:
        acc = f"{100 * row['accuracy']:6.2f} %" if row["accuracy"] is not None else "     -  "
        lines.append(f"    {row['tokens']:>8}  {row['reviews']:>7,} reviews  {acc}")
    return "\n".join(lines)

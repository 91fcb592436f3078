"""Learning curves as seed 003 plots them: accuracy and loss, train vs validation, per epoch."""

from __future__ import annotations

from pathlib import Path

from polarity.files import atomic_path


def plot_curves(history: list[dict], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, label in ((axes[0], "accuracy", "Model accuracy"), (axes[1], "loss", "Model loss")):
        ax.plot(epochs, [row[metric] for row in history], marker="o", label="Train")
        if all(f"val_{metric}" in row for row in history):
            ax.plot(epochs, [row[f"val_{metric}"] for row in history], marker="o", label="Val")
        ax.set_title(label)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(metric.capitalize())
        ax.set_xticks(epochs)
        ax.legend(loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)

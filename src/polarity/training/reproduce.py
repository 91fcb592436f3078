"""Train a recipe with its notebook's settings, over seeds, and set the result beside the notebook's figure."""

from __future__ import annotations

import statistics
from pathlib import Path

from collections.abc import Iterable

from polarity.data.imdb import load_imdb
from polarity.files import write_json
from polarity.models.folder import ModelFolder
from polarity.training.pipeline import train_recipe
from polarity.training.recipes import load_recipe


def _spread(values: list[float]) -> dict:
    return {
        "mean": round(100 * statistics.fmean(values), 2),
        "std": round(100 * statistics.stdev(values), 2) if len(values) > 1 else None,
        "values": [round(100 * v, 2) for v in values],
    }


def reproduce(
    name: str,
    *,
    seeds: Iterable[int] = (0,),
    out: str | Path = "runs/reproduce",
    data: str | None = None,
    strict: bool = True,
    device: str = "auto",
    limit: int | None = None,
    overrides: dict | None = None,
    log=print,
) -> dict:
    """Train ``name`` once per seed and report the test accuracy: for a notebook's recipe after the
    notebook's last epoch (``restore_best`` off, as the notebooks evaluate their final weights)."""
    overrides = dict(overrides or {})
    if load_recipe(name, overrides).notebook:
        overrides.setdefault("training.restore_best", False)
    seeds = list(seeds)
    corpus = load_imdb(data, strict=strict)
    runs = []
    for seed in seeds:
        recipe = load_recipe(name, {**overrides, "training.seed": seed})
        folder = Path(out) / f"{recipe.name}-{recipe.training.batching}-seed{seed}"
        metrics = train_recipe(recipe, folder, corpus=corpus, device=device, limit=limit, log=log)
        history = ModelFolder(folder).history()
        seconds = ModelFolder(folder).config().training["seconds"]
        runs.append({"seed": seed, "folder": str(folder), "test_accuracy": metrics["test"]["accuracy"],
                     "seconds_per_epoch": metrics["seconds_per_epoch"], "training_seconds": seconds,
                     "test_per_epoch": [row.get("test_accuracy") for row in history]})
    report = {
        "recipe": recipe.name,
        "notebook": recipe.notebook,
        "batching": recipe.training.batching,
        "reported": recipe.reported_accuracy,
        "reported_per_epoch": recipe.reported_per_epoch,
        "reported_note": recipe.reported_note,
        "measured": _spread([r["test_accuracy"] for r in runs]),
        "seconds_per_epoch": round(statistics.fmean(r["seconds_per_epoch"] for r in runs), 1),
        "training_seconds": {"mean": round(statistics.fmean(r["training_seconds"] for r in runs), 1),
                             "values": [r["training_seconds"] for r in runs]},
        "device": metrics["device"],
        "seeds": len(seeds),
        "seed_values": seeds,
        "limited_to": limit,
        "runs": runs,
    }
    if all(None not in r["test_per_epoch"] for r in runs):
        epochs = zip(*(r["test_per_epoch"] for r in runs))
        report["measured_per_epoch"] = [_spread(list(values)) for values in epochs]
    write_json(Path(out) / f"{recipe.name}-{report['batching']}.json", report)
    log(format_report(report))
    return report


def format_report(report: dict) -> str:
    m = report["measured"]
    spread = f" ± {m['std']:.2f}" if m["std"] is not None else ""
    notebook = f"notebook {report['notebook']}, " if report["notebook"] else ""
    seconds = report.get("training_seconds")
    whole = f", {seconds['mean']:.0f} s per run" if seconds else ""
    lines = [f"{report['recipe']} ({notebook}{report['batching']} batching, "
             f"{report['seeds']} seed(s), {report['seconds_per_epoch']} s/epoch{whole} on {report['device']})"]
    if report["notebook"]:
        reported = f"{report['reported']:.2f} %" if report["reported"] is not None else "none"
        lines.append(f"  notebook: {reported:>10}   measured: {m['mean']:.2f} %{spread}   ({report['reported_note']})")
    else:
        per_seed = ", ".join(f"{v:.2f}" for v in m["values"])
        lines.append(f"  measured: {m['mean']:.2f} %{spread}   (test accuracy per seed: {per_seed})")
    if report.get("reported_per_epoch") and report.get("measured_per_epoch"):
        lines.append("  per epoch   notebook   measured")
        for i, (ref, got) in enumerate(zip(report["reported_per_epoch"], report["measured_per_epoch"]), start=1):
            lines.append(f"  {i:>9}   {ref:>7.2f}   {got['mean']:>7.2f}")
    return "\n".join(lines)

"""From a recipe to a model folder: data, vocabulary, model, fit, test evaluation, artifacts."""

from __future__ import annotations

import csv
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from polarity import __version__
from polarity.data.batching import truncate
from polarity.data.imdb import ImdbCorpus, ReviewSet, load_imdb, validation_split
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import Vocabulary
from polarity.errors import ConfigError
from polarity.models.io import model_options, save_model_folder, write_json
from polarity.models.registry import build_model
from polarity.training.batches import EncodedSet
from polarity.training.loop import Trainer, make_optimizer, predict_logits, evaluate_logits
from polarity.training.plots import plot_curves

CHECKPOINT = "checkpoint.safetensors"
RUN = "run.json"


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but PyTorch sees no CUDA device")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def stratified_sample(reviews: ReviewSet, n: int, seed: int) -> ReviewSet:
    """``n`` reviews drawn with the label balance of ``reviews`` (for --limit)."""
    if n >= len(reviews):
        return reviews
    _, sample = validation_split(reviews, n / len(reviews), seed)
    return sample


def build_vocabulary(recipe: dict, tokens: list[list[str]]) -> tuple[Vocabulary, tuple[list[str], np.ndarray] | None, dict | None]:
    """The training vocabulary, the pretrained vectors (if any) and their coverage of the training words."""
    data = recipe["data"]
    vocab = Vocabulary.build(tokens)
    pretrained = coverage = None
    if recipe["model"].get("pretrained"):
        from polarity.models.pretrained import load_glove, vocabulary_coverage

        pretrained = load_glove(recipe["model"]["pretrained"])
        known = frozenset(pretrained[0])
        coverage = vocabulary_coverage(vocab, known)
        if data.get("pretrained_vocabulary") == "all":
            vocab = Vocabulary(pretrained[0])  # every pretrained word, in the vectors' own (frequency) order
        elif data.get("pretrained_vocabulary"):
            vocab = vocab.restrict(known)
    vocab = vocab.with_options(num_words=data["num_words"] or None, skip_top=data["skip_top"])
    return vocab, pretrained, coverage


def encode(reviews: ReviewSet, tokens: list[list[str]], vocab: Vocabulary, data: dict) -> EncodedSet:
    ids = [vocab.encode(t) for t in tokens]
    return EncodedSet(truncate(ids, data["maxlen"] or None, data["truncating"]), reviews.labels.astype(np.int8))


def write_history(folder: Path, history: list[dict]) -> None:
    write_json(folder / "history.json", history)
    if history:
        keys = list(dict.fromkeys(k for row in history for k in row))
        with open(folder / "history.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)


def versions() -> dict:
    return {"polarity": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def train_recipe(
    recipe: dict,
    out_dir: str | Path,
    *,
    data: str | None = None,
    strict: bool = True,
    device: str = "auto",
    limit: int | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks=None,
    corpus: ImdbCorpus | None = None,
    log=print,
) -> dict:
    """Train ``recipe`` and write its model folder to ``out_dir``; returns the metrics."""
    out = Path(out_dir)
    run_file = out / RUN
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise ConfigError(f"nothing to resume in {out}: no {CHECKPOINT} (the run finished or never started)")
        run = json.loads(run_file.read_text())
        recipe, limit = run["recipe"], run["limit"]
    elif (out / CHECKPOINT).is_file():
        raise ConfigError(f"{out} holds an unfinished run: continue it with --resume, or choose another --out")
    started = time.perf_counter()
    dev = resolve_device(device)
    d, t = recipe["data"], recipe["training"]
    seed = t["seed"]

    corpus = corpus or load_imdb(data, strict=strict)
    train_reviews, test_reviews = corpus.train, corpus.test
    if limit:
        train_reviews = stratified_sample(train_reviews, limit, seed)
        test_reviews = stratified_sample(test_reviews, limit, seed)
    fit_reviews, valid_reviews = validation_split(train_reviews, d["valid_fraction"], seed)

    tokenizer = Tokenizer()
    fit_tokens = [tokenizer(x) for x in fit_reviews.texts]
    vocab, pretrained, coverage = build_vocabulary(recipe, fit_tokens)
    fit_set = encode(fit_reviews, fit_tokens, vocab, d)
    del fit_tokens  # millions of token strings: the largest object of a run, not needed once encoded
    valid_set = encode(valid_reviews, [tokenizer(x) for x in valid_reviews.texts], vocab, d) if len(valid_reviews) else None
    test_set = encode(test_reviews, [tokenizer(x) for x in test_reviews.texts], vocab, d)

    torch.manual_seed(seed)
    extra = {"vocab_size": vocab.size}
    if pretrained is not None:
        from polarity.models.pretrained import pretrained_matrix

        extra["pretrained"], coverage["model_vocabulary"] = pretrained_matrix(vocab, *pretrained, seed=seed)
        log(f"pretrained vectors cover {coverage['word_coverage']:.1%} of the {coverage['words']:,} training words "
            f"and {coverage['token_coverage']:.1%} of the training tokens; "
            f"{coverage['model_vocabulary']['word_coverage']:.1%} of the model's vocabulary has a vector")
    model = build_model(model_options(recipe["model"], d["maxlen"] or None), **extra).to(dev)
    optimizer = make_optimizer(t["optimizer"], model.parameters(), t["lr"], initial_accumulator=t["initial_accumulator"])

    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_json(run_file, {"recipe": recipe, "limit": limit, "data": corpus.source})
    log(f"training {recipe.get('name', 'recipe')} on {len(fit_set):,} reviews (validation {len(valid_reviews):,}, "
        f"test {len(test_set):,}), {sum(p.numel() for p in model.parameters()):,} parameters, device {dev}")
    trainer = Trainer(model, optimizer, fit_set, valid_set, training=t, maxlen=d["maxlen"] or None, device=dev,
                      checkpoint=out / CHECKPOINT, test=test_set, callbacks=callbacks, progress=progress)
    history = trainer.fit(resume=resume)

    eval_started = time.perf_counter()
    logits = predict_logits(model, test_set, batching=t["batching"], maxlen=d["maxlen"] or None, device=dev)
    test_metrics = evaluate_logits(logits, test_set.labels)
    test_metrics.update(reviews=len(test_set), seconds=round(time.perf_counter() - eval_started, 2))
    best = trainer.state.best_epoch
    metrics = {
        "recipe": recipe.get("name"),
        "test": test_metrics,
        "valid": {k: history[best][f"val_{k}"] for k in ("loss", "accuracy") if best >= 0 and f"val_{k}" in history[best]},
        "best_epoch": best + 1,
        "epochs_run": len(history),
        "seconds_per_epoch": round(float(np.mean([row["seconds"] for row in history])), 2) if history else None,
        "device": str(dev),
        "limited_to": limit,
    }
    config = {
        "recipe": recipe,
        "preprocessing": {"tokenizer": tokenizer.to_dict(), "maxlen": d["maxlen"] or None, "truncating": d["truncating"],
                          "padding": "pre", "batching": t["batching"]},
        "data": {"source": corpus.source, "train": len(fit_set), "valid": len(valid_reviews), "test": len(test_set),
                 "limit": limit},
        "pretrained_coverage": coverage,
        "parameters": {"total": sum(p.numel() for p in model.parameters()),
                       "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)},
        "training": {"device": str(dev), "seconds": round(time.perf_counter() - started, 1), "command": " ".join(sys.argv)},
        "versions": versions(),
    }
    save_model_folder(out, model, vocab, config)
    write_json(out / "metrics.json", metrics)
    write_history(out, history)
    if history:
        plot_curves(history, out / "curves.png", title=recipe.get("name", ""))
    (out / CHECKPOINT).unlink(missing_ok=True)
    return metrics

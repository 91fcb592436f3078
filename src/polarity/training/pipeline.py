"""From a recipe and data to a model folder, in named steps: prepare the data, fit the text encoder,
build the model, fit it, evaluate and save."""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from polarity import __version__
from polarity.data.encoder import TextEncoder
from polarity.data.imdb import ImdbCorpus, load_imdb
from polarity.data.counterfactual import Sides, augment, contrast, learned_sides
from polarity.data.labelled import LabelledTexts, is_polarity_pair
from polarity.data.pairs import excluded_texts, resolve_pairs, with_pairs, without_texts
from polarity.data.splits import DataSource, as_labelled, fit_valid_split, imdb_splits, sample
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import Vocabulary
from polarity.engine import EncodedSet, distributed, evaluate_logits, probabilities, resolve_device
from polarity.errors import ConfigError
from polarity.files import write_json
from polarity.models.folder import ModelFolder, model_options, num_outputs
from polarity.models.registry import build_model
from polarity.training.fitting import VERBS, FitContext, Fitted, fitter_for
from polarity.training.plots import plot_curves
from polarity.training.encoders import Encoder, load_encoder
from polarity.training.recipes import Recipe

Predict = Callable[[EncodedSet], np.ndarray]


@dataclass
class Splits:
    """The labelled texts of one run and where they came from (saved in ``config.json``)."""

    fit: LabelledTexts
    valid: LabelledTexts
    test: LabelledTexts | None
    origin: dict
    pair_rows: list[tuple[int, int]] = field(default_factory=list)  # the fit rows of each pair's two texts
    mix_extra: LabelledTexts | None = None  # counterfactual sentences of the validation reviews, for a hybrid's mix
    recipe: Recipe | None = None  # the recipe as it trains on these texts (own files: less what they leave out)

    @property
    def labels(self) -> list:
        return list(self.fit.names)

    @property
    def written(self) -> int:
        """How many fit texts people wrote (reviews, then pairs); the sentences made by rule follow them."""
        return len(self.fit) - self.origin.get("augmented", 0) - self.origin.get("contrast_examples", 0)


@dataclass
class Pretrained:
    """Vectors for the model's vocabulary and how well they cover the training words, or a
    pretrained encoder's tensors (``polarity pretrain``) and where they came from."""

    matrix: np.ndarray | None
    coverage: dict
    encoder: dict[str, torch.Tensor] | None = None


# -- step 1: data ------------------------------------------------------------------------------------------
def prepare_data(recipe: Recipe, *, train: DataSource | None = None, valid: DataSource | None = None,
                 test: DataSource | None = None, corpus: ImdbCorpus | None = None, data: str | None = None,
                 strict: bool = True, limit: int | None = None, text_column: str | None = None,
                 label_column: str | None = None, log=None) -> Splits:
    """Fit, validation and test texts: IMDB's (``train`` None) or the user's files or lists."""
    d, seed = recipe.data, recipe.training.seed
    columns = {"text_column": text_column, "label_column": label_column}
    if train is None:
        if valid is not None or test is not None:
            raise ConfigError("--valid and --test go with --train FILE (without it, the IMDB splits are used)")
        corpus = corpus or load_imdb(data, strict=strict, log=log)
        train_set, test_set = imdb_splits(corpus, d.target)
        origin = {"dataset": "imdb", "source": corpus.source, "target": d.target}
    else:
        if d.target != "sentiment":
            raise ConfigError(f"data.target = {d.target!r} labels IMDB reviews; a --train file brings its own labels")
        train_set = as_labelled(train, **columns)
        test_set = as_labelled(test, names=train_set.names, **columns) if test is not None else None
        origin = {"dataset": "files", "train": _describe(train), "valid": _describe(valid), "test": _describe(test),
                  **columns}
        recipe, skipped = own_files_recipe(recipe, train_set.names)
        d = recipe.data
        if skipped:
            origin["skipped"] = skipped
            _say_left_out(skipped, train_set.names, log)
    held = excluded_texts(d.exclude) if d.exclude else set()
    if held:
        train_set, origin["excluded"] = without_texts(train_set, held)
    if valid is None:
        fit, valid_set = fit_valid_split(train_set, d.valid_fraction, seed, limit)
    else:
        fit = sample(train_set, limit, seed) if limit else train_set
        valid_set = as_labelled(valid, names=train_set.names, **columns)
        valid_set = without_texts(valid_set, held)[0]
        valid_set = sample(valid_set, max(1, int(round(limit * d.valid_fraction))), seed) if limit else valid_set
    if limit and test_set is not None:
        test_set = sample(test_set, limit, seed)
    sides = _sides(recipe, fit, origin)
    fit, pair_rows = _counterfactuals(recipe, fit, origin, sides)
    if not len(valid_set) and test_set is None:
        raise ConfigError(f"no validation texts ({len(fit):,} training texts, data.valid_fraction = {d.valid_fraction}"
                          f"{f', --limit {limit}' if limit else ''}) and no test set: nothing would measure the model; "
                          "raise the fraction or the limit, or give --valid or --test")
    return Splits(fit, valid_set, test_set, origin, pair_rows, _mix_extra(recipe, valid_set, origin, sides), recipe)


IMDB_PAIRS = {"pairs": "cad", "exclude": "cad-dev"}  # data settings that name IMDB's review pairs
MADE_BY_RULE = {"data.augment": "none", "data.contrast_fraction": 0.0, "training.mix_counterfactuals": 0.0}  # off


def own_files_recipe(recipe: Recipe, names: list) -> tuple[Recipe, list[str]]:
    """``recipe`` as it trains on the user's own files, and the settings it leaves out: the CAD pairs
    (IMDB reviews: ``data.pairs = "cad"``, ``data.exclude = "cad-dev"``, the default recipe's), and,
    unless the labels are a negative/positive pair, the sentences made by rule, whose flips and
    "but" clauses turn one polarity into the other."""
    data = {key: "" for key, value in IMDB_PAIRS.items() if getattr(recipe.data, key) == value}
    skipped = [f"data.{key} = {IMDB_PAIRS[key]}" for key in data]
    training = {}
    if not is_polarity_pair(names):
        for key, off in MADE_BY_RULE.items():
            section, name = key.split(".")
            if getattr(getattr(recipe, section), name) != off:
                (data if section == "data" else training)[name] = off
                skipped.append(key)
    if not skipped:
        return recipe, []
    return replace(recipe, data=replace(recipe.data, **data), training=replace(recipe.training, **training)), skipped


def _say_left_out(skipped: list[str], names: list, log=None) -> None:
    if not log:
        return
    cad = [item for item in skipped if item not in MADE_BY_RULE]
    if cad:
        log(f"{' and '.join(cad)} name IMDB's review pairs: left out for your own data (give the CAD files' "
            "paths to use them)")
    made = [item for item in skipped if item in MADE_BY_RULE]
    if made:
        log(f"{', '.join(made)} make sentences that turn negative into positive: left out, as the labels "
            f"({', '.join(map(str, names))}) are not a negative/positive pair")


def _sides(recipe: Recipe, fit: LabelledTexts, origin: dict) -> Sides | None:
    """``data.augment_words = "learned"``: the lexicon's words with those the training texts show lean
    one way, for the rule-made sentences (their counts recorded in ``origin``)."""
    if recipe.data.augment_words != "learned" or len(fit.names) != 2:
        return None
    sides = learned_sides(fit)
    origin["augment_words"] = {"negative": len(sides[0]), "positive": len(sides[1])}
    return sides


def _counterfactuals(recipe: Recipe, fit: LabelledTexts, origin: dict,
                     sides: Sides | None = None) -> tuple[LabelledTexts, list]:
    """The training texts with the recipe's pairs and rule-made counterfactuals (recorded in ``origin``),
    and the rows of each pair's two texts."""
    d, pair_rows = recipe.data, []
    if d.pairs:
        pairs = resolve_pairs(d.pairs, fit.names)
        pair_rows = [(len(fit) + a, len(fit) + b) for a, b in pairs.members()]
        fit = with_pairs(fit, pairs, d.pair_repeat)
        origin["pairs"] = {"source": d.pairs, "texts": len(pairs), "repeat": d.pair_repeat}
    elif recipe.training.pair_weight:
        raise ConfigError("training.pair_weight weighs a term over review pairs: give data.pairs (--pairs)")
    if d.augment != "none":
        fit, origin["augmented"] = augment(fit, d.augment, d.augment_fraction, recipe.training.seed, sides)
    if d.contrast_fraction:
        fit, origin["contrast_examples"] = contrast(fit, d.contrast_fraction, recipe.training.seed, sides)
    return fit, pair_rows


def _mix_extra(recipe: Recipe, valid: LabelledTexts, origin: dict, sides: Sides | None = None) -> LabelledTexts | None:
    """``training.mix_counterfactuals``: sentences of the validation reviews beside their flips, and
    "A, but B" examples of them, about that fraction of the split's size each; a hybrid fits its mix
    of the RNN and the n-grams on them beside the validation reviews."""
    fraction = recipe.training.mix_counterfactuals
    if not fraction or not len(valid):
        return None
    seed = recipe.training.seed
    flips, contrasts = augment(valid, "both", fraction, seed, sides)[0], contrast(valid, fraction, seed, sides)[0]
    texts = flips.texts[len(valid):] + contrasts.texts[len(valid):]
    if not texts:
        return None
    origin["mix_counterfactuals"] = len(texts)
    labels = np.concatenate([flips.labels[len(valid):], contrasts.labels[len(valid):]])
    return LabelledTexts(texts, labels, list(valid.names), valid.source)


def _describe(source: DataSource | None) -> str | None:
    """How ``config.json`` names a data source: its path, or ``<memory>`` for lists."""
    if source is None:
        return None
    # a LabelledTexts may hold part of its source file: only a path names the data exactly
    return str(Path(source).resolve()) if isinstance(source, (str, Path)) else "<memory>"


# -- step 2: text encoder (and pretrained vectors) ----------------------------------------------------------
def recipe_encoder(recipe: Recipe) -> Encoder | None:
    """The pretrained encoder the recipe names (``model.encoder``, made by ``polarity pretrain``), or None."""
    if not recipe.model.get("encoder"):
        return None
    if recipe.model.get("pretrained"):
        raise ConfigError("model.encoder brings its own embedding: drop model.pretrained")
    if recipe.data.skip_top:
        raise ConfigError("data.skip_top would make words the pretrained encoder knows unknown: drop it")
    return load_encoder(recipe.model["encoder"])


def recipe_tokenizer(recipe: Recipe, loaded: Encoder | None = None) -> Tokenizer:
    """The recipe's tokenizer; with a pretrained encoder (``loaded``), the encoder's (the recipe may not change it)."""
    d = recipe.data
    tokenizer = Tokenizer(remove=d.remove_characters, stop_words=tuple(d.stop_words), negation_scope=d.negation_scope)
    if loaded is None:
        return tokenizer
    pretrained = loaded.text_encoder.tokenizer
    if (d.remove_characters or d.stop_words or d.negation_scope) and pretrained.to_dict() != tokenizer.to_dict():
        raise ConfigError("data.remove_characters, data.stop_words and data.negation_scope would change the "
                          "pretrained encoder's tokenizer: drop them (the encoder's own settings apply)")
    return pretrained


def fit_encoder(recipe: Recipe, tokens: list[list[str]], tokenizer: Tokenizer,
                loaded: Encoder | None = None) -> tuple[TextEncoder, Pretrained | None]:
    """The encoder built from the training words (and the pretrained vectors' words, if any), or
    with a pretrained encoder (``loaded``, from :func:`recipe_encoder`), its vocabulary."""
    d = recipe.data
    if loaded is not None:
        about = {"encoder": str(loaded.folder.resolve()), "settings": loaded.settings,
                 "pretraining_seconds": loaded.pretraining_seconds, "epochs": loaded.epochs}
        vocab = loaded.text_encoder.vocab.with_options(num_words=d.num_words or None, skip_top=d.skip_top)
        return TextEncoder(vocab, tokenizer, d.maxlen or None, d.truncating), Pretrained(None, about, loaded.tensors)
    vocab = Vocabulary.build(tokens)
    pretrained = None
    source = recipe.model.get("pretrained")
    if source:
        from polarity.models.pretrained import load_glove, pretrained_matrix, vocabulary_coverage

        words, vectors = load_glove(source)
        known = frozenset(words)
        coverage = vocabulary_coverage(vocab, known)
        if d.pretrained_vocabulary == "all":
            vocab = Vocabulary(words)  # every pretrained word, in the vectors' own (frequency) order
        elif d.pretrained_vocabulary:
            vocab = vocab.restrict(known)
        vocab = vocab.with_options(num_words=d.num_words or None, skip_top=d.skip_top)
        matrix, coverage["model_vocabulary"] = pretrained_matrix(vocab, words, vectors, seed=recipe.training.seed,
                                                                 unknown=d.unknown_vector)
        pretrained = Pretrained(matrix, coverage)
    else:
        vocab = vocab.with_options(num_words=d.num_words or None, skip_top=d.skip_top)
    return TextEncoder(vocab, tokenizer, d.maxlen or None, d.truncating), pretrained


def encode(encoder: TextEncoder, data: LabelledTexts, tokens: list[list[str]] | None = None) -> EncodedSet:
    ids = encoder.encode_tokens(tokens) if tokens is not None else encoder.encode(data.texts)
    return EncodedSet(ids, np.asarray(data.labels, dtype=np.int64))


# -- step 3: model -----------------------------------------------------------------------------------------
def build_recipe_model(recipe: Recipe, encoder: TextEncoder, labels: list, pretrained: Pretrained | None) -> nn.Module:
    torch.manual_seed(recipe.training.seed)
    extra = {"vocab_size": encoder.vocab_size, "num_outputs": num_outputs(labels)}
    if pretrained is not None and pretrained.encoder is not None:
        extra["encoder"] = pretrained.encoder
    elif pretrained is not None:
        extra["pretrained"] = pretrained.matrix
    return build_model(model_options(recipe.model, encoder.maxlen), **extra)


def parameter_counts(model: nn.Module) -> dict:
    return {"total": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


# -- step 4: evaluation and the model folder ---------------------------------------------------------------
def best_threshold(probs_positive: np.ndarray, labels: np.ndarray) -> dict | None:
    """The decision threshold on P(second label) that maximises F1 on these (validation) texts."""
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(labels)) < 2:
        return None
    precision, recall, thresholds = precision_recall_curve(labels, probs_positive)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    best = int(np.argmax(f1))
    return {"threshold": round(float(thresholds[best]), 4), "f1": round(float(f1[best]), 4)}


def evaluate_split(predict: Predict, data: EncodedSet) -> tuple[dict, np.ndarray]:
    """Loss, accuracy and seconds on ``data``, and the probabilities."""
    started = time.perf_counter()
    logits = predict(data)
    metrics = evaluate_logits(logits, data.labels)
    metrics.update(reviews=len(data), seconds=round(time.perf_counter() - started, 2))
    return metrics, probabilities(logits)


def versions() -> dict:
    return {"polarity": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def final_metrics(recipe: Recipe, fitted: Fitted, splits: Splits, encoded: dict, device: torch.device,
                  limit: int | None) -> dict:
    """metrics.json: the test split (or, without one, the validation split), validation, epochs, and
    what the fitter reports beside (a hybrid's parts)."""
    metrics = {"recipe": recipe.name, "labels": splits.labels}
    if len(splits.valid):
        metrics["valid"], valid_probs = evaluate_split(fitted.predict, encoded["valid"])
        if len(splits.labels) == 2:
            metrics["valid"]["best_f1_threshold"] = best_threshold(valid_probs[:, 1], splits.valid.labels)
    if encoded.get("test") is not None:
        metrics["test"], _ = evaluate_split(fitted.predict, encoded["test"])
        metrics["reported_on"] = "test"
    else:
        metrics["reported_on"] = "valid"
    history = fitted.history
    metrics.update({
        "best_epoch": fitted.best_epoch + 1,
        "epochs_run": len(history),
        "seconds_per_epoch": round(float(np.mean([row["seconds"] for row in history])), 2),  # every fitter reports >= 1 row
        "device": str(device),
        "limited_to": limit,
    })
    metrics.update(fitted.report(encoded))
    return metrics


def save_run(folder: ModelFolder, recipe: Recipe, model: nn.Module, encoder: TextEncoder, splits: Splits,
             metrics: dict, history: list[dict], pretrained: Pretrained | None, started: float) -> None:
    config = {
        "recipe": recipe.to_dict(),
        "preprocessing": {"batching": recipe.training.batching},
        "data": {**splits.origin, "sizes": {"fit": len(splits.fit), "valid": len(splits.valid),
                                            "test": len(splits.test) if splits.test is not None else 0},
                 "limit": metrics["limited_to"], "valid_fraction": recipe.data.valid_fraction,
                 "seed": recipe.training.seed},
        "pretrained_coverage": pretrained.coverage if pretrained and pretrained.encoder is None else None,
        "pretrained_encoder": pretrained.coverage if pretrained and pretrained.encoder is not None else None,
        "parameters": parameter_counts(model),
        "training": {"device": metrics["device"], "seconds": round(time.perf_counter() - started, 1),
                     "command": " ".join(sys.argv)},
        "versions": versions(),
    }
    folder.write_metrics(metrics)
    folder.write_history(history)
    if history:
        plot_curves(history, folder.file(folder.CURVES), title=recipe.name)
    folder.save(model, encoder, splits.labels, config)


# -- all steps ---------------------------------------------------------------------------------------------
def _started_run(folder: ModelFolder) -> dict:
    """``run.json`` of an interrupted run: the recipe, limit and data it started with."""
    run_file = folder.run_file
    if not folder.checkpoint.is_file() and (not run_file.is_file() or folder.is_complete()):
        raise ConfigError(f"nothing to resume in {folder.path}: no {folder.CHECKPOINT} (the run finished or never "
                          "started)")
    try:
        run = json.loads(run_file.read_text(encoding="utf-8"))
        return {"recipe": Recipe.from_dict(run["recipe"]), "limit": run["limit"], "data": run.get("data") or {}}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{run_file} cannot be read ({exc}); start over with another --out") from exc


def _resumed_sources(origin: dict, given: dict) -> dict:
    """The data sources of a resumed run: the files it started with, unless the caller passes data."""
    if origin.get("dataset") != "files" or given.get("train") is not None:
        return given
    if "<memory>" in (origin.get("train"), origin.get("valid"), origin.get("test")):
        raise ConfigError("this run was trained on in-memory data: pass the same train=/valid=/test= to resume it")
    return {key: origin.get(key) for key in ("train", "valid", "test", "text_column", "label_column")}


def train_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    train: DataSource | None = None,
    valid: DataSource | None = None,
    test: DataSource | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
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
    """Train ``recipe`` and write its model folder to ``out_dir``; returns the metrics.

    Data: the IMDB splits by default, or ``train`` (and optionally ``valid``/``test``): a CSV/TSV/
    JSONL/Parquet file, a folder with one sub-folder per label, a ``(texts, labels)`` pair or
    :class:`~polarity.data.labelled.LabelledTexts`. Without ``valid``, a seeded stratified part of
    ``train`` validates; without ``test``, the final figures are the validation split's.
    """
    folder = ModelFolder(out_dir)
    log = log if distributed.is_main() else (lambda *args: None)
    sources = {"train": train, "valid": valid, "test": test, "text_column": text_column, "label_column": label_column}
    recipe, limit, sources, resume = _run_to_start(folder, recipe, limit, sources, resume)
    started = time.perf_counter()
    dev = resolve_device(device)
    splits = prepare_data(recipe, corpus=corpus, data=data, strict=strict, limit=limit, log=log, **sources)
    recipe = splits.recipe  # as it trains: the folder records that
    encoder, pretrained, encoded = encode_splits(recipe, splits, log)
    model = build_recipe_model(recipe, encoder, splits.labels, pretrained).to(dev)
    if distributed.is_main():
        folder.path.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_json(folder.run_file, {"recipe": recipe.to_dict(), "limit": limit, "data": splits.origin})
    log(describe_run(recipe, splits, model, dev))
    context = FitContext(recipe, model, encoded, splits.labels, encoder.maxlen, dev, folder.checkpoint, resume=resume,
                         progress=progress, callbacks=callbacks, log=log, pair_rows=splits.pair_rows,
                         written=splits.written)
    fitted = fitter_for(recipe.model["type"])(context)
    metrics = final_metrics(recipe, fitted, splits, encoded, dev, limit)
    if distributed.is_main():
        save_run(folder, recipe, model, encoder, splits, metrics, fitted.history, pretrained, started)
        folder.checkpoint.unlink(missing_ok=True)
    distributed.barrier()  # the folder is complete before any process returns
    return metrics


def _run_to_start(folder: ModelFolder, recipe: Recipe, limit: int | None, sources: dict,
                  resume: bool) -> tuple[Recipe, int | None, dict, bool]:
    """(recipe, limit, data sources, resume from a checkpoint): a resumed run's own, else the given ones."""
    if resume:
        run = _started_run(folder)
        recipe, limit, sources = run["recipe"], run["limit"], _resumed_sources(run["data"], sources)
        return recipe, limit, sources, folder.checkpoint.is_file()  # stopped before its first checkpoint: from the start
    if folder.checkpoint.is_file():
        raise ConfigError(f"{folder.path} holds an unfinished run: continue it with --resume, or choose another --out")
    return _absolute_data_files(recipe), limit, sources, False


def _absolute_data_files(recipe: Recipe) -> Recipe:
    """``data.pairs`` and ``data.exclude`` files as absolute paths, so that a run resumes from anywhere."""
    files = {f"data.{key}": str(Path(value).resolve()) for key in ("pairs", "exclude")
             if (value := getattr(recipe.data, key)) and value not in ("cad", "cad-dev") and Path(value).exists()}
    return recipe.with_overrides(files) if files else recipe


def encode_splits(recipe: Recipe, splits: Splits, log) -> tuple[TextEncoder, Pretrained | None, dict]:
    """The text encoder (and pretrained vectors or encoder) fitted on the training texts, and every
    split encoded."""
    loaded = recipe_encoder(recipe)
    tokenizer = recipe_tokenizer(recipe, loaded)
    fit_tokens = [tokenizer(x) for x in splits.fit.texts]
    encoder, pretrained = fit_encoder(recipe, fit_tokens, tokenizer, loaded)
    del loaded
    encoded = {"fit": encode(encoder, splits.fit, fit_tokens)}
    del fit_tokens  # millions of token strings: the largest object of a run, not needed once encoded
    encoded["valid"] = encode(encoder, splits.valid) if len(splits.valid) else None
    encoded["test"] = encode(encoder, splits.test) if splits.test is not None else None
    encoded["mix_extra"] = encode(encoder, splits.mix_extra) if splits.mix_extra is not None else None
    if pretrained is not None:
        log(describe_pretrained(pretrained))
    return encoder, pretrained, encoded


def describe_pretrained(pretrained: Pretrained) -> str:
    c = pretrained.coverage
    if pretrained.encoder is not None:
        return (f"pretrained encoder {c['encoder']} ({c['epochs']} epochs, {c['pretraining_seconds'] / 60:.0f} min "
                "of pretraining)")
    return (f"pretrained vectors cover {c['word_coverage']:.1%} of the {c['words']:,} training words "
            f"and {c['token_coverage']:.1%} of the training tokens; "
            f"{c['model_vocabulary']['word_coverage']:.1%} of the model's vocabulary has a vector")


def describe_run(recipe: Recipe, splits: Splits, model: nn.Module, device: torch.device) -> str:
    test_note = f"test {len(splits.test):,}" if splits.test is not None else "no test set: final report on validation"
    processes = f", {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
    sized = all(p.numel() for p in model.parameters())  # n-gram weights are sized by their fit, still to come
    size = f"{parameter_counts(model)['total']:,} parameters, " if sized else ""
    return (f"{VERBS.get(recipe.model['type'], 'training')} {recipe.name} on {len(splits.fit):,} texts "
            f"(validation {len(splits.valid):,}, {test_note}), {len(splits.labels)} labels, {size}device {device}"
            f"{processes}")

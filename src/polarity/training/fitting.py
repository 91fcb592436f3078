"""How each model kind is fitted, in one place: by gradient steps on the one loop (``rnn``,
``mean-embedding``), in closed form by scikit-learn (``tfidf-lr``, ``nbsvm``), or both in turn
(``hybrid``: NBSVM, then its RNN on the loop, then the mix of the two on the validation split).
A kind's fitter is found by its recipe type name; :func:`polarity.training.pipeline.train_recipe`
calls it without knowing which it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from polarity.engine import EncodedSet, evaluate_logits, predict_logits
from polarity.errors import ConfigError, DataError
from polarity.training.linear import fit_bag_of_ngrams, fit_mix, part_logits
from polarity.training.loop import make_optimizer
from polarity.training.recipes import Recipe
from polarity.training.trainer import Trainer, discriminative_groups

Predict = Callable[[EncodedSet], np.ndarray]


@dataclass
class FitContext:
    """What a fitter gets: the recipe, the model, the encoded splits and how the run goes."""

    recipe: Recipe
    model: nn.Module
    encoded: dict[str, EncodedSet | None]
    labels: list
    maxlen: int | None
    device: torch.device
    checkpoint: Path
    resume: bool = False
    progress: bool = True
    callbacks: list | None = None
    log: Callable = print
    pair_rows: list[tuple[int, int]] = field(default_factory=list)  # review pairs among the fit texts
    written: int | None = None  # the first fit texts, written by people; the rest are sentences made by rule


@dataclass
class Fitted:
    """A fitted model: its predictions (logits of an encoded split), history and best epoch (0-based),
    and anything more the metrics report (``extra``, e.g. a hybrid's parts)."""

    predict: Predict
    history: list[dict]
    best_epoch: int = 0
    report: Callable[[dict], dict] = field(default=lambda encoded: {})


Fitter = Callable[[FitContext], Fitted]
_FITTERS: dict[str, Fitter] = {}
VERBS: dict[str, str] = {}  # how the log names the work: "training" or "fitting"


def fits(*types: str, verb: str = "training") -> Callable[[Fitter], Fitter]:
    """Register a fitter for the recipe model types ``types``."""
    def add(fitter: Fitter) -> Fitter:
        for name in types:
            _FITTERS[name], VERBS[name] = fitter, verb
        return fitter

    return add


def fitter_for(model_type: str) -> Fitter:
    if model_type not in _FITTERS:
        raise ConfigError(f"no way to fit a model of type {model_type!r}")
    return _FITTERS[model_type]


def train_on_loop(context: FitContext, model: nn.Module) -> Trainer:
    """``model`` (the whole model, or the part that trains by gradient) trained on the one loop."""
    t = context.recipe.training
    params = model.parameters() if t.lr_decay == 1 else discriminative_groups(model, t.lr, t.lr_decay)
    optimizer = make_optimizer(t.optimizer, params, t.lr, initial_accumulator=t.initial_accumulator)
    encoded = context.encoded
    trainer = Trainer(model, optimizer, encoded["fit"], encoded["valid"], training=t, maxlen=context.maxlen,
                      device=context.device, checkpoint=context.checkpoint, test=encoded["test"],
                      callbacks=context.callbacks, progress=context.progress, pair_rows=context.pair_rows)
    trainer.fit(resume=context.resume)
    return trainer


@fits("rnn", "mean-embedding")
def fit_by_gradient(context: FitContext) -> Fitted:
    trainer = train_on_loop(context, context.model)
    return Fitted(trainer.predict, trainer.state.history, trainer.state.best_epoch)


def require_every_label(texts: EncodedSet, labels: list, kind: str) -> None:
    """scikit-learn fits a linear model to the labels it is shown: one with no texts would get no
    weights of its own (with three labels or more, the fit would even look fine)."""
    missing = [str(name) for k, name in enumerate(labels) if not (texts.labels == k).any()]
    if missing:
        raise DataError(f"{kind} is fitted on texts of every label, and its training texts have none labelled "
                        f"{', '.join(map(repr, missing))}: add some, or raise --limit")


@fits("tfidf-lr", "nbsvm", verb="fitting")
def fit_closed_form(context: FitContext) -> Fitted:
    """A linear model fitted by scikit-learn (no epochs, no checkpoint: it takes seconds)."""
    model, encoded, device = context.model, context.encoded, context.device
    require_every_label(encoded["fit"], context.labels, context.recipe.model["type"])
    row = fit_bag_of_ngrams(model, encoded["fit"], encoded["valid"], len(context.labels), context.recipe.training.seed)
    model.to(device)
    context.log(f"{row['features']:,} n-grams, fitted in {row['seconds']:.1f} s")

    def predict(data: EncodedSet) -> np.ndarray:
        return predict_logits(model, data, batching="bucketed", maxlen=None, device=device)

    if encoded["valid"] is not None:
        valid = evaluate_logits(predict(encoded["valid"]), encoded["valid"].labels)
        row.update(val_loss=valid["loss"], val_accuracy=valid["accuracy"])
    return Fitted(predict, [row])


@fits("hybrid")
def fit_hybrid(context: FitContext) -> Fitted:
    """NBSVM first (again on resume: it is deterministic), then the RNN alone on the loop, then the
    mix of their logits on the validation split. NBSVM fits the texts people wrote only: the sentences
    made by rule (``data.augment``, ``data.contrast_fraction``) teach word order, which the RNN reads
    and a bag of n-grams cannot."""
    model, encoded = context.model, context.encoded
    if encoded["valid"] is None or len(np.unique(encoded["valid"].labels)) < 2:
        raise ConfigError("a hybrid model fits its mix of the RNN and NBSVM on the validation split, which needs "
                          "texts of both labels: set data.valid_fraction > 0 (or raise it), or give --valid")
    written = ngram_texts(context)
    require_every_label(written, context.labels, "hybrid's NBSVM part")
    row = fit_bag_of_ngrams(model.ngrams, written, encoded["valid"], len(context.labels), context.recipe.training.seed)
    wrote = f" on the {len(written):,} texts people wrote" if len(written) != len(encoded["fit"]) else ""
    context.log(f"NBSVM part: {row['features']:,} n-grams, fitted in {row['seconds']:.1f} s{wrote}")
    trainer = train_on_loop(context, model.recurrent)
    parts = PartLogits(model, context.device)
    mixed_on = [encoded["valid"]] + ([encoded["mix_extra"]] if encoded.get("mix_extra") is not None else [])
    fit_mix(model, np.concatenate([m.labels for m in mixed_on]), np.concatenate([parts.inputs(m) for m in mixed_on]))
    return Fitted(parts.mixed, trainer.state.history, trainer.state.best_epoch,
                  report=lambda split_data: {"parts": hybrid_parts(model, split_data, parts)})


def ngram_texts(context: FitContext) -> EncodedSet:
    """The texts a hybrid's n-gram part fits: those people wrote (reviews, then pairs), with the pairs
    read ``training.ngram_pair_repeat`` times in all where that is more than ``data.pair_repeat`` (else
    as often as they join the training texts). A bag of n-grams reads an edited review's few changed
    words only if it sees them often enough."""
    fit = context.encoded["fit"]
    written = fit.head(len(fit) if context.written is None else context.written)
    extra = context.recipe.training.ngram_pair_repeat - context.recipe.data.pair_repeat
    if extra <= 0 or not context.pair_rows:
        return written
    rows = [row for pair in context.pair_rows for row in pair] * extra
    return EncodedSet(written.sequences + [fit.sequences[row] for row in rows],
                      np.concatenate([written.labels, fit.labels[rows]]))


class PartLogits:
    """A hybrid's two logits per text of each split, computed once for the mix, the metrics and the parts."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.model, self.device, self.cache = model, device, {}

    def __call__(self, data: EncodedSet) -> np.ndarray:
        if id(data) not in self.cache:
            self.cache[id(data)] = (data, part_logits(self.model, data, self.device))
        return self.cache[id(data)][1]

    def inputs(self, data: EncodedSet) -> np.ndarray:
        """What the hybrid's mix weighs for each text (the two logits, and with ``mix = "length"`` more)."""
        parts = torch.as_tensor(self(data))
        return self.model.mixed_inputs(parts, torch.as_tensor(data.lengths)).numpy()

    def mixed(self, data: EncodedSet) -> np.ndarray:
        """The hybrid's logits: its fitted mix of the two parts."""
        weight, bias = (t.detach().cpu().numpy() for t in (self.model.mix.weight, self.model.mix.bias))
        return (self.inputs(data) @ weight.T + bias).ravel().astype(np.float32)


def hybrid_parts(model: nn.Module, encoded: dict, parts: PartLogits) -> dict:
    """Accuracy of each part alone and the mixing weights: what each part contributes."""
    weight = model.mix.weight.detach()[0].tolist()
    report = {"mix_weights": {name: round(w, 4) for name, w in zip(model.mix_inputs, weight)}}
    for split in ("valid", "test"):
        if encoded.get(split) is not None:
            logits = parts(encoded[split])
            report[split] = {name: evaluate_logits(logits[:, k], encoded[split].labels)["accuracy"]
                             for k, name in enumerate(("rnn", "ngrams"))}
    return report

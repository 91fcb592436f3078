"""Classifier training on the one loop: batches of encoded reviews, their loss and right answers,
validation at each epoch's end, the best epoch by validation accuracy, early stopping, and ULMFiT's
discriminative learning rates and gradual unfreezing."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from polarity.engine import EncodedSet, autocast, evaluate_logits, make_batch, plan_batches, predict_logits
from polarity.engine import distributed
from polarity.engine.device import resolve_precision
from polarity.engine.predict import loss_and_correct
from polarity.errors import ConfigError
from polarity.training.loop import BestEpoch, Loop, LoopState, Task
from polarity.training.progress import ProgressLine
from polarity.training.recipes import TrainingConfig
from polarity.training.steps import choose_strategy


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The model's parameters from its bottom layer to its top (one group if it does not say)."""
    return model.layer_groups() if hasattr(model, "layer_groups") else [list(model.parameters())]


def discriminative_groups(model: nn.Module, lr: float, decay: float) -> list[dict]:
    """Optimizer groups, one per layer group: the top one at ``lr``, each lower one ``decay`` times
    slower (ULMFiT's discriminative fine-tuning: lower layers hold more general, pretrained features)."""
    groups = layer_groups(model)
    top = len(groups) - 1
    return [{"params": [p for p in group if p.requires_grad], "lr": lr / decay ** (top - k)}
            for k, group in enumerate(groups) if any(p.requires_grad for p in group)]


def unfrozen_groups(epoch: float, groups: int, schedule: str) -> int:
    """How many layer groups, counted from the top, train in ``epoch`` (0-based): all of them, or
    with ``gradual`` unfreezing (ULMFiT) the top one in the first epoch and one more each epoch after."""
    return groups if schedule == "none" else min(groups, epoch + 1)


class ClassifierTask(Task):
    """Encoded, labelled reviews for :class:`~polarity.training.loop.Loop`: batches planned as the
    recipe says (exact or bucketed), cross-entropy loss, validation (and test) each epoch."""

    def __init__(self, model: nn.Module, train: EncodedSet, valid: EncodedSet | None, test: EncodedSet | None, *,
                 training: TrainingConfig, maxlen: int | None, device: torch.device,
                 pair_rows: list[tuple[int, int]] | None = None) -> None:
        self.model, self.train_set, self.valid_set, self.test_set = model, train, valid, test
        self.pairs = PairTerm(pair_rows, training, train.labels) if training.pair_weight and pair_rows else None
        self.training, self.maxlen, self.device = training, maxlen, device
        self.precision = resolve_precision(training.precision, device)
        self.batch_width = maxlen if training.batching == "exact" else None
        self.world = distributed.world_size()
        self._groups = layer_groups(model)
        self._trainable = [[p.requires_grad for p in group] for group in self._groups]
        if training.unfreeze != "none" and self.world > 1:
            raise ConfigError("training.unfreeze = 'gradual' changes which weights train between epochs, which "
                              "DistributedDataParallel does not allow; use it in one process")

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch``; with N processes, batches of N x ``batch_size`` reviews that
        the processes share (the same seeded plan on every process)."""
        t = self.training
        return plan_batches(self.train_set, t.batching, t.batch_size * self.world, seed=t.seed, epoch=epoch)

    def lengths(self, indices: np.ndarray) -> list[int]:
        return [len(self.train_set.sequences[i]) for i in indices]

    def forward(self, indices: np.ndarray, network: nn.Module) -> tuple[torch.Tensor, int]:
        """Mean loss over the reviews at ``indices`` and how many of them the model gets right."""
        ids, lengths, labels = make_batch(self.train_set, indices, self.batch_width, self.device)
        with autocast(self.device, self.precision):
            logits = network(ids, lengths)
            loss, correct = loss_and_correct(logits, labels)
            if self.pairs is not None:
                loss = loss + self.pairs(network, self.train_set, self.batch_width, self.device)
        return loss, int(correct.item())

    def unfreeze(self, epoch: float) -> int:
        """Let the layer groups of ``epoch``'s schedule train (weights frozen by the recipe stay frozen)."""
        count = unfrozen_groups(epoch, len(self._groups), self.training.unfreeze)
        for k, (group, trainable) in enumerate(zip(self._groups, self._trainable)):
            for param, can_train in zip(group, trainable):
                param.requires_grad_(can_train and k >= len(self._groups) - count)
        return count

    begin_epoch = unfreeze

    def every_layer_trains(self, epoch: int) -> bool:
        """With gradual unfreezing, patience counts once every layer trains."""
        return unfrozen_groups(epoch, len(self._groups), self.training.unfreeze) == len(self._groups)

    def predict(self, data: EncodedSet) -> np.ndarray:
        """Logits for ``data``; with N processes each predicts its share and all receive all."""
        mine = distributed.share(len(data)) if self.world > 1 else None
        part = EncodedSet([data.sequences[i] for i in mine], data.labels[mine]) if mine is not None else data
        logits = predict_logits(self.model, part, batching=self.training.batching, maxlen=self.maxlen,
                                device=self.device, precision=self.precision)
        return distributed.gather_rows(logits, len(data), self.device) if mine is not None else logits

    def measure(self, data: EncodedSet) -> dict:
        return evaluate_logits(self.predict(data), data.labels)

    def evaluate(self, state: LoopState) -> dict:
        row = state.running()
        if self.valid_set is not None and len(self.valid_set):
            valid = self.measure(self.valid_set)
            row.update(val_loss=valid["loss"], val_accuracy=valid["accuracy"])
        if self.training.eval_test_each_epoch and self.test_set is not None:
            test = self.measure(self.test_set)
            row.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
        return row


class PairTerm:
    """A term that makes the two texts of a review pair disagree, in the direction of their labels:
    at each step ``pairs_per_step`` pairs are drawn (PyTorch's generator: a resumed run draws the
    same), and ``weight * softplus(1 - (logit of the positive text - logit of the negative one))``
    is added to the batch's loss. Two labels, one process without shards."""

    def __init__(self, pair_rows: list[tuple[int, int]], training: TrainingConfig, labels: np.ndarray) -> None:
        if training.shards > 1 or distributed.world_size() > 1:
            raise ConfigError("training.pair_weight runs in one process: use training.shards = 1, without torchrun")
        if len(np.unique(labels)) > 2:
            raise ConfigError("training.pair_weight is for two-label models")
        rows = np.asarray(pair_rows, dtype=np.int64)
        flip = labels[rows[:, 0]] == 0  # each pair as (positive text, negative text)
        self.rows = np.where(flip[:, None], rows[:, ::-1], rows)
        self.weight, self.count = training.pair_weight, training.pairs_per_step

    def __call__(self, network: nn.Module, data: EncodedSet, width: int | None, device: torch.device) -> torch.Tensor:
        drawn = self.rows[torch.randint(len(self.rows), (min(self.count, len(self.rows)),)).numpy()]
        ids, lengths, _ = make_batch(data, drawn.T.ravel(), width, device)
        logits = network(ids, lengths)
        positive, negative = logits[: len(drawn)], logits[len(drawn):]
        return self.weight * F.softplus(1.0 - (positive - negative)).mean()


class Trainer(Loop):
    """The loop for a classifier: fits ``model`` on ``train`` and keeps the best epoch on ``valid``
    (accuracy). ``checkpoint`` is rewritten after every epoch and on a stop request (Ctrl-C, or
    :meth:`request_stop`), so an interrupted run resumes where it stopped, random state included."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, train: EncodedSet,
                 valid: EncodedSet | None, *, training: TrainingConfig, maxlen: int | None, device: torch.device,
                 checkpoint: Path | None, test: EncodedSet | None = None,
                 callbacks: list[Callable] | None = None, progress: bool = True,
                 pair_rows: list[tuple[int, int]] | None = None) -> None:
        strategy = choose_strategy(model, device, training.shards, training.seed)
        task = ClassifierTask(model, train, valid, test, training=training, maxlen=maxlen, device=device,
                              pair_rows=pair_rows)
        best = BestEpoch(restore=training.restore_best, patience=training.early_stopping, counts=task.every_layer_trains)
        super().__init__(task, optimizer, epochs=training.epochs, checkpoint=checkpoint, device=device,
                         progress=ProgressLine(training.epochs, enabled=progress and distributed.is_main()),
                         strategy=strategy, best=best, callbacks=callbacks)

    def predict(self, data: EncodedSet) -> np.ndarray:
        return self.task.predict(data)

    def unfreeze(self, epoch: float = math.inf) -> int:
        return self.task.unfreeze(epoch)

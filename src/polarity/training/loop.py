"""The fit loop: epochs of batches, validation, best weights, early stopping, interruptible and resumable."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from polarity.engine import EncodedSet, autocast, evaluate_logits, flush_denormals, make_batch, plan_batches, predict_logits
from polarity.engine import distributed
from polarity.engine.device import resolve_precision
from polarity.engine.predict import loss_and_correct
from polarity.engine.threads import ShardPool
from polarity.errors import ConfigError
from polarity.models.classifiers import random_source
from polarity.training.checkpoint import load_checkpoint, optimizer_tensors, restore_optimizer, save_checkpoint
from polarity.training.progress import ProgressLine
from polarity.training.recipes import TrainingConfig
from polarity.training.shards import rank_share, shard_seed, split_batch


class TrainingInterrupted(Exception):
    """Raised after a stop request (Ctrl-C) once a resumable checkpoint is written."""

    def __init__(self, checkpoint: Path) -> None:
        super().__init__(f"training interrupted; resume with --resume (checkpoint {checkpoint})")
        self.checkpoint = checkpoint


def make_optimizer(name: str, params, lr: float, *, initial_accumulator: float = 0.1) -> torch.optim.Optimizer:
    """Keras's defaults: Adam eps 1e-7; Adagrad initial accumulator 0.1 (tf.keras; standalone Keras 2.2
    started from 0), eps 1e-7; RMSprop rho 0.9.

    Adam and Adagrad run PyTorch's fused kernels on CPU and CUDA: one pass per tensor, and on CPU the
    only way found to make the first step's update the same in every process (docs/PERFORMANCE.md,
    experiment 14).
    """
    params = list(params)
    if params and isinstance(params[0], dict):  # parameter groups, each with its own lr
        every = [p for group in params for p in group["params"]]
    else:
        params = every = [p for p in params if p.requires_grad]
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in every)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-7, fused=fused)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, initial_accumulator_value=initial_accumulator, eps=1e-7, fused=fused)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
    return torch.optim.SGD(params, lr=lr)


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


def unfrozen_groups(epoch: int, groups: int, schedule: str) -> int:
    """How many layer groups, counted from the top, train in ``epoch`` (0-based): all of them, or
    with ``gradual`` unfreezing (ULMFiT) the top one in the first epoch and one more each epoch after."""
    return groups if schedule == "none" else min(groups, epoch + 1)


@dataclass
class FitState:
    """Where training stands; saved in checkpoints so that a resumed run continues exactly."""

    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = -1
    steps: int = 0
    stale_epochs: int = 0
    done: bool = False


def rng_key(rank: int) -> str:
    """Checkpoint key of one process's random state (``rng.torch`` for the first, as before)."""
    return "rng.torch" if rank == 0 else f"rng.torch.{rank}"


class Trainer:
    """Fits ``model`` on ``train`` and picks the best epoch on ``valid`` (accuracy).

    ``checkpoint`` is rewritten after every epoch and on a stop request (Ctrl-C, or
    :meth:`request_stop`), so an interrupted run resumes where it stopped, RNG state included.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        train: EncodedSet,
        valid: EncodedSet | None,
        *,
        training: TrainingConfig,
        maxlen: int | None,
        device: torch.device,
        checkpoint: Path,
        test: EncodedSet | None = None,
        callbacks: list[Callable[["Trainer", FitState], None]] | None = None,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.train_set, self.valid_set, self.test_set = train, valid, test
        self.training = training
        self.precision = resolve_precision(training.precision, device)
        self.shards = training.shards
        if self.shards > 1 and device.type != "cpu":
            raise ConfigError(f"training.shards = {self.shards} splits batches over CPU threads; use 1 on {device.type}")
        self._shard_pool: ShardPool | None = None
        self.world, self.rank = distributed.world_size(), distributed.rank()
        if self.world > 1 and self.shards > 1:
            raise ConfigError("training.shards > 1 splits batches over threads of one process; with torchrun use 1")
        self.network = self._data_parallel(model, device) if self.world > 1 else model
        self.batch_width = maxlen if training.batching == "exact" else None
        self.maxlen = maxlen
        self.device = device
        self.checkpoint = checkpoint
        self.callbacks = callbacks or []
        self.progress = ProgressLine(training.epochs, enabled=progress and distributed.is_main())
        self.state = FitState()
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._stop = threading.Event()
        self._groups = layer_groups(model)
        self._trainable = [[p.requires_grad for p in group] for group in self._groups]
        if training.unfreeze != "none" and self.world > 1:
            raise ConfigError("training.unfreeze = 'gradual' changes which weights train between epochs, which "
                              "DistributedDataParallel does not allow; use it in one process")
        flush_denormals()

    def unfreeze(self, epoch: int) -> int:
        """Let the layer groups of ``epoch``'s schedule train (weights frozen by the recipe stay frozen)."""
        count = unfrozen_groups(epoch, len(self._groups), self.training.unfreeze)
        for k, (group, trainable) in enumerate(zip(self._groups, self._trainable)):
            for param, can_train in zip(group, trainable):
                param.requires_grad_(can_train and k >= len(self._groups) - count)
        return count

    @staticmethod
    def _data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` behind DistributedDataParallel: gradients averaged over the processes after backward."""
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    # -- control ------------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the current batch, write a checkpoint and raise :class:`TrainingInterrupted`."""
        self._stop.set()

    def _on_sigint(self, signum, frame) -> None:
        if self._stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        if distributed.is_main():
            print("\nstopping after this batch (Ctrl-C again to abort without a checkpoint)...", flush=True)
        self._stop.set()

    # -- checkpoints ----------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint (the main process writes; every process's random state goes in it)."""
        rng_states = distributed.gather_tensors(torch.get_rng_state(), self.device)
        if distributed.is_main():
            self._write_checkpoint(rng_states)
        distributed.barrier()  # no process goes on (or exits) before the checkpoint is on disk

    def _write_checkpoint(self, rng_states: list[torch.Tensor]) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt_tensors, opt_meta = optimizer_tensors(self.optimizer)
        tensors.update(opt_tensors)
        tensors.update({rng_key(r): state for r, state in enumerate(rng_states)})
        if self.best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
        state = dict(vars(self.state), optimizer=opt_meta, world_size=self.world)
        state["best_score"] = None if math.isinf(self.state.best_score) else self.state.best_score
        save_checkpoint(self.checkpoint, tensors, state)

    def restore(self) -> None:
        tensors, meta = load_checkpoint(self.checkpoint)
        written_by = meta.pop("world_size", 1)
        if written_by != self.world:
            raise ConfigError(f"{self.checkpoint} was written by {written_by} process(es); resume it with as many "
                              f"(now {self.world})")
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        restore_optimizer(self.optimizer, tensors, meta.pop("optimizer"))
        torch.set_rng_state(tensors[rng_key(self.rank)])
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best_weights = best or None
        if meta.get("best_score") is None:
            meta["best_score"] = -math.inf
        self.state = FitState(**meta)

    # -- the loop -----------------------------------------------------------------------------------
    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The batches of ``epoch``; with N processes, batches of N x ``batch_size`` reviews that
        the processes share (the same seeded plan on every process)."""
        t = self.training
        return plan_batches(self.train_set, t.batching, t.batch_size * self.world, seed=t.seed, epoch=epoch)

    def _forward(self, indices: np.ndarray, network: nn.Module | None = None) -> tuple[torch.Tensor, int]:
        """Mean loss over the reviews at ``indices`` and how many of them the model gets right."""
        ids, lengths, labels = make_batch(self.train_set, indices, self.batch_width, self.device)
        with autocast(self.device, self.precision):
            logits = (network or self.model)(ids, lengths)
            loss, correct = loss_and_correct(logits, labels)
        return loss, int(correct.item())

    def train_step(self, indices: np.ndarray) -> None:
        """One optimizer step on the reviews at ``indices``."""
        self.model.train()
        if self.world > 1:
            loss_sum, correct = self._distributed_step(indices)
        elif self.shards > 1:
            loss_sum, correct = self._sharded_step(indices)
        else:
            loss, correct = self._forward(indices)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loss_sum = loss.item() * len(indices)
        self.optimizer.step()
        s = self.state
        s.loss_sum += loss_sum
        s.correct += correct
        s.seen += len(indices)
        s.steps += 1

    def _distributed_step(self, indices: np.ndarray) -> tuple[float, int]:
        """This process's share of the batch; DDP averages the gradients over the processes. Each
        share's mean loss is weighted by its size, so the average is the whole batch's mean loss."""
        part = rank_share(indices, self.train_set.lengths[indices], self.world, self.rank)
        loss, correct = self._forward(part if len(part) else indices[:1], self.network)  # every process must step
        weight = len(part) * self.world / len(indices)
        self.optimizer.zero_grad(set_to_none=True)
        (loss * weight).backward()
        totals = torch.tensor([loss.item() * len(part), correct if len(part) else 0], dtype=torch.float64)
        totals = distributed.sum_all(totals, self.device)
        return float(totals[0]), int(totals[1])

    def _sharded_step(self, indices: np.ndarray) -> tuple[float, int]:
        """Gradients of the batch's mean loss, from its shards trained at once (see ``shards.py``)."""
        if self._shard_pool is None:
            self._shard_pool = ShardPool(self.shards)
        parts = split_batch(indices, [len(self.train_set.sequences[i]) for i in indices], self.shards)
        params = [p for p in self.model.parameters() if p.requires_grad]
        seed, step = self.training.seed, self.state.steps

        def run(shard: tuple[int, np.ndarray]):
            k, part = shard
            with random_source(torch.Generator().manual_seed(shard_seed(seed, step, k))):
                loss, correct = self._forward(part)
            grads = torch.autograd.grad(loss * (len(part) / len(indices)), params, allow_unused=True)
            return grads, loss.item() * len(part), correct

        results = self._shard_pool.map(run, list(enumerate(parts)))
        for i, param in enumerate(params):
            grads = [r[0][i] for r in results if r[0][i] is not None]
            param.grad = torch.stack(grads).sum(0) if grads else None
        return sum(r[1] for r in results), sum(r[2] for r in results)

    def predict(self, data: EncodedSet) -> np.ndarray:
        """Logits for ``data``; with N processes each predicts its share and all receive all."""
        mine = distributed.share(len(data)) if self.world > 1 else None
        part = EncodedSet([data.sequences[i] for i in mine], data.labels[mine]) if mine is not None else data
        logits = predict_logits(self.model, part, batching=self.training.batching, maxlen=self.maxlen,
                                device=self.device, precision=self.precision)
        return distributed.gather_rows(logits, len(data), self.device) if mine is not None else logits

    def _evaluate(self, data: EncodedSet) -> dict:
        return evaluate_logits(self.predict(data), data.labels)

    def _end_epoch(self, started: float) -> bool:
        """Validate, record, keep the best weights; True when early stopping says stop."""
        s, t = self.state, self.training
        row = {"epoch": s.epoch + 1, "loss": s.loss_sum / max(s.seen, 1), "accuracy": s.correct / max(s.seen, 1)}
        if self.valid_set is not None and len(self.valid_set):
            valid = self._evaluate(self.valid_set)
            row.update(val_loss=valid["loss"], val_accuracy=valid["accuracy"])
        if t.eval_test_each_epoch and self.test_set is not None:
            test = self._evaluate(self.test_set)
            row.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
        row["seconds"] = round(time.perf_counter() - started, 2)
        s.history.append(row)
        self.progress.end_epoch({k: v for k, v in row.items() if k not in ("epoch", "seconds")})
        score = row.get("val_accuracy", row["accuracy"])
        if score > s.best_score:
            s.best_score, s.best_epoch, s.stale_epochs = score, s.epoch, 0
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        elif unfrozen_groups(s.epoch, len(self._groups), t.unfreeze) == len(self._groups):
            s.stale_epochs += 1  # with gradual unfreezing, patience counts once every layer trains
        s.epoch, s.batch, s.loss_sum, s.correct, s.seen = s.epoch + 1, 0, 0.0, 0, 0
        patience = t.early_stopping
        return bool(patience) and s.stale_epochs >= patience

    def fit(self, resume: bool = False) -> list[dict]:
        if resume:
            self.restore()
        else:
            self.save()  # from now on, a run killed at any moment can be resumed
        handler_installed = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if handler_installed else None
        try:
            self._fit()
        finally:
            self.unfreeze(len(self._groups))  # every group trainable again, as the model was given
            if handler_installed:
                signal.signal(signal.SIGINT, previous)
            if self._shard_pool is not None:
                self._shard_pool.close()
                self._shard_pool = None
        if self.training.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        return self.state.history

    def _fit(self) -> None:
        s = self.state
        while not s.done and s.epoch < self.training.epochs:
            batches = self.epoch_batches(s.epoch)
            self.unfreeze(s.epoch)
            self.progress.start_epoch(s.epoch, len(batches))
            started = time.perf_counter()
            while s.batch < len(batches):
                self.train_step(batches[s.batch])
                s.batch += 1
                self.progress.update(s.batch, {"loss": s.loss_sum / s.seen, "accuracy": s.correct / s.seen})
                for callback in self.callbacks:
                    callback(self, s)
                if distributed.any_rank(self._stop.is_set(), self.device):
                    self.save()
                    raise TrainingInterrupted(self.checkpoint)
            if self._end_epoch(started):
                s.done = True
            self.save()
        s.done = True

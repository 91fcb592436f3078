"""The one training loop: epochs of steps, checkpoints, Ctrl-C, exact resume, progress, the best
epoch's weights and early stopping. What differs between classifier training and language-model
pretraining is a :class:`Task` (its batches, its forward pass, what an epoch ends with) and a step
strategy (one process, shards on CPU threads, DistributedDataParallel: :mod:`polarity.training.steps`).

A run resumed from its checkpoint ends with the same weights as an uninterrupted one: the
checkpoint holds the weights, the optimizer, every process's random state, the best epoch's
weights and where the loop stands, and is rewritten after every epoch, on a stop request, and
every ``checkpoint_minutes`` if set.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn as nn

from polarity.engine import distributed
from polarity.engine.device import flush_denormals
from polarity.errors import ConfigError
from polarity.training.checkpoint import load_checkpoint, optimizer_tensors, restore_optimizer, save_checkpoint
from polarity.training.steps import OneProcess, StepStrategy

Callback = Callable[["Loop", "LoopState"], None]


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


@dataclass
class LoopState:
    """Where training stands; saved in checkpoints so that a resumed run continues exactly."""

    epoch: int = 0
    batch: int = 0              # batches done in this epoch
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    steps: int = 0              # optimizer steps in all
    seconds: float = 0.0        # time spent training, summed over runs (resumes included)
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = -1
    stale_epochs: int = 0
    done: bool = False

    @classmethod
    def from_checkpoint(cls, meta: dict) -> "LoopState":
        """The state a checkpoint holds (also one written before the loops were one: pretraining's
        ``step`` and ``seen_windows`` are ``batch`` and ``seen``)."""
        renamed = {"step": "batch", "seen_windows": "seen"}
        values = {renamed.get(k, k): v for k, v in meta.items()}
        values["best_score"] = -math.inf if values.get("best_score") is None else values["best_score"]
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def to_checkpoint(self) -> dict:
        return dict(asdict(self), best_score=None if math.isinf(self.best_score) else self.best_score)

    def running(self) -> dict:
        """The epoch's running loss (and accuracy, for a task that counts right answers)."""
        return {"loss": self.loss_sum / max(self.seen, 1), "accuracy": self.correct / max(self.seen, 1)}


class Task(Protocol):
    """What one kind of training brings to the loop."""

    model: nn.Module

    def epoch_batches(self, epoch: int) -> Sequence[np.ndarray]:
        """The batches of ``epoch``: index arrays into the task's data."""

    def lengths(self, indices: np.ndarray) -> Sequence[int]:
        """How long each item of a batch is (to share a batch out by length)."""

    def forward(self, indices: np.ndarray, network: nn.Module) -> tuple[torch.Tensor, int]:
        """The mean loss over the items at ``indices`` and how many the model gets right."""

    def begin_epoch(self, epoch: int) -> None:
        """Before an epoch's first step (or its resumed next step)."""

    def evaluate(self, state: LoopState) -> dict:
        """An epoch's history row (after its number): the training loss, validation metrics, a
        perplexity; the loop adds the epoch's ``seconds`` unless the row has its own."""

    def end_epoch(self, state: LoopState) -> None:
        """After the epoch is recorded, before the checkpoint (e.g. write a snapshot)."""


class Progress(Protocol):
    """What the user sees: an epoch starts, a step ends (batches done, running metrics), an epoch's
    history row."""

    def start_epoch(self, epoch: int, total_batches: int) -> None: ...
    def update(self, done: int, metrics: dict) -> None: ...
    def end_epoch(self, row: dict) -> None: ...


@dataclass
class BestEpoch:
    """The best epoch by ``monitor`` (a history row's key, the first of ``monitor`` present): its
    weights are kept (and restored at the end with ``restore``), and ``patience`` epochs without a
    better one stop training (0: never). ``counts`` says whether an epoch counts for the patience."""

    monitor: tuple[str, ...] = ("val_accuracy", "accuracy")
    restore: bool = True
    patience: int = 0
    counts: Callable[[int], bool] = lambda epoch: True


class Loop:
    """Trains ``task.model`` with ``optimizer`` for ``epochs`` epochs, checkpointing to ``checkpoint``."""

    def __init__(self, task: Task, optimizer: torch.optim.Optimizer, *, epochs: int, checkpoint: Path,
                 device: torch.device, progress: Progress, strategy: StepStrategy | None = None,
                 best: BestEpoch | None = None, callbacks: list[Callback] | None = None,
                 checkpoint_minutes: float | None = None, clip_norm: float | None = None,
                 notice: Callable[[str], None] = lambda message: print(message, flush=True)) -> None:
        self.task, self.model, self.optimizer = task, task.model, optimizer
        self.epochs, self.checkpoint, self.device, self.progress = epochs, checkpoint, device, progress
        self.strategy = strategy or OneProcess()
        self.best, self.callbacks = best, callbacks or []
        self.checkpoint_minutes, self.clip_norm, self.notice = checkpoint_minutes, clip_norm, notice
        self.world, self.rank = distributed.world_size(), distributed.rank()
        self.state = LoopState()
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._stop = threading.Event()
        flush_denormals()

    # -- control ------------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the current step, write a checkpoint and raise :class:`TrainingInterrupted`."""
        self._stop.set()

    def _on_sigint(self, signum, frame) -> None:
        if self._stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        if distributed.is_main():
            self.notice("\nstopping after this batch (Ctrl-C again to abort without a checkpoint)...")
        self._stop.set()

    # -- checkpoints --------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint (the main process writes; every process's random state goes in it)."""
        rng_states = {key: distributed.gather_tensors(state, self.device) for key, state in self._rng_states().items()}
        if distributed.is_main():
            opt_tensors, opt_meta = optimizer_tensors(self.optimizer)
            meta = dict(self.state.to_checkpoint(), optimizer=opt_meta, world_size=self.world)
            save_checkpoint(self.checkpoint, {**self._checkpoint_tensors(rng_states), **opt_tensors}, meta)
        distributed.barrier()  # no process goes on (or exits) before the checkpoint is on disk

    def _rng_states(self) -> dict[str, torch.Tensor]:
        """This process's random generators: PyTorch's CPU one, and a GPU's own (its dropout masks)."""
        states = {"rng.torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            states["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def _checkpoint_tensors(self, rng_states: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        for key, states in rng_states.items():  # every process's own, in rank order
            tensors.update({rng_key(r, key): state for r, state in enumerate(states)})
        if self.best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
        return tensors

    def restore(self) -> None:
        tensors, meta = load_checkpoint(self.checkpoint)
        written_by = meta.pop("world_size", 1)
        if written_by != self.world:
            raise ConfigError(f"{self.checkpoint} was written by {written_by} process(es); resume it with as many "
                              f"(now {self.world})")
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        restore_optimizer(self.optimizer, tensors, meta.pop("optimizer"))
        torch.set_rng_state(tensors[rng_key(self.rank)])
        if self.device.type == "cuda" and rng_key(self.rank, "rng.cuda") in tensors:
            torch.cuda.set_rng_state(tensors[rng_key(self.rank, "rng.cuda")], self.device)
        self.best_weights = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
        self.state = LoopState.from_checkpoint(meta)

    # -- steps --------------------------------------------------------------------------------------
    def epoch_batches(self, epoch: int) -> Sequence[np.ndarray]:
        return self.task.epoch_batches(epoch)

    def train_step(self, indices: np.ndarray) -> None:
        """One optimizer step on the items at ``indices``."""
        self.model.train()
        loss_sum, correct = self.strategy.gradients(self.task, indices, self.state.steps)
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        s = self.state
        s.loss_sum += loss_sum
        s.correct += correct
        s.seen += len(indices)
        s.steps += 1

    # -- the loop -----------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> list[dict]:
        """Train (from the checkpoint with ``resume``); returns the history, one row per epoch."""
        if resume:
            self.restore()
        else:
            self.save()  # from now on, a run killed at any moment can be resumed
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main else None
        try:
            self._run()
        finally:
            self.task.begin_epoch(math.inf)  # every layer group trainable again, as the model was given
            if main:
                signal.signal(signal.SIGINT, previous)
            self.strategy.close()
        if self.best is not None and self.best.restore and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        return self.state.history

    def _run(self) -> None:
        s = self.state
        while not s.done and s.epoch < self.epochs:
            batches = self.epoch_batches(s.epoch)
            self.task.begin_epoch(s.epoch)
            self.progress.start_epoch(s.epoch, len(batches))
            self._run_epoch(batches)
            if self._end_epoch():
                s.done = True
            self.save()

    def _run_epoch(self, batches: Sequence[np.ndarray]) -> None:
        s = self.state
        started, seconds_before = time.perf_counter(), s.seconds
        self._epoch_started = started
        last_save = started
        while s.batch < len(batches):
            self.train_step(batches[s.batch])
            s.batch += 1
            now = time.perf_counter()
            s.seconds = seconds_before + now - started
            self.progress.update(s.batch, s.running())
            for callback in self.callbacks:
                callback(self, s)
            if distributed.any_rank(self._stop.is_set(), self.device):
                self.save()
                raise TrainingInterrupted(self.checkpoint)
            if self.checkpoint_minutes is not None and now - last_save >= 60 * self.checkpoint_minutes:
                self.save()
                last_save = now

    def _end_epoch(self) -> bool:
        """Record the epoch, keep the best weights; True when early stopping says stop."""
        s = self.state
        row = {"epoch": s.epoch + 1, **self.task.evaluate(s)}
        row.setdefault("seconds", round(time.perf_counter() - self._epoch_started, 2))
        s.history.append(row)
        self.progress.end_epoch(row)
        stop = self._track_best(row) if self.best is not None else False
        s.epoch, s.batch, s.loss_sum, s.correct, s.seen = s.epoch + 1, 0, 0.0, 0, 0
        self.task.end_epoch(s)
        return stop

    def _track_best(self, row: dict) -> bool:
        s, best = self.state, self.best
        score = next(row[key] for key in best.monitor if key in row)
        if score > s.best_score:
            s.best_score, s.best_epoch, s.stale_epochs = score, s.epoch, 0
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        elif best.counts(s.epoch):
            s.stale_epochs += 1
        return bool(best.patience) and s.stale_epochs >= best.patience


def rng_key(rank: int, generator: str = "rng.torch") -> str:
    """Checkpoint key of one process's random generator state (``rng.torch``, ``rng.cuda`` for the first
    process, as before; ``rng.torch.1``... for the others)."""
    return generator if rank == 0 else f"{generator}.{rank}"

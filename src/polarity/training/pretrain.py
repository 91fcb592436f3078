"""``polarity pretrain``: a language model on unlabelled reviews, saved as an encoder folder
(:mod:`polarity.training.encoders`) that recipes reference (``[model] encoder = "NAME"``).

The texts (IMDB's ``train/unsup`` and ``train`` reviews by default; never ``test``) become one stream
of ids, each review after a start id, cut into windows of ``window`` words. Each epoch visits the
windows in a seeded order, on the one training loop (:mod:`polarity.training.loop`): a checkpoint
every few minutes, at each epoch's end and on Ctrl-C, so ``--resume`` continues exactly; each epoch
ends with the held-out perplexity and an encoder snapshot (``snapshots/epoch-K.safetensors``), the
points of the accuracy-against-pretraining-time curve.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from polarity.data.encoder import TextEncoder
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import OOV, Vocabulary
from polarity.engine.device import resolve_device
from polarity.errors import ConfigError
from polarity.models.language import LanguageModel
from polarity.settings import check_fields, count, flag, from_table, integer, number, optional, positive_int, rule
from polarity.training.encoders import KIND, EncoderFolder
from polarity.training.loop import Loop, LoopState, Task

LOG_SECONDS = 30.0


def _vectors(where: str, value: object) -> str | None:
    """A name or path of word vectors; None or "none" for a random start."""
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must name the vectors (e.g. \"glove-6b-50d\") or be none, got {value!r}")
    return value


_positive = number("a positive number", lambda v: v > 0)


@dataclass
class PretrainSettings:
    """What ``polarity pretrain`` trains (all saved in the folder's ``config.json``)."""

    words: int = rule(20000, integer(8, "an integer >= 8"))  # ids the model reads (rarer words are <UNK>)
    embedding_dim: int = rule(50, positive_int)
    units: int = rule(128, positive_int)
    bidirectional: bool = rule(True, flag)
    window: int = rule(100, integer(2, "an integer >= 2"))  # words per training window
    batch_size: int = rule(64, positive_int)
    lr: float = rule(0.002, _positive)
    epochs: int = rule(3, positive_int)
    clip: float = rule(1.0, _positive)
    dropout: float = rule(0.1, number("a number in [0, 1)", lambda v: 0 <= v < 1))
    held_out: int = rule(1000, positive_int)  # unlabelled reviews kept aside for the perplexity
    vectors: str | None = rule("glove-6b-50d", _vectors)  # initial embedding (None: random)
    seed: int = rule(0, count)
    limit: int | None = rule(None, optional(positive_int))  # read only this many texts (quick trials, tests)
    checkpoint_minutes: float = rule(5.0, _positive)

    def __post_init__(self) -> None:
        check_fields(self, "pretrain ")

    @classmethod
    def from_dict(cls, values: object, owner: str = "pretraining settings") -> "PretrainSettings":
        return from_table(cls, values, "the settings", owner)


# -- the text stream -------------------------------------------------------------------------------------
def token_stream(encoder: TextEncoder, texts: list[str], words: int) -> np.ndarray:
    """All ``texts`` as one array of ids (each text after the start id); ids >= ``words`` become <UNK>."""
    ids = np.fromiter((i for row in encoder.encode(texts) for i in row), dtype=np.int64)
    ids[ids >= words] = OOV
    return ids


def as_windows(stream: np.ndarray, window: int, which: str = "") -> torch.Tensor:
    """Consecutive, non-overlapping windows ``(n, window)`` of the stream (the tail shorter than one is dropped)."""
    count = len(stream) // window
    if count == 0:
        raise ConfigError(f"the {which} texts hold {len(stream)} words, fewer than one window of {window}: "
                          "give more texts (a larger --limit) or a smaller --window")
    return torch.from_numpy(stream[: count * window].reshape(count, window).copy())


def unlabelled_texts(corpus, held_out: int, seed: int, limit: int | None) -> tuple[list[str], list[str]]:
    """IMDB's pretraining texts: (unsup + train reviews, ``held_out`` unsup reviews kept aside)."""
    unsup = list(corpus.unsup.texts)
    order = np.random.default_rng(seed).permutation(len(unsup))
    held = [unsup[i] for i in order[:held_out]]
    rest = [unsup[i] for i in order[held_out:]] + list(corpus.train.texts)
    if limit:
        rest = [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))[:limit]]
        held = held[: max(1, limit // 20)]
    return rest, held


# -- the task on the one loop -----------------------------------------------------------------------------
class LanguageModelTask(Task):
    """Windows of the text stream for :class:`~polarity.training.loop.Loop`: both directions' mean
    next-word loss; each epoch ends with the held-out perplexity and an encoder snapshot."""

    def __init__(self, model: LanguageModel, fit: torch.Tensor, held: torch.Tensor, settings: PretrainSettings,
                 folder: EncoderFolder, device: torch.device) -> None:
        self.model, self.fit_windows, self.held_windows = model, fit, held
        self.settings, self.folder, self.device = settings, folder, device

    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.fit_windows) / self.settings.batch_size)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        order = np.random.default_rng([self.settings.seed, epoch]).permutation(len(self.fit_windows))
        size = self.settings.batch_size
        return [order[k * size:(k + 1) * size] for k in range(self.steps_per_epoch())]

    def lengths(self, indices: np.ndarray) -> list[int]:
        return [self.settings.window] * len(indices)

    def forward(self, indices: np.ndarray, network: nn.Module) -> tuple[torch.Tensor, int]:
        window = self.fit_windows[torch.from_numpy(indices)].to(self.device)
        losses = network.losses(window)
        return sum(losses) / len(losses), 0

    @torch.no_grad()
    def perplexity(self) -> dict:
        """exp(mean loss per word) on the held-out windows, per direction."""
        self.model.eval()
        totals, count = None, 0
        for start in range(0, len(self.held_windows), 256):
            window = self.held_windows[start:start + 256].to(self.device)
            losses = torch.stack(self.model.losses(window)) * len(window)
            totals = losses if totals is None else totals + losses
            count += len(window)
        names = ("forward", "backward")[: len(totals)]
        return {name: round(math.exp(float(total) / count), 2) for name, total in zip(names, totals)}

    def evaluate(self, state: LoopState) -> dict:
        return {"loss": round(state.loss_sum / max(state.seen, 1), 4), "held_out_perplexity": self.perplexity(),
                "seconds": round(state.seconds, 1)}

    def end_epoch(self, state: LoopState) -> None:
        """The encoder and this epoch's snapshot, and config.json with the history so far."""
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        config = dict(self.folder.read_run(), history=state.history, epochs_done=state.epoch,
                      pretraining_seconds=round(state.seconds, 1))
        self.folder.write(tensors, config, epoch=state.epoch, seconds=state.seconds)


class PeriodicLog:
    """Pretraining's progress: a line every ``every`` seconds (loss, words per second, ETA) and one per epoch."""

    def __init__(self, settings: PretrainSettings, steps_per_epoch: int, log, every: float = LOG_SECONDS) -> None:
        self.settings, self.total, self.log, self.every = settings, steps_per_epoch, log, every

    def start_epoch(self, epoch: int, total_batches: int) -> None:
        self.epoch, self.started = epoch, time.perf_counter()
        self.last = self.started
        self.first_step: int | None = None

    def update(self, done: int, metrics: dict) -> None:
        now = time.perf_counter()
        if self.first_step is None:
            self.first_step = done - 1
        if now - self.last < self.every:
            return
        self.last = now
        per_step = (now - self.started) / max(done - self.first_step, 1)
        left = per_step * ((self.total - done) + (self.settings.epochs - self.epoch - 1) * self.total)
        words = self.settings.batch_size * self.settings.window / per_step
        loss = metrics["loss"]
        self.log(f"epoch {self.epoch + 1}/{self.settings.epochs} step {done:,}/{self.total:,} - loss {loss:.3f} "
                 f"(perplexity {math.exp(loss):.0f}) - {words:,.0f} words/s - ETA {_duration(left)}")

    def end_epoch(self, row: dict) -> None:
        ppl = ", ".join(f"{k} {v}" for k, v in row["held_out_perplexity"].items())
        self.log(f"epoch {row['epoch']}: training loss {row['loss']:.3f}, held-out perplexity {ppl}, "
                 f"{_duration(row['seconds'])} of pretraining so far")


class Pretrainer(Loop):
    """The loop for a :class:`LanguageModel` writing the encoder folder ``out``; interruptible (Ctrl-C,
    :meth:`request_stop`) and resumable."""

    def __init__(self, settings: PretrainSettings, out: Path, fit: torch.Tensor, held: torch.Tensor,
                 model: LanguageModel, device: torch.device, log=print) -> None:
        folder = EncoderFolder(out)
        model = model.to(device)
        task = LanguageModelTask(model, fit, held, settings, folder, device)
        super().__init__(task, torch.optim.Adam(model.parameters(), lr=settings.lr), epochs=settings.epochs,
                         checkpoint=folder.checkpoint, device=device,
                         progress=PeriodicLog(settings, task.steps_per_epoch(), log),
                         checkpoint_minutes=settings.checkpoint_minutes, clip_norm=settings.clip, notice=log)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


# -- the run ---------------------------------------------------------------------------------------------
def pretrain(settings: PretrainSettings | None, out: str | os.PathLike, *, texts: list[str] | None = None,
             held_out: list[str] | None = None, data: str | None = None, strict: bool = True,
             device: str = "auto", resume: bool = False, epochs: int | None = None, log=print) -> dict:
    """Pretrain a language model into the encoder folder ``out``; returns its ``config.json``.

    Texts: IMDB's unsup and train reviews by default (``held_out`` unsup reviews measure the
    perplexity), or the given ``texts`` and ``held_out`` lists. ``resume`` continues the run in
    ``out`` with its own settings, up to ``epochs`` if given (a finished run is extended).
    """
    folder = EncoderFolder(out)
    run, settings = _run_settings(folder, settings, resume, epochs)
    torch.manual_seed(settings.seed)
    dev = resolve_device(device)
    started = time.perf_counter()
    if texts is None:
        texts, held_out = _imdb_texts(settings, data, strict, log)
    if not held_out:
        raise ConfigError("pretraining needs held-out texts to measure the perplexity")
    encoder = _text_encoder(folder, run, texts, settings)
    fit_windows = as_windows(token_stream(encoder, texts, settings.words), settings.window, "training")
    held_windows = as_windows(token_stream(encoder, held_out, settings.words), settings.window, "held-out")
    if run is not None and run["texts"]["fit_words"] != fit_windows.numel():
        raise ConfigError(f"the texts differ from those {folder.path} started with ({fit_windows.numel():,} words, not "
                          f"{run['texts']['fit_words']:,}): resume with the same data")
    log(f"pretraining on {len(texts):,} texts ({fit_windows.numel():,} words, {len(encoder.vocab.words):,} distinct; "
        f"the model reads the {settings.words:,} most frequent), {len(held_out):,} held out; "
        f"prepared in {time.perf_counter() - started:.0f} s")
    model = LanguageModel(settings.words, settings.embedding_dim, settings.units, settings.bidirectional,
                          dropout=settings.dropout)
    if settings.vectors and not resume:
        _initial_vectors(model, encoder.vocab, settings, log)
    folder.path.mkdir(parents=True, exist_ok=True)
    if run is None:
        _start_run(folder, encoder, settings, texts, held_out, fit_windows)
    trainer = Pretrainer(settings, folder.path, fit_windows, held_windows, model, dev, log)
    log(f"{sum(p.numel() for p in model.parameters()):,} parameters, {trainer.task.steps_per_epoch():,} steps per "
        f"epoch, device {dev}")
    trainer.fit(resume=resume)  # the checkpoint stays: --resume --epochs N extends the run
    return folder.read_config()


def _run_settings(folder: EncoderFolder, settings: PretrainSettings | None, resume: bool,
                  epochs: int | None) -> tuple[dict | None, PretrainSettings]:
    """(the run being resumed, or None; the settings to train with)."""
    if not resume:
        if folder.checkpoint.is_file():
            raise ConfigError(f"{folder.path} holds a pretraining run: continue or extend it with --resume (and --epochs), "
                              "or choose another --out")
        if settings is None:
            raise ConfigError("pretrain needs settings unless it resumes a run")
        return None, settings
    if not folder.checkpoint.is_file():
        raise ConfigError(f"nothing to resume in {folder.path}: no {folder.CHECKPOINT} (the run never started)")
    run = folder.read_run()
    settings = PretrainSettings.from_dict(run["settings"], str(folder.file(folder.RUN)))
    if epochs:
        done = folder.epochs_done()
        if epochs < done:
            raise ConfigError(f"{folder.path} has {done} epochs done already; --epochs is the total to reach")
        settings.epochs = epochs
        folder.write_run(dict(run, settings=asdict(settings)))  # a later --resume goes as far
    return run, settings


def _imdb_texts(settings: PretrainSettings, data: str | None, strict: bool, log) -> tuple[list[str], list[str]]:
    from polarity.data.imdb import load_imdb

    return unlabelled_texts(load_imdb(data, strict=strict, log=log), settings.held_out, settings.seed, settings.limit)


def _text_encoder(folder: EncoderFolder, run: dict | None, texts: list[str], settings: PretrainSettings) -> TextEncoder:
    """A resumed run's own vocabulary (ids must keep meaning what the weights learned), else one of ``texts``."""
    if run is not None:
        return folder.text_encoder(run["tokenizer"])
    tokenizer = Tokenizer()
    encoder = TextEncoder(Vocabulary.build(tokenizer(t) for t in texts), tokenizer)
    settings.words = min(settings.words, encoder.vocab_size)  # a small corpus has fewer words than asked for
    return encoder


def _start_run(folder: EncoderFolder, encoder: TextEncoder, settings: PretrainSettings, texts: list[str],
               held_out: list[str], fit_windows: torch.Tensor) -> None:
    encoder.save(folder.path)
    folder.write_run({"kind": KIND, "settings": asdict(settings), "tokenizer": encoder.tokenizer.to_dict(),
                      "texts": {"fit": len(texts), "held_out": len(held_out), "fit_words": int(fit_windows.numel())}})


def _initial_vectors(model: LanguageModel, vocab: Vocabulary, settings: PretrainSettings, log) -> None:
    from polarity.models.pretrained import load_glove, pretrained_matrix

    words, vectors = load_glove(settings.vectors)
    if vectors.shape[1] != settings.embedding_dim:
        raise ConfigError(f"the vectors have {vectors.shape[1]} dimensions; set embedding_dim to that")
    matrix, coverage = pretrained_matrix(vocab.with_options(num_words=settings.words), words, vectors, seed=settings.seed)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.as_tensor(matrix[: settings.words]))
    log(f"embedding starts from {settings.vectors}: {coverage['word_coverage']:.1%} of the words have a vector")

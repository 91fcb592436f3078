"""``polarity pretrain``: a language model on unlabelled reviews, saved as an encoder folder that recipes
reference (``[model] encoder = "NAME"``).

The texts (IMDB's ``train/unsup`` and ``train`` reviews by default; never ``test``) become one stream
of ids, each review after a start id, cut into windows of ``window`` words. Each epoch visits the
windows in a seeded order. A checkpoint is written every few minutes, at each epoch's end and on
Ctrl-C, so ``--resume`` continues exactly; each epoch ends with the held-out perplexity and an
encoder snapshot (``snapshots/epoch-K.safetensors``), the points of the accuracy-against-pretraining-time
curve. The folder:

- ``encoder.safetensors``: the language model's tensors (``embedding.*``, ``rnn.*``, ``softmax.*``)
- ``vocab.json``: every word of the texts, ranked by frequency (the model reads the first ``words`` ids)
- ``config.json``: settings, tokenizer, corpus sizes, perplexity per epoch, seconds
- ``pretrain.json``: the run's settings (what ``--resume`` continues with)
- ``snapshots/epoch-K.safetensors``: the embedding and LSTM after each epoch
- ``checkpoint.safetensors``: the run's state (weights, optimizer, random state), kept so that
  ``--resume --epochs N`` can also extend a finished run
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from polarity.data.encoder import TextEncoder
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import OOV, Vocabulary
from polarity.engine.device import resolve_device
from polarity.errors import ConfigError
from polarity.files import atomic_path, write_json
from polarity.settings import check_fields, count, flag, from_table, integer, number, optional, positive_int, rule
from polarity.models.language import LanguageModel
from polarity.training.checkpoint import load_checkpoint, optimizer_tensors, restore_optimizer, save_checkpoint
from polarity.training.loop import TrainingInterrupted

CONFIG, WEIGHTS, CHECKPOINT, RUN = "config.json", "encoder.safetensors", "checkpoint.safetensors", "pretrain.json"
KIND = "polarity-encoder"
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


@dataclass
class PretrainState:
    """Where pretraining stands (saved in the checkpoint's metadata)."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    seen_windows: int = 0
    seconds: float = 0.0        # time spent training, summed over runs (resumes included)
    history: list[dict] = field(default_factory=list)


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


# -- the encoder folder ----------------------------------------------------------------------------------
def encoders_dir() -> Path:
    from polarity.data.imdb import cache_dir

    return cache_dir() / "encoders"


def locate_encoder(name: str | os.PathLike) -> tuple[Path, Path]:
    """(the encoder folder, its weights file): ``name`` as a path, else ``NAME`` under the user
    cache's ``encoders/``; ``NAME/snapshots/epoch-K.safetensors`` names an epoch's snapshot."""
    for path in (Path(name), encoders_dir() / str(name)):
        if path.suffix == ".safetensors" and path.parent.name == "snapshots":
            folder, weights = path.parent.parent, path
        else:
            folder, weights = path, path / WEIGHTS
        if (folder / CONFIG).is_file() and weights.is_file():
            return folder, weights
    if (Path(name) / CHECKPOINT).is_file() or (encoders_dir() / str(name) / CHECKPOINT).is_file():
        raise ConfigError(f"the pretraining run {str(name)!r} has not finished an epoch yet: continue it with "
                          "polarity pretrain --resume")
    how = f"--out {name}" if os.sep in str(name) else f"--name {name}"
    raise ConfigError(f"no pretrained encoder {str(name)!r} (looked for {Path(name)} and {encoders_dir() / str(name)}); "
                      f"make it with: polarity pretrain {how}")


@dataclass
class Encoder:
    """A pretrained encoder folder, loaded: settings, the text encoder, and the classifier's tensors.
    ``folder`` is the snapshot file when one epoch's snapshot was named."""

    folder: Path
    settings: dict
    text_encoder: TextEncoder
    tensors: dict[str, torch.Tensor]
    epochs: int
    pretraining_seconds: float


def load_encoder(name: str | os.PathLike) -> Encoder:
    folder, weights = locate_encoder(name)
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        settings = config["settings"]
        snapshot = weights.parent.name == "snapshots"  # epoch-K.safetensors
        epochs = int(weights.stem.rpartition("-")[2]) if snapshot else config.get("epochs_done", 0)
        if config.get("kind") != KIND:
            raise ValueError(f"kind is {config.get('kind')!r}, not {KIND!r}")
        text_encoder = TextEncoder(Vocabulary.load(folder / "vocab.json"), Tokenizer.from_dict(config["tokenizer"]))
        with safe_open(str(weights), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys() if k.startswith(("embedding.", "rnn."))}
            meta = handle.metadata() or {}
    except Exception as exc:  # safetensors reports damaged files with its own error type
        raise ConfigError(f"{folder} is not a readable encoder folder ({exc}); make it again with polarity pretrain") from exc
    seconds = float(meta.get("seconds", "nan")) if snapshot else config.get("pretraining_seconds", 0.0)
    return Encoder(weights if snapshot else folder, settings, text_encoder, tensors, epochs, seconds)


# -- the run ---------------------------------------------------------------------------------------------
class Pretrainer:
    """Trains a :class:`LanguageModel` into ``out``; interruptible (Ctrl-C, :meth:`request_stop`) and resumable."""

    def __init__(self, settings: PretrainSettings, out: Path, fit: torch.Tensor, held: torch.Tensor,
                 model: LanguageModel, device: torch.device, log=print) -> None:
        self.settings, self.out, self.fit_windows, self.held_windows = settings, out, fit, held
        self.model, self.device, self.log = model.to(device), device, log
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        self.state = PretrainState()
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    def _on_sigint(self, signum, frame) -> None:
        if self._stop.is_set():
            raise KeyboardInterrupt
        self.log("\nstopping after this step (Ctrl-C again to abort without a checkpoint)...")
        self._stop.set()

    # -- checkpoints ------------------------------------------------------------------------------------
    def save(self) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt_tensors, opt_meta = optimizer_tensors(self.optimizer)
        tensors.update(opt_tensors)
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":  # dropout masks on a GPU come from its own generator
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        save_checkpoint(self.out / CHECKPOINT, tensors, dict(asdict(self.state), optimizer=opt_meta))

    def restore(self) -> None:
        tensors, meta = load_checkpoint(self.out / CHECKPOINT)
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        restore_optimizer(self.optimizer, tensors, meta.pop("optimizer"))
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.state = PretrainState(**meta)

    # -- training ---------------------------------------------------------------------------------------
    def epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.settings.seed, epoch]).permutation(len(self.fit_windows))

    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.fit_windows) / self.settings.batch_size)

    def train_step(self, rows: np.ndarray) -> float:
        self.model.train()
        window = self.fit_windows[torch.from_numpy(rows)].to(self.device)
        losses = self.model.losses(window)
        loss = sum(losses) / len(losses)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.clip)
        self.optimizer.step()
        return loss.item()

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

    def fit(self, resume: bool = False) -> list[dict]:
        if resume:
            self.restore()
        else:
            self.save()
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main else None
        try:
            self._fit()
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        return self.state.history

    def _fit(self) -> None:
        s, settings = self.state, self.settings
        total_steps = self.steps_per_epoch()
        while s.epoch < settings.epochs:
            order = self.epoch_order(s.epoch)
            run_started = time.perf_counter()
            seconds_before, steps_before = s.seconds, s.step
            last_log = last_save = run_started
            while s.step < total_steps:
                rows = order[s.step * settings.batch_size:(s.step + 1) * settings.batch_size]
                s.loss_sum += self.train_step(rows) * len(rows)
                s.seen_windows += len(rows)
                s.step += 1
                now = time.perf_counter()
                s.seconds = seconds_before + now - run_started
                if now - last_log >= LOG_SECONDS:
                    self._log_progress(s.step - steps_before, now - run_started, total_steps)
                    last_log = now
                if self._stop.is_set():
                    self.save()
                    raise TrainingInterrupted(self.out / CHECKPOINT)
                if now - last_save >= 60 * settings.checkpoint_minutes:
                    self.save()
                    last_save = now
            self._end_epoch()

    def _log_progress(self, steps_done: int, elapsed: float, total_steps: int) -> None:
        s, settings = self.state, self.settings
        per_step = elapsed / max(steps_done, 1)
        left = per_step * ((total_steps - s.step) + (settings.epochs - s.epoch - 1) * total_steps)
        tokens = settings.batch_size * settings.window / per_step
        loss = s.loss_sum / max(s.seen_windows, 1)
        self.log(f"epoch {s.epoch + 1}/{settings.epochs} step {s.step:,}/{total_steps:,} - loss {loss:.3f} "
                 f"(perplexity {math.exp(loss):.0f}) - {tokens:,.0f} words/s - ETA {_duration(left)}")

    def _end_epoch(self) -> None:
        s = self.state
        row = {"epoch": s.epoch + 1, "loss": round(s.loss_sum / max(s.seen_windows, 1), 4),
               "held_out_perplexity": self.perplexity(), "seconds": round(s.seconds, 1)}
        s.history.append(row)
        s.epoch, s.step, s.loss_sum, s.seen_windows = s.epoch + 1, 0, 0.0, 0
        self.write_encoder(snapshot=True)
        self.save()
        ppl = ", ".join(f"{k} {v}" for k, v in row["held_out_perplexity"].items())
        self.log(f"epoch {row['epoch']}: training loss {row['loss']:.3f}, held-out perplexity {ppl}, "
                 f"{_duration(row['seconds'])} of pretraining so far")

    def write_encoder(self, snapshot: bool = False) -> None:
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        with atomic_path(self.out / WEIGHTS) as tmp:
            save_file(tensors, str(tmp), metadata={"format": KIND})
        if snapshot:
            (self.out / "snapshots").mkdir(exist_ok=True)
            name = f"epoch-{self.state.epoch}.safetensors"
            with atomic_path(self.out / "snapshots" / name) as tmp:
                save_file({k: v for k, v in tensors.items() if k.startswith(("embedding.", "rnn."))}, str(tmp),
                          metadata={"format": KIND, "seconds": str(round(self.state.seconds, 1))})
        run = _read_run(self.out)
        write_json(self.out / CONFIG, dict(run, history=self.state.history, epochs_done=self.state.epoch,
                                           pretraining_seconds=round(self.state.seconds, 1)))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _read_run(out: Path) -> dict:
    try:
        return json.loads((out / RUN).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{out / RUN} cannot be read ({exc}); start over with another --out") from exc


def pretrain(settings: PretrainSettings | None, out: str | os.PathLike, *, texts: list[str] | None = None,
             held_out: list[str] | None = None, data: str | None = None, strict: bool = True,
             device: str = "auto", resume: bool = False, epochs: int | None = None, log=print) -> dict:
    """Pretrain a language model into the encoder folder ``out``; returns its ``config.json``.

    Texts: IMDB's unsup and train reviews by default (``held_out`` unsup reviews measure the
    perplexity), or the given ``texts`` and ``held_out`` lists. ``resume`` continues the run in
    ``out`` with its own settings, up to ``epochs`` if given (a finished run is extended).
    """
    out = Path(out)
    run = None
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise ConfigError(f"nothing to resume in {out}: no {CHECKPOINT} (the run never started)")
        run = _read_run(out)
        settings = PretrainSettings.from_dict(run["settings"], f"{out / RUN}")
        if epochs:
            done = _read_config(out).get("epochs_done", 0) if (out / CONFIG).is_file() else 0
            if epochs < done:
                raise ConfigError(f"{out} has {done} epochs done already; --epochs is the total to reach")
            settings.epochs = epochs
            write_json(out / RUN, dict(run, settings=asdict(settings)))  # a later --resume goes as far
    elif (out / CHECKPOINT).is_file():
        raise ConfigError(f"{out} holds a pretraining run: continue or extend it with --resume (and --epochs), "
                          "or choose another --out")
    elif settings is None:
        raise ConfigError("pretrain needs settings unless it resumes a run")
    torch.manual_seed(settings.seed)
    dev = resolve_device(device)
    started = time.perf_counter()
    if texts is None:
        from polarity.data.imdb import load_imdb

        texts, held_out = unlabelled_texts(load_imdb(data, strict=strict, log=log), settings.held_out,
                                           settings.seed, settings.limit)
    if not held_out:
        raise ConfigError("pretraining needs held-out texts to measure the perplexity")
    if run is not None:  # the run's own vocabulary: ids must keep meaning what the weights learned
        encoder = TextEncoder(Vocabulary.load(out / "vocab.json"), Tokenizer.from_dict(run["tokenizer"]))
    else:
        tokenizer = Tokenizer()
        encoder = TextEncoder(Vocabulary.build(tokenizer(t) for t in texts), tokenizer)
        settings.words = min(settings.words, encoder.vocab_size)  # a small corpus has fewer words than asked for
    fit_windows = as_windows(token_stream(encoder, texts, settings.words), settings.window, "training")
    held_windows = as_windows(token_stream(encoder, held_out, settings.words), settings.window, "held-out")
    if run is not None and run["texts"]["fit_words"] != fit_windows.numel():
        raise ConfigError(f"the texts differ from those {out} started with ({fit_windows.numel():,} words, not "
                          f"{run['texts']['fit_words']:,}): resume with the same data")
    log(f"pretraining on {len(texts):,} texts ({fit_windows.numel():,} words, {len(encoder.vocab.words):,} distinct; "
        f"the model reads the {settings.words:,} most frequent), {len(held_out):,} held out; "
        f"prepared in {time.perf_counter() - started:.0f} s")
    model = LanguageModel(settings.words, settings.embedding_dim, settings.units, settings.bidirectional,
                          dropout=settings.dropout)
    if settings.vectors and not resume:
        _initial_vectors(model, encoder.vocab, settings, log)
    out.mkdir(parents=True, exist_ok=True)
    if run is None:
        encoder.save(out)
        write_json(out / RUN, {"kind": KIND, "settings": asdict(settings), "tokenizer": encoder.tokenizer.to_dict(),
                               "texts": {"fit": len(texts), "held_out": len(held_out),
                                         "fit_words": int(fit_windows.numel())}})
    trainer = Pretrainer(settings, out, fit_windows, held_windows, model, dev, log)
    log(f"{sum(p.numel() for p in model.parameters()):,} parameters, {trainer.steps_per_epoch():,} steps per epoch, "
        f"device {dev}")
    trainer.fit(resume=resume)  # the checkpoint stays: --resume --epochs N extends the run
    return _read_config(out)


def _read_config(out: Path) -> dict:
    return json.loads((out / CONFIG).read_text(encoding="utf-8"))


def _initial_vectors(model: LanguageModel, vocab: Vocabulary, settings: PretrainSettings, log) -> None:
    from polarity.models.pretrained import load_glove, pretrained_matrix

    words, vectors = load_glove(settings.vectors)
    if vectors.shape[1] != settings.embedding_dim:
        raise ConfigError(f"the vectors have {vectors.shape[1]} dimensions; set embedding_dim to that")
    matrix, coverage = pretrained_matrix(vocab.with_options(num_words=settings.words), words, vectors, seed=settings.seed)
    with torch.no_grad():
        model.embedding.weight.copy_(torch.as_tensor(matrix[: settings.words]))
    log(f"embedding starts from {settings.vectors}: {coverage['word_coverage']:.1%} of the words have a vector")

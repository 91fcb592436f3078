"""The encoder folder ``polarity pretrain`` writes and recipes name (``[model] encoder = "NAME"``), a
typed object that owns its file names:

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
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from polarity.data.encoder import TextEncoder
from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import Vocabulary
from polarity.errors import ConfigError
from polarity.files import atomic_path, write_json

KIND = "polarity-encoder"
CLASSIFIER_PARTS = ("embedding.", "rnn.")


def encoders_dir() -> Path:
    from polarity.data.imdb import cache_dir

    return cache_dir() / "encoders"


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


class EncoderFolder:
    """An encoder folder on disk, by file name."""

    CONFIG, WEIGHTS, CHECKPOINT, RUN, SNAPSHOTS = "config.json", "encoder.safetensors", "checkpoint.safetensors", \
        "pretrain.json", "snapshots"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    def snapshot(self, epoch: int) -> Path:
        return self.path / self.SNAPSHOTS / f"epoch-{epoch}.safetensors"

    # -- the run's files ----------------------------------------------------------------------------
    def read_run(self) -> dict:
        """``pretrain.json``: the settings, tokenizer and texts the run started with."""
        try:
            return json.loads(self.file(self.RUN).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.file(self.RUN)} cannot be read ({exc}); start over with another --out") from exc

    def write_run(self, run: dict) -> None:
        write_json(self.file(self.RUN), run)

    def read_config(self) -> dict:
        return json.loads(self.file(self.CONFIG).read_text(encoding="utf-8"))

    def epochs_done(self) -> int:
        return self.read_config().get("epochs_done", 0) if self.file(self.CONFIG).is_file() else 0

    def text_encoder(self, tokenizer: dict) -> TextEncoder:
        return TextEncoder(Vocabulary.load(self.path / "vocab.json"), Tokenizer.from_dict(tokenizer))

    # -- writing the encoder ------------------------------------------------------------------------
    def write(self, tensors: dict[str, torch.Tensor], config: dict, *, epoch: int | None = None,
              seconds: float = 0.0) -> None:
        """The encoder's tensors, with ``epoch`` a snapshot of its classifier parts, then ``config.json``."""
        with atomic_path(self.file(self.WEIGHTS)) as tmp:
            save_file(tensors, str(tmp), metadata={"format": KIND})
        if epoch is not None:
            self.snapshot(epoch).parent.mkdir(exist_ok=True)
            with atomic_path(self.snapshot(epoch)) as tmp:
                save_file({k: v for k, v in tensors.items() if k.startswith(CLASSIFIER_PARTS)}, str(tmp),
                          metadata={"format": KIND, "seconds": str(round(seconds, 1))})
        write_json(self.file(self.CONFIG), config)

    # -- reading it -----------------------------------------------------------------------------------
    def load(self, weights: Path | None = None) -> Encoder:
        """The settings, text encoder and classifier tensors (of ``weights``: a snapshot, else the encoder)."""
        weights = weights or self.file(self.WEIGHTS)
        snapshot = weights.parent.name == self.SNAPSHOTS
        try:
            config = self.read_config()
            if config.get("kind") != KIND:
                raise ValueError(f"kind is {config.get('kind')!r}, not {KIND!r}")
            text_encoder = self.text_encoder(config["tokenizer"])
            with safe_open(str(weights), framework="pt") as handle:
                tensors = {k: handle.get_tensor(k) for k in handle.keys() if k.startswith(CLASSIFIER_PARTS)}
                meta = handle.metadata() or {}
            settings = config["settings"]
            epochs = int(weights.stem.rpartition("-")[2]) if snapshot else config.get("epochs_done", 0)
        except Exception as exc:  # safetensors reports damaged files with its own error type
            raise ConfigError(f"{self.path} is not a readable encoder folder ({exc}); make it again with polarity "
                              "pretrain") from exc
        seconds = float(meta.get("seconds", "nan")) if snapshot else config.get("pretraining_seconds", 0.0)
        return Encoder(weights if snapshot else self.path, settings, text_encoder, tensors, epochs, seconds)


def locate_encoder(name: str | os.PathLike) -> tuple[EncoderFolder, Path]:
    """(the encoder folder, its weights file): ``name`` as a path, else ``NAME`` under the user
    cache's ``encoders/``; ``NAME/snapshots/epoch-K.safetensors`` names an epoch's snapshot."""
    for path in (Path(name), encoders_dir() / str(name)):
        if path.suffix == ".safetensors" and path.parent.name == EncoderFolder.SNAPSHOTS:
            folder, weights = EncoderFolder(path.parent.parent), path
        else:
            folder = EncoderFolder(path)
            weights = folder.file(folder.WEIGHTS)
        if folder.file(folder.CONFIG).is_file() and weights.is_file():
            return folder, weights
    if any(EncoderFolder(p).checkpoint.is_file() for p in (Path(name), encoders_dir() / str(name))):
        raise ConfigError(f"the pretraining run {str(name)!r} has not finished an epoch yet: continue it with "
                          "polarity pretrain --resume")
    how = f"--out {name}" if os.sep in str(name) else f"--name {name}"
    raise ConfigError(f"no pretrained encoder {str(name)!r} (looked for {Path(name)} and {encoders_dir() / str(name)}); "
                      f"make it with: polarity pretrain {how}")


def load_encoder(name: str | os.PathLike) -> Encoder:
    """The encoder a recipe names (a name under the cache, a folder, or an epoch's snapshot)."""
    folder, weights = locate_encoder(name)
    return folder.load(weights)

"""The model folder, a typed object that owns its file names and format; no pickle anywhere.

::

    config.json         the recipe, labels (output order, like Hugging Face's id2label), preprocessing
                        (tokenizer, maxlen, truncation, batching), where the data came from, versions
    vocab.json          the vocabulary (only the ids the model uses)
    model.safetensors   the weights
    metrics.json        test (and validation) metrics
    history.json/.csv   per-epoch loss and accuracy
    curves.png          learning curves
    run.json            the recipe as the run started, and checkpoint.safetensors while it runs

Every file is written atomically, ``config.json`` last: a folder with a config is complete. Folders
written before labels existed are read as ``["negative", "positive"]``.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from polarity.data.encoder import TextEncoder
from polarity.errors import ConfigError
from polarity.files import atomic_path, atomic_write, write_json
from polarity.models.registry import build_model

FORMAT = "polarity.model/1"
DEFAULT_LABELS = ["negative", "positive"]


def num_outputs(labels: list) -> int:
    """One logit for two labels (sigmoid), one per label otherwise (softmax)."""
    if len(labels) < 2:
        raise ConfigError(f"a classifier needs at least two labels, got {labels!r}")
    return 1 if len(labels) == 2 else len(labels)


def model_options(model_section: dict, maxlen: int | None) -> dict:
    """Options for :func:`build_model` from a recipe's [model] section (the pretrained vectors' and
    encoder's sources are data, not options: a saved model holds their trained values)."""
    options = {k: v for k, v in model_section.items() if k not in ("pretrained", "encoder")}
    options["maxlen"] = maxlen
    return options


@dataclass
class ModelConfig:
    """``config.json``, typed: what the model is, what it predicts and how it reads text."""

    recipe: dict
    labels: list = field(default_factory=lambda: list(DEFAULT_LABELS))
    preprocessing: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    pretrained_coverage: dict | None = None
    pretrained_encoder: dict | None = None
    parameters: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    format: str = FORMAT

    @property
    def name(self) -> str:
        return str(self.recipe.get("name", "model"))

    @property
    def model(self) -> dict:
        """The recipe's [model] section: what :func:`build_model` builds."""
        return self.recipe["model"]

    @property
    def batching(self) -> str:
        return self.preprocessing.get("batching", "bucketed")

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2

    @classmethod
    def from_dict(cls, data: Any, where: str = "config.json") -> "ModelConfig":
        """A checked config: this format, labels, a recipe with a [model] section."""
        found = data.get("format") if isinstance(data, dict) else None
        if isinstance(found, str) and found.startswith("polarity.model/") and found != FORMAT:
            raise ConfigError(f"{where}: written in model format {found!r}, newer than this polarity reads ({FORMAT}): "
                              "upgrade polarity")
        if found != FORMAT:
            raise ConfigError(f"{where}: not a polarity model config (format {found!r}, expected {FORMAT})")
        labels = data.get("labels", list(DEFAULT_LABELS))
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, (str, int)) for x in labels):
            raise ConfigError(f"{where}: 'labels' must be a list of at least two label names, got {labels!r}")
        if not isinstance(data.get("recipe"), dict) or not isinstance(data["recipe"].get("model"), dict):
            raise ConfigError(f"{where} has no recipe.model section: the folder is incomplete; train it again")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v is not None}
        return cls(**dict(known, labels=labels))


@dataclass
class LoadedModel:
    """A model folder read into memory: the network (in eval mode), its config and text encoder."""

    model: nn.Module
    config: ModelConfig
    encoder: TextEncoder


class ModelFolder:
    """A model folder on disk, by file name: reading, loading and writing it."""

    CONFIG, WEIGHTS, METRICS = "config.json", "model.safetensors", "metrics.json"
    HISTORY, HISTORY_CSV, CURVES = "history.json", "history.csv", "curves.png"
    RUN, CHECKPOINT = "run.json", "checkpoint.safetensors"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        """The run's checkpoint while it trains (removed once the folder is complete)."""
        return self.path / self.CHECKPOINT

    @property
    def run_file(self) -> Path:
        """``run.json``: the recipe, limit and data the run started with (what ``--resume`` reads)."""
        return self.path / self.RUN

    # -- reading ----------------------------------------------------------------------------------------
    def is_complete(self) -> bool:
        return self.file(self.CONFIG).is_file()

    def config(self) -> ModelConfig:
        path = self.file(self.CONFIG)
        if not path.is_file():
            raise ConfigError(f"{self.path} is not a polarity model folder (no {self.CONFIG})")
        return ModelConfig.from_dict(_read_json(path), str(path))

    def metrics(self) -> dict | None:
        """``metrics.json`` (None where there is none)."""
        path = self.file(self.METRICS)
        return _read_json(path) if path.is_file() else None

    def history(self) -> list[dict]:
        return _read_json(self.file(self.HISTORY))

    def load(self, device: str | torch.device = "cpu") -> LoadedModel:
        """The network with its weights (eval mode, on ``device``), its config and text encoder."""
        config = self.config()
        encoder = TextEncoder.load(self.path, config.preprocessing)
        model = build_model(model_options(config.model, encoder.maxlen), vocab_size=encoder.vocab_size,
                            num_outputs=num_outputs(config.labels))
        weights = self.file(self.WEIGHTS)
        if not weights.is_file():
            raise ConfigError(f"{self.path} has no {self.WEIGHTS}")
        try:
            model.load_state_dict(load_file(str(weights)))
        except Exception as exc:  # safetensors raises its own error type for truncated or foreign files
            raise ConfigError(f"{weights} does not fit the model in {self.CONFIG}: {exc}") from exc
        return LoadedModel(model.to(device).eval(), config, encoder)

    # -- writing ----------------------------------------------------------------------------------------
    def save(self, model: nn.Module, encoder: TextEncoder, labels: list, config: dict) -> None:
        """Vocabulary, weights, then ``config.json`` (with the labels and the encoder's preprocessing)."""
        self.path.mkdir(parents=True, exist_ok=True)
        encoder.save(self.path)
        save_weights(self.file(self.WEIGHTS), model)
        preprocessing = {**config.get("preprocessing", {}), **encoder.config()}
        write_json(self.file(self.CONFIG), dict(config, labels=list(labels), preprocessing=preprocessing, format=FORMAT))

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.file(self.METRICS), metrics)

    def write_history(self, history: list[dict]) -> None:
        """``history.json`` and, with rows, ``history.csv``."""
        write_json(self.file(self.HISTORY), history)
        if history:
            keys = list(dict.fromkeys(k for row in history for k in row))
            with atomic_write(self.file(self.HISTORY_CSV), newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=keys)
                writer.writeheader()
                writer.writerows(history)


def save_weights(path: Path, model: nn.Module) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp),
                  metadata={"format": FORMAT})


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc

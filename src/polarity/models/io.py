"""The model folder: ``config.json``, ``vocab.json`` and ``model.safetensors``; no pickle anywhere.

``config.json`` holds the recipe, the preprocessing (tokenizer, maxlen, truncation), the label
names in output order (``labels``, like Hugging Face's ``id2label``) and provenance. Folders
written before labels existed are read as ``["negative", "positive"]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from polarity.data.encoder import TextEncoder
from polarity.errors import ConfigError
from polarity.files import atomic_path, write_json
from polarity.models.registry import build_model

CONFIG, WEIGHTS = "config.json", "model.safetensors"
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


def save_weights(path: Path, model: nn.Module) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp),
                  metadata={"format": FORMAT})


def save_model_folder(folder: Path, model: nn.Module, encoder: TextEncoder, labels: list, config: dict) -> None:
    """Write the folder; ``config.json`` last, so a folder with a config is complete."""
    folder.mkdir(parents=True, exist_ok=True)
    encoder.save(folder)
    save_weights(folder / WEIGHTS, model)
    write_json(folder / CONFIG, dict(config, labels=list(labels), preprocessing={**config.get("preprocessing", {}),
                                                                                **encoder.config()}, format=FORMAT))


def read_config(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise ConfigError(f"{folder} is not a polarity model folder (no {CONFIG})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    found = config.get("format") if isinstance(config, dict) else None
    if isinstance(found, str) and found.startswith("polarity.model/") and found != FORMAT:
        raise ConfigError(f"{path}: written in model format {found!r}, newer than this polarity reads ({FORMAT}): "
                          "upgrade polarity")
    if found != FORMAT:
        raise ConfigError(f"{path}: not a polarity model config (format {found!r}, expected {FORMAT})")
    config.setdefault("labels", list(DEFAULT_LABELS))
    labels = config["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, (str, int)) for x in labels):
        raise ConfigError(f"{path}: 'labels' must be a list of at least two label names, got {labels!r}")
    if not isinstance(config.get("recipe"), dict) or not isinstance(config["recipe"].get("model"), dict):
        raise ConfigError(f"{path} has no recipe.model section: the folder is incomplete; train it again")
    return config


def load_model_folder(folder: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict, TextEncoder]:
    """(model in eval mode, config, text encoder) from a model folder."""
    folder = Path(folder)
    config = read_config(folder)
    encoder = TextEncoder.load(folder, config.get("preprocessing", {}))
    model_section = config["recipe"]["model"]
    model = build_model(model_options(model_section, encoder.maxlen), vocab_size=encoder.vocab_size,
                        num_outputs=num_outputs(config["labels"]))
    weights_path = folder / WEIGHTS
    if not weights_path.is_file():
        raise ConfigError(f"{folder} has no {WEIGHTS}")
    try:
        model.load_state_dict(load_file(str(weights_path)))
    except Exception as exc:  # safetensors raises its own error type for truncated or foreign files
        raise ConfigError(f"{weights_path} does not fit the model in {CONFIG}: {exc}") from exc
    return model.to(device).eval(), config, encoder

"""The model folder: ``config.json``, ``vocab.json`` and ``model.safetensors``; no pickle anywhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from polarity.data.tokenizer import Tokenizer
from polarity.data.vocab import Vocabulary
from polarity.errors import ConfigError
from polarity.models.registry import build_model

CONFIG, VOCAB, WEIGHTS = "config.json", "vocab.json", "model.safetensors"
FORMAT = "polarity.model/1"


def write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def model_options(model_section: dict, maxlen: int | None) -> dict:
    """Options for :func:`build_model` from a recipe's [model] section (the pretrained source is data, not an option)."""
    options = {k: v for k, v in model_section.items() if k != "pretrained"}
    options["maxlen"] = maxlen
    return options


def save_model_folder(folder: Path, model: nn.Module, vocab: Vocabulary, config: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    vocab.save(folder / VOCAB)
    tmp = folder / (WEIGHTS + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata={"format": FORMAT})
    os.replace(tmp, folder / WEIGHTS)
    write_json(folder / CONFIG, dict(config, format=FORMAT))


def read_config(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise ConfigError(f"{folder} is not a polarity model folder (no {CONFIG})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if config.get("format") != FORMAT:
        raise ConfigError(f"{path}: unsupported model format {config.get('format')!r} (expected {FORMAT})")
    return config


def load_model_folder(folder: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict, Vocabulary, Tokenizer]:
    """(model in eval mode, config, vocabulary, tokenizer) from a model folder."""
    folder = Path(folder)
    config = read_config(folder)
    vocab = Vocabulary.load(folder / VOCAB)
    model = build_model(model_options(config["recipe"]["model"], config["preprocessing"]["maxlen"]), vocab_size=vocab.size)
    weights_path = folder / WEIGHTS
    if not weights_path.is_file():
        raise ConfigError(f"{folder} has no {WEIGHTS}")
    try:
        model.load_state_dict(load_file(str(weights_path)))
    except (RuntimeError, OSError) as exc:
        raise ConfigError(f"{weights_path} does not fit the model in {CONFIG}: {exc}") from exc
    tokenizer = Tokenizer.from_dict(config["preprocessing"]["tokenizer"])
    return model.to(device).eval(), config, vocab, tokenizer

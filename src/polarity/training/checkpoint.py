"""Checkpoints without pickle: one safetensors file holding tensors and a JSON state in its metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from polarity.errors import ConfigError
from polarity.files import atomic_path


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state dict into named tensors and its JSON-ready parameter groups. Adam,
    Adagrad, RMSprop and SGD keep only tensors for each parameter; any other state is refused."""
    state = optimizer.state_dict()
    tensors = {}
    for param_id, values in state["state"].items():
        for name, value in values.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{type(optimizer).__name__} keeps {name!r} as {type(value).__name__}: "
                                "a checkpoint holds an optimizer's tensors only")
            tensors[f"optimizer.{param_id}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, param_id, name = key.split(".", 2)
            state.setdefault(int(param_id), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], state: dict) -> None:
    """Write atomically: a crash while saving leaves the previous checkpoint intact."""
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(contiguous, str(tmp), metadata={"polarity_state": json.dumps(state)})


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    start_over = "delete it (or choose another --out) and train again without --resume"
    if not path.is_file():
        raise ConfigError(f"no checkpoint to resume from at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors reports truncated or foreign files with its own error type
        raise ConfigError(f"{path} is damaged or not a checkpoint ({exc}); {start_over}") from exc
    if "polarity_state" not in meta:
        raise ConfigError(f"{path} is not a polarity checkpoint; {start_over}")
    try:
        return tensors, json.loads(meta["polarity_state"])
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} holds an unreadable training state; {start_over}") from exc

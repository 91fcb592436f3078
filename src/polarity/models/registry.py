"""Model registry: recipes name a model type; ``build_model`` makes it from its options."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from polarity.errors import ConfigError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        _REGISTRY[name] = cls
        return cls

    return add


def model_types() -> list[str]:
    return sorted(_REGISTRY)


def model_class(name: str) -> Callable[..., nn.Module]:
    """The class registered as ``name``."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model type {name!r}; available: {', '.join(model_types())}")
    return _REGISTRY[name]


def build_model(options: dict, **extra) -> nn.Module:
    """Instantiate ``options["type"]`` with the remaining options (and ``extra``, e.g. ``vocab_size``)."""
    options = dict(options)
    kind = options.pop("type", None)
    cls = model_class(kind)
    try:
        return cls(**options, **extra)
    except TypeError as exc:
        raise ConfigError(f"bad options for model {kind!r}: {exc}") from exc

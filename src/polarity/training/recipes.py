"""Recipes: TOML files that describe one experiment (data, model, training), with overrides."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path

from polarity.errors import ConfigError

DEFAULTS = {
    "data": {
        "num_words": 0,
        "skip_top": 0,
        "maxlen": 0,
        "truncating": "pre",
        "valid_fraction": 0.1,
        "pretrained_vocabulary": False,
    },
    "model": {},
    "training": {
        "optimizer": "adam",
        "lr": 0.001,
        "initial_accumulator": 0.1,
        "batch_size": 64,
        "epochs": 3,
        "batching": "bucketed",
        "precision": "float32",
        "shards": 1,
        "seed": 0,
        "early_stopping": 0,
        "restore_best": True,
        "eval_test_each_epoch": False,
    },
}
SECTIONS = ("data", "model", "training")
CHOICES = {("training", "batching"): ("exact", "bucketed"), ("training", "precision"): ("float32", "bfloat16"),
           ("data", "truncating"): ("pre", "post"),
           ("training", "optimizer"): ("adam", "adagrad", "rmsprop", "sgd")}


def recipe_names() -> list[str]:
    folder = resources.files("polarity") / "recipes"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("polarity") / "recipes" / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ConfigError(f"unknown recipe {name_or_path!r}; available: {', '.join(recipe_names())} (or a .toml file)")
        text = resource.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe {name_or_path}: invalid TOML: {exc}") from exc


def load_recipe(name_or_path: str, overrides: dict | None = None) -> dict:
    """The recipe with defaults filled in, ``extends`` resolved and ``overrides`` applied.

    ``overrides`` maps ``"section.key"`` (or a bare key found in one section) to a value.
    """
    raw = _read(name_or_path)
    chain = [raw]
    while "extends" in chain[-1]:
        if len(chain) > 8:
            raise ConfigError(f"recipe {name_or_path}: 'extends' goes round in circles")
        chain.append(_read(chain[-1]["extends"]))
    recipe = copy.deepcopy(DEFAULTS)
    for layer in reversed(chain):
        for key, value in layer.items():
            if key in SECTIONS:
                recipe[key].update(value)
            elif key != "extends":
                recipe[key] = value
    if "extends" in raw:
        recipe["extends"] = raw["extends"]
    for key, value in (overrides or {}).items():
        set_value(recipe, key, value)
    validate_recipe(recipe)
    return recipe


def set_value(recipe: dict, key: str, value) -> None:
    if "." in key:
        section, name = key.split(".", 1)
        if section not in SECTIONS:
            raise ConfigError(f"unknown recipe section {section!r} in {key!r}; sections: {', '.join(SECTIONS)}")
    else:
        owners = [s for s in SECTIONS if key in recipe[s]]
        if len(owners) != 1:
            raise ConfigError(f"cannot place {key!r}: name it as section.key (e.g. training.{key})")
        section, name = owners[0], key
    recipe[section][name] = value


def parse_assignment(text: str) -> tuple[str, object]:
    """``"model.units=64"`` -> ``("model.units", 64)``, the value read as TOML (bare words as strings)."""
    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key.strip(), parsed


def validate_recipe(recipe: dict) -> None:
    if not recipe["model"].get("type"):
        raise ConfigError(f"recipe {recipe.get('name')}: [model] needs a type")
    for (section, key), allowed in CHOICES.items():
        if recipe[section][key] not in allowed:
            raise ConfigError(f"{section}.{key} must be one of {', '.join(allowed)}, got {recipe[section][key]!r}")
    training, data = recipe["training"], recipe["data"]
    for key in ("epochs", "batch_size", "shards"):
        if not isinstance(training[key], int) or training[key] < 1:
            raise ConfigError(f"training.{key} must be a positive integer, got {training[key]!r}")
    if not isinstance(training["lr"], (int, float)) or training["lr"] <= 0:
        raise ConfigError(f"training.lr must be positive, got {training['lr']!r}")
    for key in ("num_words", "maxlen", "skip_top"):
        if not isinstance(data[key], int) or data[key] < 0:
            raise ConfigError(f"data.{key} must be an integer >= 0 (0: no limit), got {data[key]!r}")
    if data["pretrained_vocabulary"] not in (False, True, "train", "all"):
        raise ConfigError("data.pretrained_vocabulary must be false, true/\"train\" (training words with a vector) "
                          f"or \"all\" (every pretrained word), got {data['pretrained_vocabulary']!r}")
    if not 0 <= data["valid_fraction"] < 1:
        raise ConfigError(f"data.valid_fraction must be in [0, 1), got {data['valid_fraction']}")


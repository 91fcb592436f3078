"""Recipes: TOML files that describe one experiment (data, model, training), with overrides.

A recipe is a :class:`Recipe` with typed sections (:class:`DataConfig`, :class:`TrainingConfig`)
and a ``[model]`` dict checked against the model class's constructor. Unknown keys, wrong types and
out-of-range values raise :class:`~polarity.errors.ConfigError` with a one-line message.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from polarity.errors import ConfigError
from polarity.settings import (
    Check,
    any_number,
    check_fields,
    check_keys,
    choice,
    count,
    field_names,
    flag,
    from_table,
    integer,
    number,
    optional,
    positive_int,
    regex,
    rule,
    satisfies,
    string,
    table,
    unknown,
    words,
)

SECTIONS = ("data", "model", "training")
MAX_DEPTH = 8
# Constructor arguments the program fills in (from the data); a recipe may not set them.
PROGRAM_KEYS = ("vocab_size", "maxlen", "num_outputs")


# --- recipe-specific value checks --------------------------------------------------------------


def _name(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"recipe {where} must be a non-empty string, got {value!r}")
    return value


_pretrained_vocabulary = satisfies(
    'false, true/"train" (training words with a vector) or "all" (every pretrained word)',
    lambda v: isinstance(v, bool) or (isinstance(v, str) and v in ("train", "all")))


def _accuracies(where: str, value: object) -> list[float]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of numbers, got {value!r}")
    return [number("a list of numbers", lambda v: True)(where, item) for item in value]


_limit = integer(0, "an integer >= 0 (0: no limit)")


# --- sections -------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """The [data] section: vocabulary, sequence length and split."""

    num_words: int = rule(0, _limit)
    skip_top: int = rule(0, count)
    maxlen: int = rule(0, _limit)
    truncating: str = rule("pre", choice("pre", "post"))
    valid_fraction: float = rule(0.1, number("a number in [0, 1)", lambda v: 0 <= v < 1))
    pretrained_vocabulary: bool | str = rule(False, _pretrained_vocabulary)
    target: str = rule("sentiment", choice("sentiment", "rating-bands"))
    remove_characters: str = rule("", regex)
    stop_words: list = field(default_factory=list, metadata={"check": words})
    unknown_vector: str = rule("random", choice("random", "last"))  # with pretrained vectors: the unknown id's row
    negation_scope: bool = rule(False, flag)  # words after a negation, up to punctuation, read as other words
    pairs: str = rule("", string)  # "cad" or a pairs file: both texts of each pair join the training texts
    pair_repeat: int = rule(1, positive_int)  # how many times the pairs join them
    exclude: str = rule("", string)  # "cad-dev" or a file: its texts are held out of training and validation
    augment: str = rule("none", choice("none", "antonyms", "negation", "both"))  # rule-made label-flipping copies
    augment_fraction: float = rule(0.5, number("a number in (0, 1]", lambda v: 0 < v <= 1))
    augment_words: str = rule("lexicon", choice("lexicon", "learned"))  # the words rule-made sentences turn on
    contrast_fraction: float = rule(0.0, number("a number in [0, 1]", lambda v: 0 <= v <= 1))  # "A, but B" examples

    def __post_init__(self) -> None:
        check_fields(self, "data.")
        if self.negation_scope and self.remove_characters:
            raise ConfigError("data.negation_scope marks words up to the next punctuation mark, which "
                              "data.remove_characters deletes first: use one or the other")


@dataclass
class TrainingConfig:
    """The [training] section: optimizer, batches, epochs and precision."""

    optimizer: str = rule("adam", choice("adam", "adagrad", "rmsprop", "sgd"))
    lr: float = rule(0.001, number("a positive number", lambda v: v > 0))
    initial_accumulator: float = rule(0.1, number("a number >= 0", lambda v: v >= 0))
    batch_size: int = rule(64, positive_int)
    epochs: int = rule(3, positive_int)
    batching: str = rule("bucketed", choice("exact", "bucketed"))
    precision: str = rule("float32", choice("float32", "bfloat16"))
    shards: int = rule(1, positive_int)
    seed: int = rule(0, count)
    early_stopping: int = rule(0, integer(0, "an integer >= 0 (0: off)"))
    restore_best: bool = rule(True, flag)
    eval_test_each_epoch: bool = rule(False, flag)
    unfreeze: str = rule("none", choice("none", "gradual"))
    lr_decay: float = rule(1.0, number("a number >= 1", lambda v: v >= 1))
    pair_weight: float = rule(0.0, number("a number >= 0", lambda v: v >= 0))  # the pair term's weight (data.pairs)
    pairs_per_step: int = rule(8, positive_int)  # pairs drawn for the pair term at each step
    mix_counterfactuals: float = rule(0.0, number("a number in [0, 1]", lambda v: 0 <= v <= 1))  # hybrids: see below
    ngram_pair_repeat: int = rule(0, count)  # hybrids: how many times the n-gram part reads the pairs (at least data.pair_repeat)

    def __post_init__(self) -> None:
        check_fields(self, "training.")


SECTION_CLASSES: dict[str, type] = {"data": DataConfig, "training": TrainingConfig}


def _unknown(what: str, key: str, where: str, label: str, valid: Iterable[str], show: Callable = repr) -> ConfigError:
    return unknown(what, key, where, f"recipe {label}", valid, show)


_section_name = "[{}]".format


def _table(value: object, section: str, label: str) -> dict:
    return table(value, f"[{section}]", f"recipe {label}")


# --- [model] --------------------------------------------------------------------------------

_SIMPLE_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


def _type_names(annotation: object) -> set[str]:
    """``"int | None"`` / ``int | None`` -> ``{"int", "None"}``."""
    if isinstance(annotation, str):
        return {part.strip() for part in annotation.split("|")}
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    items = typing.get_args(annotation) if union else (annotation,)
    return {"None" if a in (None, type(None)) else getattr(a, "__name__", str(a)) for a in items}


def _option_check(param: inspect.Parameter) -> Check | None:
    """The check for one constructor argument, from its annotation (else its default's type)."""
    if param.annotation is not inspect.Parameter.empty:
        names = _type_names(param.annotation)
        nullable = "None" in names
        names.discard("None")
        kind = _SIMPLE_TYPES.get(names.pop()) if len(names) == 1 else None
    else:
        nullable, kind = False, type(param.default) if type(param.default) in _SIMPLE_TYPES.values() else None
    if kind is None:
        return None
    check = {bool: flag, int: integer(None, "an integer"), float: any_number, str: string}[kind]
    return optional(check) if nullable else check


def _pretrained_source(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must name the vectors (e.g. \"glove-6b-50d\" or a path to "
                          f"glove.6B.100d.txt), got {value!r}")
    return value


def _encoder_source(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must name an encoder folder made by polarity pretrain (a name such as "
                          f"\"imdb-bilm\" or a path), got {value!r}")
    return value


SOURCE_CHECKS: dict[str, Check] = {"pretrained": _pretrained_source, "encoder": _encoder_source}


def _model_options(type_name: str) -> tuple[dict[str, Check | None], bool]:
    """({recipe key: its check or None}, whether the constructor takes ``**kwargs``) for a model type."""
    from polarity.models import model_class  # importing polarity.models registers the model types

    cls = model_class(type_name)
    params = list(inspect.signature(cls).parameters.values())
    passed_on = getattr(cls, "options_from", None)  # a class whose options this one takes as **kwargs
    if passed_on is not None:
        params = [p for p in params if p.kind != p.VAR_KEYWORD]
        params += [p for p in inspect.signature(passed_on).parameters.values()
                   if p.name not in {q.name for q in params} and p.kind != p.VAR_KEYWORD]
    options: dict[str, Check | None] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in PROGRAM_KEYS:
            continue
        options[param.name] = SOURCE_CHECKS.get(param.name) or _option_check(param)
    return options, any(p.kind == p.VAR_KEYWORD for p in params)


def _model_type(model: dict, label: str) -> str:
    from polarity.models.registry import model_types

    kind = model.get("type")
    if kind is None:
        raise ConfigError(f"[model] needs a type (recipe {label}): one of {', '.join(model_types())}")
    if not isinstance(kind, str) or kind not in model_types():
        raise ConfigError(f"model.type must be one of {', '.join(model_types())}, got {kind!r}")
    return kind


def _check_model(model: object, label: str) -> dict:
    """A validated copy of a [model] section (ints given for float options become floats)."""
    model = _table(model, "model", label)
    kind = _model_type(model, label)
    options, open_ended = _model_options(kind)
    checked = {"type": kind}
    for key, value in model.items():
        if key == "type":
            continue
        if key in PROGRAM_KEYS:
            raise ConfigError(f"model.{key} is supplied by the program, not by recipes (recipe {label})")
        if key not in options and not open_ended:
            raise _unknown("key", key, f" in [model] of type {kind!r}", label, options)
        check = options.get(key)
        checked[key] = check(f"model.{key}", value) if check else copy.deepcopy(value)
    return checked


# --- the recipe -----------------------------------------------------------------------------


@dataclass
class Recipe:
    """One experiment: name, [model] options, [data] and [training] sections, report metadata."""

    name: str = field(metadata={"check": _name})
    model: dict
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    extends: str | None = rule(None, optional(string))
    notebook: str | None = rule(None, optional(string))
    title: str | None = rule(None, optional(string))
    description: str | None = rule(None, optional(string))
    reported_accuracy: float | None = rule(None, optional(any_number))
    reported_per_epoch: list[float] | None = rule(None, optional(_accuracies))
    reported_note: str | None = rule(None, optional(string))

    def __post_init__(self) -> None:
        check_fields(self, "")
        self.data = from_table(DataConfig, self.data, "[data]", f"recipe {self.name}")
        self.training = from_table(TrainingConfig, self.training, "[training]", f"recipe {self.name}")
        self.model = _check_model(self.model, self.name)

    def to_dict(self) -> dict:
        """JSON-ready: top-level fields (None ones left out) and the three sections as dicts."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        """A validated recipe from :meth:`to_dict`'s form (e.g. read back from run.json)."""
        if not isinstance(data, dict):
            raise ConfigError(f"a recipe must be a table, got {data!r}")
        label = data.get("name") if isinstance(data.get("name"), str) else "?"
        _check_top_keys(data, label)
        if "model" not in data:
            raise ConfigError(f"recipe {label} has no [model] section")
        return cls(**{"name": None, **data})

    def with_overrides(self, overrides: Mapping[str, object]) -> Recipe:
        """A new validated recipe with ``overrides`` (``"section.key"`` or bare key -> value) applied."""
        return Recipe.from_dict(_apply_overrides(self.to_dict(), overrides, self.name))


TOP_KEYS = tuple(f.name for f in dataclasses.fields(Recipe))


def _check_top_keys(data: Mapping, label: str) -> None:
    """Reject unknown top-level keys (tables among them as unknown sections) and non-table sections."""
    for key, value in data.items():
        if key in SECTIONS:
            _table(value, key, label)
        elif key not in TOP_KEYS:
            if isinstance(value, dict):
                raise _unknown("section", key, "", label, SECTIONS, show=_section_name)
            raise _unknown("key", key, " at the top level", label, [k for k in TOP_KEYS if k not in SECTIONS])


# --- overrides ------------------------------------------------------------------------------


def _section_keys(recipe: dict, section: str) -> list[str]:
    """The keys a bare override may name in ``section`` of a recipe dict."""
    if section in SECTION_CLASSES:
        return field_names(SECTION_CLASSES[section])
    model = recipe.get("model") or {}
    try:
        kind = _model_type(model, recipe.get("name", "?"))
    except ConfigError:  # no type yet: the keys it has, and the type an override may give it
        return ["type", *(key for key in model if key != "type")]
    return ["type", *_model_options(kind)[0]]


def _place(recipe: dict, key: str, label: str) -> tuple[str, str]:
    """(section, key) for an override key: ``"section.key"`` or a bare key found in one section."""
    if "." in key:
        section, name = key.split(".", 1)
        if section not in SECTIONS:
            raise _unknown("section", section, f" in {key!r}", label, SECTIONS, show=_section_name)
        return section, name
    owners = [s for s in SECTIONS if key in _section_keys(recipe, s)]
    if len(owners) == 1:
        return owners[0], key
    if owners:
        raise ConfigError(f"cannot place {key!r}: it is in {' and '.join(map(_section_name, owners))}; "
                          f"name it as section.key (e.g. {owners[0]}.{key})")
    known = {name: s for s in reversed(SECTIONS) for name in _section_keys(recipe, s)}
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{known[close[0]]}.{close[0]}'?" if close else "name it as section.key"
    raise ConfigError(f"cannot place {key!r}: no section of recipe {label} has it; {hint}")


def _apply_overrides(recipe: dict, overrides: Mapping[str, object] | None, label: str) -> dict:
    """``recipe`` (a dict, changed in place and returned) with the overrides set; model.type first."""
    items = list((overrides or {}).items())
    items.sort(key=lambda item: item[0] not in ("type", "model.type"))
    for key, value in items:
        section, name = _place(recipe, key, label)
        recipe[section] = dict(_table(recipe.get(section, {}), section, label), **{name: value})
    return recipe


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


# --- loading --------------------------------------------------------------------------------


@dataclass
class _Layer:
    """One file of an ``extends`` chain."""

    identity: str  # resolved path or built-in name, to detect cycles
    label: str  # how messages name it
    stem: str  # the default recipe name
    folder: Path | None  # where relative ``extends`` paths are looked up first
    raw: dict


def recipe_names() -> list[str]:
    """The built-in recipes' names."""
    folder = resources.files("polarity") / "recipes"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _parse(text: str, label: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe {label}: invalid TOML: {exc}") from exc


def _read(name_or_path: str, folder: Path | None = None) -> _Layer:
    """A recipe file (a .toml path, tried as given then next to the extending file) or a built-in."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        candidates = [path] + ([folder / path] if folder is not None and not path.is_absolute() else [])
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise ConfigError(f"recipe file {name_or_path} not found")
        raw = _parse(found.read_text(encoding="utf-8"), name_or_path)
        return _Layer(str(found.resolve()), name_or_path, path.stem, found.parent, raw)
    resource = resources.files("polarity") / "recipes" / f"{name_or_path}.toml"
    if not resource.is_file():
        raise ConfigError(f"unknown recipe {name_or_path!r}; available: {', '.join(recipe_names())} (or a .toml file)")
    return _Layer(f"builtin:{name_or_path}", name_or_path, name_or_path, None, _parse(resource.read_text(encoding="utf-8"), name_or_path))


def _chain(name_or_path: str) -> list[_Layer]:
    """The recipe and the ones it extends, the recipe first."""
    chain = [_read(name_or_path)]
    while (parent := chain[-1].raw.get("extends")) is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"extends must be a string, got {parent!r} (recipe {chain[-1].label})")
        if len(chain) >= MAX_DEPTH:
            raise ConfigError(f"recipe {name_or_path}: 'extends' chain deeper than {MAX_DEPTH} recipes")
        layer = _read(parent, chain[-1].folder)
        if layer.identity in (seen.identity for seen in chain):
            route = " -> ".join(seen.label for seen in [*chain, layer])
            raise ConfigError(f"recipe {name_or_path}: 'extends' goes round in circles: {route}")
        chain.append(layer)
    return chain


# What a recipe file says about its own experiment (its notebook, reported figures): not inherited.
DESCRIPTIVE_KEYS = ("notebook", "title", "description", "reported_accuracy", "reported_per_epoch", "reported_note")


def _merge(chain: list[_Layer]) -> dict:
    """One recipe dict: sections merged key by key, later layers winning; name and descriptive keys
    from the top file."""
    merged: dict = {}
    for layer in reversed(chain):
        _check_top_keys(layer.raw, layer.label)
        for key, value in layer.raw.items():
            if key in SECTION_CLASSES:
                check_keys(value, field_names(SECTION_CLASSES[key]), f" in [{key}]", f"recipe {layer.label}")
            if key in SECTIONS:
                merged.setdefault(key, {}).update(value)
            elif key != "extends" and (layer is chain[0] or key not in DESCRIPTIVE_KEYS):
                merged[key] = value
    top = chain[0]
    merged["name"] = top.raw.get("name", top.stem)
    if "extends" in top.raw:
        merged["extends"] = top.raw["extends"]
    return merged


def load_recipe(name_or_path: str, overrides: Mapping[str, object] | None = None) -> Recipe:
    """The recipe ``name_or_path`` (a built-in name or a .toml path) with ``extends`` resolved,
    defaults filled in and ``overrides`` (``"section.key"`` or a bare key -> value) applied."""
    merged = _merge(_chain(name_or_path))
    label = merged["name"] if isinstance(merged["name"], str) else name_or_path
    return Recipe.from_dict(_apply_overrides(merged, overrides, label))

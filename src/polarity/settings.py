"""Typed settings, checked by one mechanism: dataclasses whose fields carry a check.

Recipes' [data] and [training] sections, ``polarity pretrain``'s settings and ``polarity serve``'s
are such dataclasses. A check turns a value into the field's type or raises a one-line
:class:`~polarity.errors.ConfigError` that names the setting; unknown keys get the closest valid
name (``unknown key 'epoch' in [training] (recipe x); did you mean 'epochs'?``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import Any

from polarity.errors import ConfigError

Check = Callable[[str, object], object]


# -- value checks: (where, value) -> value (converted), or ConfigError --------------------------------------
def satisfies(what: str, ok: Callable[[Any], bool], convert: Callable[[Any], Any] = lambda v: v) -> Check:
    """A check: ``convert(value)`` where ``ok(value)``, else ``<where> must be <what>, got <value>``."""

    def check(where: str, value: object) -> object:
        if not ok(value):
            raise ConfigError(f"{where} must be {what}, got {value!r}")
        return convert(value)

    return check


def integer(minimum: int | None, what: str, maximum: int | None = None) -> Check:
    return satisfies(what, lambda v: not isinstance(v, bool) and isinstance(v, int) and
                     (minimum is None or v >= minimum) and (maximum is None or v <= maximum))


def number(what: str, ok: Callable[[float], bool]) -> Check:
    """A float (an int is accepted and converted) that is finite and satisfies ``ok``."""
    return satisfies(what, lambda v: not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                     and ok(v), float)


def choice(*choices: str) -> Check:
    return satisfies(f"one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices)


flag = satisfies("true or false", lambda v: isinstance(v, bool))
string = satisfies("a string", lambda v: isinstance(v, str))
words = satisfies("a list of words", lambda v: isinstance(v, list) and all(isinstance(w, str) and w for w in v), list)


def optional(check: Check) -> Check:
    def optional_check(where: str, value: object) -> object:
        return None if value is None else check(where, value)

    return optional_check


def regex(where: str, value: object) -> str:
    import re

    value = string(where, value)
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{where} must be a regular expression, got {value!r} ({exc})") from exc
    return value


positive_int = integer(1, "a positive integer")
count = integer(0, "an integer >= 0")
any_number = number("a number", lambda v: True)


# -- typed dataclasses ------------------------------------------------------------------------------------
def rule(default: object, check: Check) -> Any:
    """A dataclass field with ``default`` whose values go through ``check``."""
    return field(default=default, metadata={"check": check})


def check_fields(obj: object, prefix: str | Callable[[str], str]) -> None:
    """Run each field's check on its value, storing the converted value; messages name a field
    ``prefix + name`` (or ``prefix(name)``, e.g. the command-line flag that sets it)."""
    for f in dataclasses.fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            where = prefix(f.name) if callable(prefix) else prefix + f.name
            setattr(obj, f.name, check(where, getattr(obj, f.name)))


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def unknown(what: str, key: str, where: str, owner: str, valid: Iterable[str], show: Callable = repr) -> ConfigError:
    """``unknown key 'epoch' in [training] (recipe x); did you mean 'epochs'?`` (else the valid names)."""
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=1)
    listed = ", ".join(valid if show is repr else map(show, valid)) or "none"
    hint = f"did you mean {show(close[0])}?" if close else f"valid {what}s: {listed}"
    return ConfigError(f"unknown {what} {show(key)}{where} ({owner}); {hint}")


def check_keys(values: Mapping, valid: Iterable[str], where: str, owner: str) -> None:
    valid = list(valid)
    for key in values:
        if key not in valid:
            raise unknown("key", key, where, owner, valid)


def table(value: object, where: str, owner: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table ({owner}), got {value!r}")
    return value


def from_table(cls: type, values: object, where: str, owner: str) -> Any:
    """An instance of the settings dataclass ``cls`` from a dict, rejecting unknown keys."""
    if isinstance(values, cls):
        return dataclasses.replace(values)  # a copy, checked again
    values = table(values, where, owner)
    check_keys(values, field_names(cls), f" in {where}", owner)
    return cls(**values)

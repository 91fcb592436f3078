"""Atomic file writes: a reader (or a run killed mid-write) sees the old file or the new one, never half.

Every file polarity writes goes through :func:`atomic_write`: write a temporary file beside the
target, flush it to disk, then rename it over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` (with ``mode``) on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_write(path: str | os.PathLike, text: bool = True, **open_options) -> Iterator[IO[Any]]:
    """Open a temporary file for writing (text, UTF-8 by default) that replaces ``path`` when closed."""
    if text:
        open_options.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, "w" if text else "wb", **open_options) as handle:
        yield handle


def json_text(value: Any, **options) -> str:
    """``json.dumps`` with non-ASCII characters as written, unless a string holds a lone surrogate
    (a ``"\\ud800"`` escape in JSON input reads as one): UTF-8 cannot hold it, so then every non-ASCII
    character is escaped, as JSON allows, and reads back the same."""
    text = json.dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **options)
    return text


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2) -> None:
    with atomic_write(path) as handle:
        handle.write(json_text(data, indent=indent) + "\n")

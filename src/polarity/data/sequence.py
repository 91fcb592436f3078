"""``pad_sequences`` with the exact behaviour of ``keras.utils.pad_sequences``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_MODES = ("pre", "post")


def pad_sequences(
    sequences: Sequence,
    maxlen: int | None = None,
    dtype: str | np.dtype = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float | str = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to a common length.

    Same output as Keras for every valid combination: ``padding``/``truncating`` ``"pre"`` work at
    the start of each sequence, ``"post"`` at the end; ``maxlen=None`` pads to the longest sequence;
    empty sequences become rows of ``value``. Sequences may hold scalars or equal-shaped arrays.
    """
    maxlen = _check_options(sequences, maxlen, padding, truncating)
    lengths, sample_shape = _lengths_and_shape(sequences)
    if maxlen is None:
        if not lengths:
            raise ValueError("cannot infer maxlen from an empty list of sequences; pass maxlen")
        maxlen = max(lengths)
    dtype = np.dtype(dtype)
    if isinstance(value, str) and dtype != object and not np.issubdtype(dtype, np.str_):
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type {type(value).__name__}; "
            "use dtype=object for variable-length strings"
        )
    out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for row, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(
                f"shape of sample {kept.shape[1:]} of sequence at position {row} "
                f"is different from expected shape {tuple(sample_shape)}"
            )
        if padding == "post":
            out[row, : len(kept)] = kept
        else:
            out[row, -len(kept) :] = kept
    return out


def _check_options(sequences: Sequence, maxlen: int | None, padding: str, truncating: str) -> int | None:
    if padding not in _MODES:
        raise ValueError(f'padding must be "pre" or "post", got {padding!r}')
    if truncating not in _MODES:
        raise ValueError(f'truncating must be "pre" or "post", got {truncating!r}')
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
            raise ValueError(f"maxlen must be a non-negative integer or None, got {maxlen!r}")
        maxlen = int(maxlen)
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be a list of sequences (e.g. a list of lists of ints)")
    return maxlen


def _lengths_and_shape(sequences: Sequence) -> tuple[list[int], tuple[int, ...]]:
    """Each sequence's length, and the shape of its items (from the first non-empty sequence)."""
    lengths: list[int] = []
    sample_shape: tuple[int, ...] = ()
    shape_found = False
    for position, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise ValueError(
                f"`sequences` must be a list of iterables; item {position} is {type(seq).__name__}: {seq!r:.60}"
            )
        lengths.append(len(seq))
        if not shape_found and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
            shape_found = True
    return lengths, sample_shape

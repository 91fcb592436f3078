"""Word vocabulary with the id conventions of ``keras.datasets.imdb``.

Ids 0, 1 and 2 are reserved for padding, the start marker and out-of-vocabulary words; the word of
frequency rank ``r`` (1 = most frequent) has id ``r + index_from`` (``index_from=3`` leaves id 3
unused, as in Keras). ``num_words`` keeps ids below it, ``skip_top`` drops ids below it; both map the
dropped words to ``oov_char``, exactly as ``keras.datasets.imdb.load_data`` does.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from pathlib import Path

from polarity.errors import ConfigError
from polarity.files import write_json

PAD, START, OOV = 0, 1, 2
PAD_TOKEN, START_TOKEN, OOV_TOKEN, UNUSED_TOKEN = "<PAD>", "<START>", "<UNK>", "<UNUSED>"


class Vocabulary:
    """Frequency-ranked words and the rules that turn words into ids and back."""

    def __init__(
        self,
        words: Sequence[str],
        counts: Sequence[int] | None = None,
        *,
        num_words: int | None = None,
        skip_top: int = 0,
        index_from: int = 3,
        start_char: int | None = START,
        oov_char: int | None = OOV,
    ) -> None:
        if index_from < 0:
            raise ConfigError(f"index_from must be >= 0, got {index_from}")
        if num_words is not None and num_words < 1:
            raise ConfigError(f"num_words must be a positive integer or None, got {num_words}")
        if skip_top < 0:
            raise ConfigError(f"skip_top must be >= 0, got {skip_top}")
        if counts is not None and len(counts) != len(words):
            raise ConfigError(f"{len(words)} words but {len(counts)} counts")
        self.words = list(words)
        self.counts = list(counts) if counts is not None else None
        self.num_words = num_words
        self.skip_top = skip_top
        self.index_from = index_from
        self.start_char = start_char
        self.oov_char = oov_char
        self._word_to_id = {w: rank + index_from for rank, w in enumerate(self.words, start=1)}
        if len(self._word_to_id) != len(self.words):
            raise ConfigError("the vocabulary lists a word twice")
        self._kept = {w: i for w, i in self._word_to_id.items() if self._keeps(i)}
        self._kept_utf8: dict[bytes, int] | None = None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls, tokenized: Iterable[Sequence[str]], *, min_count: int = 1, **options
    ) -> "Vocabulary":
        """Rank the words of ``tokenized`` by frequency; ties go in alphabetical order."""
        counter: Counter[str] = Counter()
        for tokens in tokenized:
            counter.update(tokens)
        ranked = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        return cls([w for w, _ in ranked], [c for _, c in ranked], **options)

    def with_options(self, **options) -> "Vocabulary":
        """A copy with other ``num_words``, ``skip_top``, ``index_from``, ``start_char`` or ``oov_char``."""
        return Vocabulary(self.words, self.counts, **{**self._options(), **options})

    def restrict(self, allowed: "set[str] | frozenset[str]") -> "Vocabulary":
        """A copy keeping only the words in ``allowed`` (ranks close up, order stays)."""
        keep = [i for i, w in enumerate(self.words) if w in allowed]
        counts = [self.counts[i] for i in keep] if self.counts is not None else None
        return Vocabulary([self.words[i] for i in keep], counts, **self._options())

    # -- ids ----------------------------------------------------------------------------------------
    def _keeps(self, idx: int) -> bool:
        return idx >= self.skip_top and (self.num_words is None or idx < self.num_words)

    @property
    def size(self) -> int:
        """Number of rows an embedding needs: every id this vocabulary can emit is below it."""
        top = len(self.words) + self.index_from + 1
        reserved = max(PAD, self.start_char or 0, self.oov_char or 0) + 1
        return max(reserved, min(top, self.num_words) if self.num_words is not None else top)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._kept

    def word_index(self) -> dict[str, int]:
        """Word to frequency rank (1 = most frequent), as ``keras.datasets.imdb.get_word_index()``."""
        return {w: rank for rank, w in enumerate(self.words, start=1)}

    def id_of(self, word: str) -> int | None:
        """The id ``word`` encodes to, or None when it is out of vocabulary."""
        return self._kept.get(word)

    def start_ids(self) -> list[int]:
        """What :meth:`encode` puts before the words: ``[start_char]``, ``[oov_char]`` when
        ``skip_top`` drops the start id (as Keras does), or nothing."""
        if self.start_char is None:
            return []
        start = self.start_char if self._keeps(self.start_char) else self.oov_char
        return [] if start is None else [start]

    def utf8_index(self) -> dict[bytes, int]:
        """Word (UTF-8, ``surrogatepass``) to id, for the words that encode to their own id: the
        lookup table of :meth:`TextEncoder.encode`'s fast path (built on first use)."""
        index = getattr(self, "_kept_utf8", None)
        if index is None:
            index = self._kept_utf8 = {w.encode("utf-8", "surrogatepass"): i for w, i in self._kept.items()}
        return index

    def encode(self, tokens: Sequence[str], *, add_start: bool = True) -> list[int]:
        """Ids of ``tokens``, out-of-vocabulary words as ``oov_char`` (or dropped if it is None)."""
        get = self._kept.get
        oov = self.oov_char
        if oov is None:
            ids = list(filter(None, map(get, tokens)))  # every kept id is >= 1; None marks the unknown
        else:
            ids = list(map(get, tokens, repeat(oov)))
        return self.start_ids() + ids if add_start else ids

    def decode(self, ids: Iterable[int], *, skip_padding: bool = False) -> list[str]:
        """Words of ``ids``, with ``<PAD>``, ``<START>`` and ``<UNK>`` as in the Keras tutorials."""
        words = []
        for i in ids:
            i = int(i)
            if i == PAD:
                if not skip_padding:
                    words.append(PAD_TOKEN)
            elif i == self.start_char:
                words.append(START_TOKEN)
            elif i == self.oov_char:
                words.append(OOV_TOKEN)
            elif self.index_from <= i - 1 < self.index_from + len(self.words):
                words.append(self.words[i - 1 - self.index_from])
            else:
                words.append(UNUSED_TOKEN)
        return words

    # -- persistence --------------------------------------------------------------------------------
    def _options(self) -> dict:
        return dict(
            num_words=self.num_words,
            skip_top=self.skip_top,
            index_from=self.index_from,
            start_char=self.start_char,
            oov_char=self.oov_char,
        )

    def to_dict(self, *, only_used: bool = True) -> dict:
        """JSON-ready form; ``only_used`` drops words whose ids ``num_words`` excludes."""
        n = len(self.words)
        if only_used and self.num_words is not None:
            n = min(n, max(0, self.num_words - self.index_from - 1))
        data = {"format": "polarity.vocabulary/1", **self._options(), "words": self.words[:n]}
        if self.counts is not None:
            data["counts"] = self.counts[:n]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        if data.get("format") != "polarity.vocabulary/1" or not isinstance(data.get("words"), list):
            raise ConfigError("not a polarity vocabulary (expected format 'polarity.vocabulary/1')")
        options = {k: data[k] for k in ("num_words", "skip_top", "index_from", "start_char", "oov_char") if k in data}
        return cls(data["words"], data.get("counts"), **options)

    def save(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read vocabulary {path}: {exc}") from exc
        return cls.from_dict(data)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self.words)} words, num_words={self.num_words}, size={self.size})"


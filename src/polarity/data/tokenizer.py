"""Text to words, by default exactly as Keras's ``Tokenizer`` with its default arguments."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass(frozen=True)
class Tokenizer:
    """Split review text into words.

    The defaults reproduce ``keras.preprocessing.text.text_to_word_sequence``: lower-case, replace
    each character of ``filters`` with ``split``, split on ``split`` and drop empty strings.
    IMDB reviews contain HTML line breaks, so ``<br />`` tags become spaces first.
    """

    filters: str = KERAS_FILTERS
    lower: bool = True
    split: str = " "
    strip_html_breaks: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.split, str) or len(self.split) == 0:
            raise ValueError("Tokenizer.split must be a non-empty string, e.g. ' '")
        object.__setattr__(self, "_table", str.maketrans({c: self.split for c in self.filters}))

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[str]:
        """Return the words of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        if self.strip_html_breaks:
            text = _BR_TAG.sub(" ", text)
        if self.lower:
            text = text.lower()
        return [w for w in text.translate(self._table).split(self.split) if w]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict) -> "Tokenizer":
        known = {k: config[k] for k in ("filters", "lower", "split", "strip_html_breaks") if k in config}
        return cls(**known)

"""Counterfactuals without human pairs: edits that flip a review's label, made by rule.

Two kinds of edit, each on every place it applies, so that the review says the opposite:

- ``antonyms``: sentiment words swapped with their opposite from a small lexicon ("great" <->
  "terrible", "loved" <-> "hated"); the lexicon is symmetric, so the edit undoes itself;
- ``negation``: a negation after "is/was/are/were" removed where there is one ("is not good" ->
  "is good") and inserted where there is none ("was boring" -> "was not boring"), before a word
  of the lexicon only.

And one that keeps the label: :func:`contrast` joins a sentence of the opposite sentiment and one
of the review's own, from real training reviews, as "A, but B" or "Although A, B" (B decides).

:func:`flip` returns the edited text and the list of replacements it made (or None when nothing
applies); :func:`augment` adds short sentences of training reviews beside their flipped copies, with
opposite labels, to training data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from polarity.data.labelled import LabelledTexts
from polarity.errors import DataError

# Pairs of opposite sentiment words (both directions are used).
OPPOSITES = {
    "good": "bad", "great": "terrible", "excellent": "awful", "best": "worst", "wonderful": "horrible",
    "brilliant": "dreadful", "amazing": "pathetic", "superb": "lousy", "beautiful": "ugly", "fantastic": "atrocious",
    "perfect": "flawed", "enjoyable": "unbearable", "entertaining": "boring", "interesting": "dull",
    "funny": "unfunny", "love": "hate", "loved": "hated", "loves": "hates", "enjoyed": "endured",
    "recommend": "discourage", "recommended": "discouraged", "masterpiece": "disaster", "gem": "mess",
    "clever": "stupid", "better": "worse", "underrated": "overrated", "fun": "tedious", "touching": "cringeworthy",
    "memorable": "forgettable", "impressive": "unimpressive", "charming": "irritating", "believable": "unbelievable",
    "success": "failure", "satisfying": "disappointing", "excited": "bored", "pleasant": "unpleasant",
}
LEXICON = {**OPPOSITES, **{bad: good for good, bad in OPPOSITES.items()}}
KINDS = ("antonyms", "negation", "both")
_WORD = re.compile(r"[A-Za-z]+")
_COPULA = re.compile(r"\b(is|was|are|were)( not|n't)?\s+([A-Za-z]+)", re.IGNORECASE)


@dataclass
class Edit:
    """A flipped text and what changed: ``(before, after)`` for each replacement, in order."""

    text: str
    changes: list[tuple[str, str]]


def _keep_case(word: str, replacement: str) -> str:
    if word.isupper() and len(word) > 1:
        return replacement.upper()
    return replacement[:1].upper() + replacement[1:] if word[:1].isupper() else replacement


def swap_antonyms(text: str) -> Edit:
    """Every word of the lexicon replaced by its opposite (case kept)."""
    changes: list[tuple[str, str]] = []

    def replace(match: re.Match) -> str:
        word = match.group(0)
        opposite = LEXICON.get(word.lower())
        if opposite is None:
            return word
        changes.append((word, _keep_case(word, opposite)))
        return changes[-1][1]

    return Edit(_WORD.sub(replace, text), changes)


def toggle_negation(text: str) -> Edit:
    """"is not X" -> "is X" and "is X" -> "is not X" (also was/are/were, and "isn't"), for X of the lexicon."""
    changes: list[tuple[str, str]] = []

    def toggle(match: re.Match) -> str:
        verb, negation, word = match.group(1), match.group(2), match.group(3)
        if word.lower() not in LEXICON:
            return match.group(0)
        before = match.group(0)[: -len(word)].rstrip()
        after = verb if negation else f"{verb} not"
        changes.append((before, after))
        return f"{after} {word}"

    return Edit(_COPULA.sub(toggle, text), changes)


def flip(text: str, kind: str = "both") -> Edit | None:
    """``text`` edited to say the opposite (``kind``: antonyms, negation or both), or None when no
    edit applies. With ``both``, negation first, then antonyms where no negation was toggled."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    edit = toggle_negation(text) if kind in ("negation", "both") else Edit(text, [])
    if kind == "antonyms" or (kind == "both" and not edit.changes):
        edit = swap_antonyms(text)
    return edit if edit.changes else None


def augment(data: LabelledTexts, kind: str, fraction: float, seed: int) -> tuple[LabelledTexts, int]:
    """``data`` with about ``fraction`` of its size in short pairs: a sentence of a training review that
    leans the review's way (:func:`sentence_pools`) with the review's label, and the sentence flipped
    by ``kind`` with the other label (an edit of one phrase does not flip a whole review, so whole
    reviews are never relabelled). Two labels only. Returns the data and how many texts were added."""
    if len(data.names) != 2:
        raise DataError(f"data.augment flips one label into the other: it needs two labels, not {len(data.names)}")
    pools = sentence_pools(data)
    flippable = [(s, y) for y in (0, 1) for s in pools[y] if flip(s, kind) is not None]
    if fraction <= 0 or not flippable:
        return data, 0
    rng = np.random.default_rng([seed, 2])
    chosen = rng.integers(len(flippable), size=max(1, int(round(fraction * len(data) / 2))))
    texts, labels = [], []
    for i in chosen.tolist():
        sentence, label = flippable[i]
        texts += [sentence, flip(sentence, kind).text]
        labels += [label, 1 - label]
    joined = LabelledTexts(data.texts + texts, np.concatenate([data.labels, labels]), list(data.names), data.source)
    return joined, len(texts)


POSITIVE = frozenset(OPPOSITES)
NEGATIVE = frozenset(OPPOSITES.values())
_SENTENCE = re.compile(r"[^.!?]+[.!?]")


def sentence_pools(data: LabelledTexts, words: tuple[int, int] = (4, 18)) -> dict[int, list[str]]:
    """Short sentences of each label's reviews whose lexicon words all lean the review's way."""
    pools: dict[int, list[str]] = {0: [], 1: []}
    for text, label in zip(data.texts, data.labels.tolist()):
        for sentence in _SENTENCE.findall(text.replace("<br />", " ")):
            tokens = [w.lower() for w in _WORD.findall(sentence)]
            lean = {1 for w in tokens if w in POSITIVE} | {0 for w in tokens if w in NEGATIVE}
            if words[0] <= len(tokens) <= words[1] and lean == {label}:
                pools[label].append(sentence.strip())
    return pools


def contrast(data: LabelledTexts, fraction: float, seed: int) -> tuple[LabelledTexts, int]:
    """``data`` with about ``fraction`` of its size in contrast examples: a sentence of the other label,
    then one of this label after "but" (or after the other, with "although"), labelled as the second."""
    if len(data.names) != 2:
        raise DataError(f"data.contrast_fraction joins sentences of two opposite labels: it needs two labels, "
                        f"not {len(data.names)}")
    pools = sentence_pools(data)
    if fraction <= 0 or not pools[0] or not pools[1]:
        return data, 0
    rng = np.random.default_rng([seed, 1])
    labels = rng.integers(0, 2, int(round(fraction * len(data))))
    texts = [_joined(pools[1 - y][rng.integers(len(pools[1 - y]))], pools[y][rng.integers(len(pools[y]))],
                     rng.random() < 0.5) for y in labels.tolist()]
    joined = LabelledTexts(data.texts + texts, np.concatenate([data.labels, labels]), list(data.names), data.source)
    return joined, len(texts)


def _joined(other: str, own: str, although: bool) -> str:
    other, own = other.rstrip(".!? "), own[:1].lower() + own[1:]
    if although:
        return f"Although {other[:1].lower() + other[1:]}, {own}"
    return f"{other}, but {own}"

"""Counterfactuals without human pairs: edits that flip a review's label, made by rule.

Two kinds of edit, each on every place it applies, so that the review says the opposite:

- ``antonyms``: sentiment words swapped with their opposite from a small lexicon ("great" <->
  "terrible", "loved" <-> "hated"); the lexicon is symmetric, so the edit undoes itself;
- ``negation``: a negation after "is/was/are/were" removed where there is one ("is not good" ->
  "is good") and inserted where there is none ("was boring" -> "was not boring"), before a word
  of the lexicon only, or also before the words the training data shows lean one way
  (:func:`polar_words`).

And one that keeps the label: :func:`contrast` joins a sentence of the opposite sentiment and one
of the review's own, from real training reviews, as "A, but B", "Although A, B" or "B, although A"
(B, the main clause, decides).

:func:`flip` returns the edited text and the list of replacements it made (or None when nothing
applies); :func:`augment` adds short sentences of training reviews beside their flipped copies, with
opposite labels, to training data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
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
MORE_LABELS = " (for more labels, train a recipe without it, e.g. lstm-dropout)"
_WORD = re.compile(r"[A-Za-z]+")
# "is/was/are/were", a negation or none, up to two words that do not change what the verdict is about
# ("a", "the", "very", ...), and the word the verdict is on.
_COPULA = re.compile(r"\b(is|was|are|were)( not|n't| never)?\s+((?:(?:a|an|the|very|really|so|quite|pretty|truly|simply)"
                     r"\s+){0,2})([A-Za-z]+)", re.IGNORECASE)


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


def toggle_negation(text: str, words: Collection[str] = LEXICON.keys(), contract: bool = False) -> Edit:
    """"is not X" -> "is X" and "is X" -> "is not X" for X among ``words`` (lower case; default: the
    lexicon), also with was/are/were, "isn't" or "is never", and with up to two words such as "a",
    "the" or "very" before X ("was the worst" -> "was not the worst"). ``contract``: insert "isn't"
    rather than "is not"."""
    changes: list[tuple[str, str]] = []

    def toggle(match: re.Match) -> str:
        verb, negation, between, word = match.groups()
        if word.lower() not in words:
            return match.group(0)
        before = match.group(0)[: -len(between + word)].rstrip()
        if negation:
            after = verb
        else:
            after = verb + ("N'T" if verb.isupper() else "n't") if contract else f"{verb} not"
        changes.append((before, after))
        return f"{after} {between}{word}"

    return Edit(_COPULA.sub(toggle, text), changes)


def flip(text: str, kind: str = "both", words: Collection[str] = LEXICON.keys(), contract: bool = False) -> Edit | None:
    """``text`` edited to say the opposite (``kind``: antonyms, negation or both), or None when no
    edit applies. With ``both``, negation first, then antonyms where no negation was toggled. A
    negation is toggled before ``words`` (default: the lexicon), contracted with ``contract``;
    antonyms come from the lexicon."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    edit = toggle_negation(text, words, contract) if kind in ("negation", "both") else Edit(text, [])
    if kind == "antonyms" or (kind == "both" and not edit.changes):
        edit = swap_antonyms(text)
    return edit if edit.changes else None


def augment(data: LabelledTexts, kind: str, fraction: float, seed: int,
            sides: Sides | None = None) -> tuple[LabelledTexts, int]:
    """``data`` with about ``fraction`` of its size in short pairs: a sentence of a training review that
    leans the review's way (:func:`sentence_pools`) with the review's label, and the sentence flipped
    by ``kind`` with the other label (an edit of one phrase does not flip a whole review, so whole
    reviews are never relabelled). ``sides``: the words that make a sentence lean and that a negation
    is toggled before (default: the lexicon's). Two labels only. Returns the data and how many texts
    were added."""
    if len(data.names) != 2:
        raise DataError(f"data.augment flips one label into the other: it needs two labels, not {len(data.names)}"
                        f"{MORE_LABELS}")
    sides = sides or LEXICON_SIDES
    pools, words = sentence_pools(data, sides=sides), sides[0] | sides[1]
    flippable = [(s, y) for y in (0, 1) for s in pools[y] if flip(s, kind, words) is not None]
    if fraction <= 0 or not flippable:
        return data, 0
    rng = np.random.default_rng([seed, 2])
    chosen = rng.integers(len(flippable), size=max(1, int(round(fraction * len(data) / 2))))
    contracted = rng.random(len(chosen)) < 0.5  # half of the inserted negations as "isn't", "wasn't", ...
    texts, labels = [], []
    for i, contract in zip(chosen.tolist(), contracted.tolist()):
        sentence, label = flippable[i]
        texts += [sentence, flip(sentence, kind, words, contract).text]
        labels += [label, 1 - label]
    joined = LabelledTexts(data.texts + texts, np.concatenate([data.labels, labels]), list(data.names), data.source)
    return joined, len(texts)


POSITIVE = frozenset(OPPOSITES)
NEGATIVE = frozenset(OPPOSITES.values())
Sides = dict[int, frozenset[str]]  # label index (0 negative, 1 positive) -> the words that lean its way
LEXICON_SIDES: Sides = {0: NEGATIVE, 1: POSITIVE}
_SENTENCE = re.compile(r"[^.!?]+[.!?]")


def polar_words(data: LabelledTexts, ratio: float = 2.0, share: float = 0.004, least: int = 20) -> Sides:
    """The words of three letters or more that the data shows lean one way: found in at least ``share``
    of the texts (and ``least``), and at least ``ratio`` times as often (as a share of each label's
    texts, one added to each count and total) in one label's texts as in the other's. On IMDB's
    training reviews: about 290 negative words (bad, worst, boring, weak, silly, ...) and 330 positive
    ones (great, excellent, moving, ...)."""
    seen: dict[int, Counter] = {0: Counter(), 1: Counter()}
    for text, label in zip(data.texts, data.labels.tolist()):
        seen[label].update({w.lower() for w in _WORD.findall(text) if len(w) > 2})
    totals = {label: max(1, int((data.labels == label).sum())) for label in (0, 1)}
    least = max(least, int(share * len(data)))

    def lean(word: str) -> float:
        return ((seen[1][word] + 1) / (totals[1] + 1)) / ((seen[0][word] + 1) / (totals[0] + 1))

    common = [w for w in seen[0].keys() | seen[1].keys() if seen[0][w] + seen[1][w] >= least]
    return {0: frozenset(w for w in common if lean(w) <= 1 / ratio), 1: frozenset(w for w in common if lean(w) >= ratio)}


def learned_sides(data: LabelledTexts) -> Sides:
    """The lexicon's sides, each with the words the data shows lean its way (:func:`polar_words`);
    a word the data and the lexicon put on opposite sides stays on the lexicon's."""
    learned = polar_words(data)
    return {label: LEXICON_SIDES[label] | (learned[label] - LEXICON_SIDES[1 - label]) for label in (0, 1)}


def sentence_pools(data: LabelledTexts, words: tuple[int, int] = (4, 18),
                   sides: Sides = LEXICON_SIDES) -> dict[int, list[str]]:
    """Short sentences of each label's reviews whose words of ``sides`` (default: the lexicon's) all
    lean the review's way."""
    pools: dict[int, list[str]] = {0: [], 1: []}
    for text, label in zip(data.texts, data.labels.tolist()):
        for sentence in _SENTENCE.findall(text.replace("<br />", " ")):
            tokens = [w.lower() for w in _WORD.findall(sentence)]
            lean = {1 for w in tokens if w in sides[1]} | {0 for w in tokens if w in sides[0]}
            if words[0] <= len(tokens) <= words[1] and lean == {label}:
                pools[label].append(sentence.strip())
    return pools


def contrast(data: LabelledTexts, fraction: float, seed: int,
             sides: Sides | None = None) -> tuple[LabelledTexts, int]:
    """``data`` with about ``fraction`` of its size in contrast examples of a sentence of each label,
    labelled as the main clause's: "other, but own", "Although other, own" or "Own, although other".
    ``sides`` as for :func:`augment`."""
    if len(data.names) != 2:
        raise DataError(f"data.contrast_fraction joins sentences of two opposite labels: it needs two labels, "
                        f"not {len(data.names)}{MORE_LABELS}")
    pools = sentence_pools(data, sides=sides or LEXICON_SIDES)
    if fraction <= 0 or not pools[0] or not pools[1]:
        return data, 0
    rng = np.random.default_rng([seed, 1])
    labels = rng.integers(0, 2, int(round(fraction * len(data))))
    texts = [_joined(pools[1 - y][rng.integers(len(pools[1 - y]))], pools[y][rng.integers(len(pools[y]))],
                     CONTRAST_SHAPES[rng.integers(len(CONTRAST_SHAPES))]) for y in labels.tolist()]
    joined = LabelledTexts(data.texts + texts, np.concatenate([data.labels, labels]), list(data.names), data.source)
    return joined, len(texts)


CONTRAST_SHAPES = ("{other}, but {own}", "Although {other}, {own}", "{Own}, although {other}")


def _joined(other: str, own: str, shape: str) -> str:
    """Two sentences in one of :data:`CONTRAST_SHAPES` (``Own``: the main clause first, capitalised)."""
    other, core = other.rstrip(".!? "), own.rstrip(".!? ")
    lower = other if shape.startswith("{other}") else other[:1].lower() + other[1:]
    return shape.format(other=lower, own=core[:1].lower() + core[1:], Own=core) + own[len(core):]

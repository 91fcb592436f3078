"""The built-in suite of ``polarity check``: word lists, templates and seeded case generators.

Behavioural tests in the style of CheckList (Ribeiro et al., ACL 2020): each test fills a few
templates with words from small lists, drawn by a seeded generator, and says what a sentiment model
must do with each text: give a label (negation, contrast), keep its label when an irrelevant detail
changes (invariance), or move its score the right way (intensity, direction). Labels here are
``negative`` and ``positive``; :func:`polarity.inference.check.check` maps them onto a model's own
pair (neg/pos, 0/1, ...).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

NEGATIVE, POSITIVE = "negative", "positive"
USER_TEST = "user suite"
CASES_PER_TEST = 100
ATTEMPTS_PER_CASE = 30  # draws allowed per wanted case before a test settles for fewer distinct texts


@dataclass(frozen=True)
class Case:
    """One behavioural case: a text and what the model must do with it.

    ``expect``: the label it must get; ``not_label``: a label it must not get. ``reference`` is a
    second text it is compared with: ``same_label`` (it gets the reference's label), ``rises`` (the
    probability of that label is not below the reference's, less the tolerance), ``falls`` (not
    above it, plus the tolerance). ``where`` names the case in error messages (file and line).
    """

    text: str
    test: str = USER_TEST
    expect: str | int | None = None
    not_label: str | int | None = None
    reference: str | None = None
    same_label: bool = False
    rises: str | int | None = None
    falls: str | int | None = None
    where: str = field(default="", compare=False)

    @property
    def kind(self) -> str:
        """``label`` (CheckList's minimum functionality tests), ``invariance`` or ``direction``."""
        if self.rises is not None or self.falls is not None:
            return "direction"
        return "invariance" if self.reference is not None else "label"


# -- word lists -------------------------------------------------------------------------------------------
POSITIVE_ADJECTIVES = ("good", "great", "excellent", "wonderful", "brilliant", "enjoyable", "funny", "beautiful",
                       "amazing", "fantastic", "superb", "entertaining", "moving", "clever", "charming", "impressive")
NEGATIVE_ADJECTIVES = ("bad", "terrible", "awful", "boring", "dull", "stupid", "poor", "weak", "horrible",
                       "predictable", "disappointing", "pointless", "silly", "annoying", "painful", "forgettable")
# Adjectives that take "very" and "somewhat" naturally (not "very superb").
GRADABLE_POSITIVE = ("good", "funny", "enjoyable", "entertaining", "clever", "charming", "beautiful", "moving",
                     "impressive")
GRADABLE_NEGATIVE = ("bad", "boring", "dull", "silly", "predictable", "weak", "poor", "disappointing", "annoying")
ASPECTS = ("story", "plot", "acting", "script", "ending", "cast", "music", "dialogue", "direction", "photography")
WORKS = ("film", "movie")
POSITIVE_VERBS = (("love", "loved"), ("like", "liked"), ("enjoy", "enjoyed"))
NEGATIVE_VERBS = (("hate", "hated"), ("dislike", "disliked"))
INTENSIFIERS = ("very", "really", "extremely", "incredibly", "truly", "so")
DIMINISHERS = ("somewhat", "fairly", "mildly", "kind of", "a little", "a bit")
NAMES = ("John", "Mary", "David", "Sarah", "Michael", "Emma", "James", "Anna", "Peter", "Laura", "Robert", "Linda")
TITLES = ("Casablanca", "Titanic", "Jaws", "Rocky", "Vertigo", "Gladiator", "Psycho", "Alien", "Heat", "Amadeus")
YEARS = ("1972", "1985", "1991", "1999", "2004", "2012")
MINUTES = ("90", "95", "104", "118", "126", "140")
PLACES = ("Paris", "London", "Berlin", "Tokyo", "Chicago", "Boston", "Texas", "Canada", "Italy", "Mexico")
NEUTRAL_SENTENCES = ("I watched it on a Sunday.", "I saw it with my brother.", "It was on TV last night.",
                     "I rented the DVD last week.", "The film is in English.", "It is about two hours long.",
                     "I went to the cinema with a friend.", "I had not read the book.", "It came out last year.",
                     "I watched it at home.")

WORD_LISTS = {"positive adjectives": POSITIVE_ADJECTIVES, "negative adjectives": NEGATIVE_ADJECTIVES,
              "gradable positive adjectives": GRADABLE_POSITIVE, "gradable negative adjectives": GRADABLE_NEGATIVE,
              "aspects (plot, acting...)": ASPECTS, "works (film, movie)": WORKS, "positive verbs": POSITIVE_VERBS,
              "negative verbs": NEGATIVE_VERBS, "intensifiers": INTENSIFIERS, "diminishers": DIMINISHERS,
              "names": NAMES, "titles": TITLES, "years": YEARS, "running times": MINUTES, "places": PLACES,
              "neutral sentences": NEUTRAL_SENTENCES}

# -- templates ------------------------------------------------------------------------------------------
NEGATED_POSITIVE = ("The {thing} was not {pos}.", "The {thing} wasn't {pos}.", "The {thing} was never {pos}.",
                    "The {thing} is not {pos} at all.", "This is not {a_pos} {work}.", "Not {a_pos} {work}.",
                    "After the first hour the {work} is no longer {pos}.")
NEGATED_NEGATIVE = ("The {thing} was not {neg}.", "The {thing} wasn't {neg}.", "The {thing} was never {neg}.",
                    "This is not {a_neg} {work}.", "Not {neg} at all.", "Never {neg}, always {pos}.",
                    "Not the worst {work} ever.", "This is not the worst {work} I have seen.")
DISTANT_NEGATION = ("I don't think this {work} was {adj}.", "I don't think the {thing} was {adj}.",
                    "I can't say the {thing} was {adj}.", "I would not say that the {thing} was {adj}.",
                    "I didn't find the {thing} {adj}.", "Nobody could call this {work} {adj}.")
# {first} is the clause that does not decide, {second} the one that does.
BUT = ("The {aspect} was {first}, but the {other} was {second}.", "The {aspect} is {first} but the {other} is {second}.",
       "The first half is {first}, but the second half is {second}.",
       "It was supposed to be {first}, but it was {second}.", "I expected to {first_verb} it, but I {second_verb} it.")
ALTHOUGH = ("Although the {aspect} was {first}, the {other} was {second}.",
            "Although the {aspect} is {first}, the {work} as a whole is {second}.",
            "The {other} was {second}, although the {aspect} was {first}.",
            "Although I wanted to {first_verb} it, I {second_verb} it.")
GRADED = ("The {thing} was {adj}.", "This {work} is {adj}.", "I found the {thing} {adj}.", "The {thing} is {adj}.")
REVIEW_SENTENCES = ("The {thing} was {adj}.", "This {work} is {adj}.", "It is {a_adj} {work}.",
                    "The {aspect} was {adj}, and the {other} was {adj2}.",
                    "The {aspect} was {adj}, but the {other} was {adj2}.")
# Invariance templates: the {value} slot is swapped for another value of the same list.
NAME_TEMPLATES = (("{value} was {adj} in this {work}.", NAMES),
                  ("I watched it with {value} and the {aspect} was {adj}.", NAMES),
                  ("{value} plays the lead and the {aspect} is {adj}.", NAMES))
TITLE_TEMPLATES = (("I saw {value} last week and the {aspect} was {adj}.", TITLES),
                   ("{value} is {a_adj} {work}.", TITLES), ("The {aspect} of {value} was {adj}.", TITLES))
NUMBER_TEMPLATES = (("I first saw it in {value} and the {aspect} was {adj}.", YEARS),
                    ("Made in {value}, this {work} is {adj}.", YEARS),
                    ("It runs {value} minutes and the {aspect} is {adj}.", MINUTES))
PLACE_TEMPLATES = (("I saw it in {value} and the {aspect} was {adj}.", PLACES),
                   ("The {work} is set in {value} and the {aspect} is {adj}.", PLACES),
                   ("Shot in {value}, the {work} is {adj}.", PLACES))
CASE_CHANGES = (str.lower, str.upper, str.title)
PUNCTUATION_CHANGES = (lambda t: t[:-1] + "!", lambda t: t[:-1] + "...", lambda t: t[:-1], lambda t: t[:-1] + "!!!",
                       lambda t: t.replace(",", ""))


def with_article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def opposite(polarity: str) -> str:
    return NEGATIVE if polarity == POSITIVE else POSITIVE


def adjective(rng: random.Random, polarity: str, gradable: bool = False) -> str:
    if gradable:
        return rng.choice(GRADABLE_POSITIVE if polarity == POSITIVE else GRADABLE_NEGATIVE)
    return rng.choice(POSITIVE_ADJECTIVES if polarity == POSITIVE else NEGATIVE_ADJECTIVES)


def slots(rng: random.Random) -> dict[str, str]:
    """One draw of every slot a template may name (each template uses some of them)."""
    aspect, other = rng.sample(ASPECTS, 2)
    pos, neg = adjective(rng, POSITIVE), adjective(rng, NEGATIVE)
    adj, adj2 = adjective(rng, rng.choice((POSITIVE, NEGATIVE))), adjective(rng, rng.choice((POSITIVE, NEGATIVE)))
    return {"aspect": aspect, "other": other, "work": rng.choice(WORKS), "thing": rng.choice(ASPECTS + WORKS),
            "pos": pos, "neg": neg, "a_pos": with_article(pos), "a_neg": with_article(neg), "adj": adj, "adj2": adj2,
            "a_adj": with_article(adj)}


def render(template: str, values: dict[str, str]) -> str:
    text = template.format(**values)
    return text[0].upper() + text[1:]


def fill(rng: random.Random, templates: tuple[str, ...], **fixed: str) -> str:
    """One of ``templates`` filled with a fresh draw of :func:`slots`, except the ``fixed`` ones."""
    return render(rng.choice(templates), slots(rng) | fixed)


# -- generators: one case from a random draw --------------------------------------------------------------
def negated_positive(rng: random.Random) -> Case:
    return Case(fill(rng, NEGATED_POSITIVE), expect=NEGATIVE)


def negated_negative(rng: random.Random) -> Case:
    return Case(fill(rng, NEGATED_NEGATIVE), not_label=NEGATIVE)


def distant_negation(rng: random.Random) -> Case:
    polarity = rng.choice((POSITIVE, NEGATIVE))
    text = fill(rng, DISTANT_NEGATION, adj=adjective(rng, polarity))
    return Case(text, expect=NEGATIVE) if polarity == POSITIVE else Case(text, not_label=NEGATIVE)


def contrast(templates: tuple[str, ...]) -> Callable[[random.Random], Case]:
    """Cases whose deciding clause ({second}) has the opposite polarity of the other one."""
    def make(rng: random.Random) -> Case:
        verdict = rng.choice((POSITIVE, NEGATIVE))
        verbs = {POSITIVE: POSITIVE_VERBS, NEGATIVE: NEGATIVE_VERBS}
        text = fill(rng, templates, first=adjective(rng, opposite(verdict)), second=adjective(rng, verdict),
                    first_verb=rng.choice(verbs[opposite(verdict)])[0], second_verb=rng.choice(verbs[verdict])[1])
        return Case(text, expect=verdict)
    return make


def graded(modifiers: tuple[str, ...], diminish: bool) -> Callable[[random.Random], Case]:
    """A modified adjective against the plain one: intensifiers raise P(the adjective's polarity);
    diminishers never raise it and never change the label."""
    def make(rng: random.Random) -> Case:
        polarity = rng.choice((POSITIVE, NEGATIVE))
        template, adj = rng.choice(GRADED), adjective(rng, polarity, gradable=True)
        plain = fill(rng, (template,), adj=adj)
        modified = plain.replace(f" {adj}.", f" {rng.choice(modifiers)} {adj}.")
        if diminish:
            return Case(modified, reference=plain, falls=polarity, same_label=True)
        return Case(modified, reference=plain, rises=polarity)
    return make


def review_sentence(rng: random.Random) -> str:
    """A short review of either polarity, mixed or neutral: the base of invariance and direction cases."""
    if rng.random() < 0.15:
        return rng.choice(NEUTRAL_SENTENCES)
    return fill(rng, REVIEW_SENTENCES)


def swapped(templates: tuple[tuple[str, tuple[str, ...]], ...]) -> Callable[[random.Random], Case]:
    """The same sentence with another name, title, number or place: same label."""
    def make(rng: random.Random) -> Case:
        template, values = rng.choice(templates)
        first, second = rng.sample(values, 2)
        draw = slots(rng)
        original, changed = (render(template, draw | {"value": value}) for value in (first, second))
        return Case(changed, reference=original, same_label=True)
    return make


def changed(changes: tuple[Callable[[str], str], ...]) -> Callable[[random.Random], Case]:
    """A review sentence with its case or punctuation changed: same label."""
    def make(rng: random.Random) -> Case:
        original = review_sentence(rng)
        return Case(rng.choice(changes)(original), reference=original, same_label=True)
    return make


def with_neutral_sentence(rng: random.Random) -> Case:
    original, neutral = review_sentence(rng), rng.choice(NEUTRAL_SENTENCES)
    text = f"{neutral} {original}" if rng.random() < 0.5 else f"{original} {neutral}"
    return Case(text, reference=original, same_label=True)


def added(sentence: str, polarity: str) -> Callable[[random.Random], Case]:
    """A review sentence with ``sentence`` appended: P(positive) must not fall (or rise, for hate)."""
    def make(rng: random.Random) -> Case:
        original = review_sentence(rng)
        if polarity == POSITIVE:
            return Case(f"{original} {sentence}", reference=original, rises=POSITIVE)
        return Case(f"{original} {sentence}", reference=original, falls=POSITIVE)
    return make


BUILTIN_TESTS: dict[str, Callable[[random.Random], Case]] = {
    "negation: negated positive": negated_positive,
    "negation: negated negative": negated_negative,
    "negation: at a distance": distant_negation,
    "contrast: X but Y": contrast(BUT),
    "contrast: although X, Y": contrast(ALTHOUGH),
    "intensity: intensifiers": graded(INTENSIFIERS, diminish=False),
    "intensity: diminishers": graded(DIMINISHERS, diminish=True),
    "invariance: names": swapped(NAME_TEMPLATES),
    "invariance: titles": swapped(TITLE_TEMPLATES),
    "invariance: numbers": swapped(NUMBER_TEMPLATES),
    "invariance: places": swapped(PLACE_TEMPLATES),
    "invariance: case": changed(CASE_CHANGES),
    "invariance: punctuation": changed(PUNCTUATION_CHANGES),
    "invariance: neutral sentence": with_neutral_sentence,
    "direction: adding 'I loved it.'": added("I loved it.", POSITIVE),
    "direction: adding 'I hated it.'": added("I hated it.", NEGATIVE),
}


def draw_cases(name: str, make: Callable[[random.Random], Case], seed: int, count: int) -> list[Case]:
    """Up to ``count`` cases of one test, no text twice; the generator is seeded by ``seed`` and the
    test's name, so one test's cases do not depend on the others."""
    rng = random.Random(f"{seed}:{name}")
    seen: set[str] = set()
    cases: list[Case] = []
    for _ in range(count * ATTEMPTS_PER_CASE):
        if len(cases) == count:
            break
        case = make(rng)
        if case.text not in seen and case.text != case.reference:
            seen.add(case.text)
            cases.append(replace(case, test=name))
    return cases


def builtin_suite(seed: int = 0, cases_per_test: int = CASES_PER_TEST) -> list[Case]:
    """The built-in suite: up to ``cases_per_test`` cases for each test of :data:`BUILTIN_TESTS`."""
    return [case for name, make in BUILTIN_TESTS.items() for case in draw_cases(name, make, seed, cases_per_test)]


def describe_builtin_suite(seed: int = 0, cases_per_test: int = CASES_PER_TEST) -> dict:
    """Word-list sizes and cases per test (the figures docs/ROBUSTNESS.md quotes)."""
    cases = builtin_suite(seed, cases_per_test)
    tests = {name: sum(case.test == name for case in cases) for name in BUILTIN_TESTS}
    return {"word_lists": {name: len(words) for name, words in WORD_LISTS.items()}, "cases_per_test": tests,
            "cases": len(cases)}

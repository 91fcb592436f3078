"""The built-in suite of ``polarity check``: what each generator's cases say, read from the cases a
user gets (``builtin_suite``, ``describe_builtin_suite``) against the word lists docs/ROBUSTNESS.md
describes."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from polarity.inference.check import check
from polarity.inference.checklist import (
    BUILTIN_TESTS,
    CASES_PER_TEST,
    DIMINISHERS,
    GRADABLE_NEGATIVE,
    GRADABLE_POSITIVE,
    INTENSIFIERS,
    MINUTES,
    NAMES,
    NEGATIVE,
    NEGATIVE_ADJECTIVES,
    NEGATIVE_VERBS,
    NEUTRAL_SENTENCES,
    PLACES,
    POSITIVE,
    POSITIVE_ADJECTIVES,
    POSITIVE_VERBS,
    TITLES,
    YEARS,
    builtin_suite,
    describe_builtin_suite,
)

ADJECTIVES = {word: POSITIVE for word in POSITIVE_ADJECTIVES} | {word: NEGATIVE for word in NEGATIVE_ADJECTIVES}
VERBS = {form: POSITIVE for pair in POSITIVE_VERBS for form in pair} | {
    form: NEGATIVE for pair in NEGATIVE_VERBS for form in pair}
BASE_FORMS, PAST_FORMS = {pair[0] for pair in POSITIVE_VERBS + NEGATIVE_VERBS}, {
    pair[1] for pair in POSITIVE_VERBS + NEGATIVE_VERBS}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def polarities(text: str) -> list[str]:
    """The polarity of each polar adjective or verb of ``text``, in order."""
    return [(ADJECTIVES | VERBS)[word] for word in words(text) if word in ADJECTIVES or word in VERBS]


@pytest.fixture(scope="module")
def suite() -> dict[str, list]:
    """The seed-0 suite, by test; every test has its 100 cases."""
    grouped: dict[str, list] = {}
    for case in builtin_suite(0):
        grouped.setdefault(case.test, []).append(case)
    assert {name: len(cases) for name, cases in grouped.items()} == dict.fromkeys(BUILTIN_TESTS, CASES_PER_TEST)
    return grouped


def test_negation_cases_negate_an_adjective_of_the_polarity_they_name(suite):
    for case in suite["negation: negated positive"]:
        assert polarities(case.text) == [POSITIVE] and case.expect == NEGATIVE and case.not_label is None, case
    for case in suite["negation: negated negative"]:
        assert case.not_label == NEGATIVE and case.expect is None, case
        found = polarities(case.text)
        if "worst" in words(case.text):
            assert found == [], case
        else:  # "Never boring, always charming.": the only positive word is the one not negated
            assert found == ([NEGATIVE, POSITIVE] if "always" in words(case.text) else [NEGATIVE]), case
    kinds = []
    for case in suite["negation: at a distance"]:
        (polarity,) = polarities(case.text)
        kinds.append(polarity)
        if polarity == POSITIVE:  # "I don't think this film was good.": negative
            assert (case.expect, case.not_label) == (NEGATIVE, None), case
        else:  # "I can't say the acting was bad.": anything but negative
            assert (case.expect, case.not_label) == (None, NEGATIVE), case
    assert min(kinds.count(POSITIVE), kinds.count(NEGATIVE)) >= 30, kinds


def clauses(text: str) -> tuple[str, str]:
    """(the clause that does not decide, the one that does) of a contrast case."""
    if " but " in text:
        first, second = text.split(" but ", 1)
    elif text.startswith("Although "):
        first, second = text.split(", ", 1)
    else:
        second, first = text.split(", although ", 1)
    return first, second


def test_contrast_cases_expect_the_label_of_the_deciding_clause_and_oppose_the_other(suite):
    for name in ("contrast: X but Y", "contrast: although X, Y"):
        verdicts, verb_cases = [], 0
        for case in suite[name]:
            first, second = clauses(case.text)
            assert case.expect in (POSITIVE, NEGATIVE) and case.not_label is None and case.reference is None, case
            other = NEGATIVE if case.expect == POSITIVE else POSITIVE
            assert (polarities(first), polarities(second)) == ([other], [case.expect]), case
            verb = re.search(r"\bto (\w+) it,?$", first)
            if verb:  # "I expected to love it, but I hated it."
                verb_cases += 1
                assert verb.group(1) in BASE_FORMS and re.fullmatch(r"I (\w+) it\.", second).group(1) in PAST_FORMS, case
            verdicts.append(case.expect)
        assert min(verdicts.count(POSITIVE), verdicts.count(NEGATIVE)) >= 25, (name, verdicts)
        assert verb_cases >= 5, name


@pytest.mark.parametrize("name, modifiers, diminish", [("intensity: intensifiers", INTENSIFIERS, False),
                                                        ("intensity: diminishers", DIMINISHERS, True)])
def test_intensity_cases_modify_a_gradable_adjective_against_the_plain_sentence(suite, name, modifiers, diminish):
    seen = set()
    for case in suite[name]:
        adjective = case.reference.rstrip(".").split()[-1]
        assert adjective in GRADABLE_POSITIVE + GRADABLE_NEGATIVE, case  # "very good", never "very superb"
        polarity = POSITIVE if adjective in GRADABLE_POSITIVE else NEGATIVE
        assert polarities(case.reference) == [polarity], case
        head = case.reference[:-len(adjective) - 1]
        assert case.text in {f"{head}{modifier} {adjective}." for modifier in modifiers}, case
        assert case.expect is None and case.not_label is None, case
        if diminish:  # P(polarity) must not rise, and the label stays
            assert (case.falls, case.rises, case.same_label) == (polarity, None, True), case
        else:  # P(polarity) must not fall
            assert (case.rises, case.falls, case.same_label) == (polarity, None, False), case
        seen.add(polarity)
    assert seen == {POSITIVE, NEGATIVE}


@pytest.mark.parametrize("name, lists", [("invariance: names", [NAMES]), ("invariance: titles", [TITLES]),
                                         ("invariance: numbers", [YEARS, MINUTES]), ("invariance: places", [PLACES])])
def test_swap_cases_change_one_value_for_another_of_its_list(suite, name, lists):
    for case in suite[name]:
        before, after = case.reference.split(), case.text.split()
        changed = [(old.strip(",."), new.strip(",.")) for old, new in zip(before, after) if old != new]
        assert len(before) == len(after) and len(changed) == 1, case
        (old, new), = changed
        assert any(old in values and new in values for values in lists) and old != new, case
        assert len(polarities(case.text)) == 1, case  # "... and the acting was good."
        assert (case.same_label, case.expect, case.not_label, case.rises, case.falls) == (True, None, None, None, None)


def test_case_and_punctuation_cases_change_only_that(suite):
    used = set()
    for case in suite["invariance: case"]:
        changes = {"lower": case.reference.lower(), "upper": case.reference.upper(), "title": case.reference.title()}
        used |= {change for change, text in changes.items() if text == case.text}
        assert case.text in changes.values() and case.same_label is True and case.rises is case.falls is None, case
    assert used == {"lower", "upper", "title"}
    used = set()
    for case in suite["invariance: punctuation"]:
        stem = case.reference[:-1]
        changes = {"!": stem + "!", "...": stem + "...", "none": stem, "!!!": stem + "!!!",
                   "no commas": case.reference.replace(",", "")}
        used |= {change for change, text in changes.items() if text == case.text}
        assert case.text in changes.values() and case.same_label is True and case.rises is case.falls is None, case
    assert used == {"!", "...", "none", "!!!", "no commas"}


def test_a_neutral_sentence_goes_before_or_after_the_review(suite):
    places = []
    for case in suite["invariance: neutral sentence"]:
        if any(case.text == f"{neutral} {case.reference}" for neutral in NEUTRAL_SENTENCES):
            places.append("before")
        else:
            assert any(case.text == f"{case.reference} {neutral}" for neutral in NEUTRAL_SENTENCES), case
            places.append("after")
        assert case.same_label is True and case.rises is case.falls is None, case
    assert min(places.count("before"), places.count("after")) >= 30, places


def test_direction_cases_append_the_sentence_and_expect_its_way(suite):
    for case in suite["direction: adding 'I loved it.'"]:
        assert case.text == f"{case.reference} I loved it." and (case.rises, case.falls) == (POSITIVE, None), case
    for case in suite["direction: adding 'I hated it.'"]:
        assert case.text == f"{case.reference} I hated it." and (case.rises, case.falls) == (None, POSITIVE), case
    for name in ("direction: adding 'I loved it.'", "direction: adding 'I hated it.'"):
        assert all(not case.same_label and case.expect is case.not_label is None for case in suite[name])


def test_the_review_sentences_are_of_both_polarities_mixed_or_neutral(suite):
    """The references of the case, punctuation, neutral-sentence and direction tests."""
    references = [case.reference for name in ("invariance: case", "invariance: punctuation",
                                               "invariance: neutral sentence", "direction: adding 'I loved it.'",
                                               "direction: adding 'I hated it.'") for case in suite[name]]
    kinds = {tuple(polarities(text)) for text in references}
    assert kinds == {(), (POSITIVE,), (NEGATIVE,), (POSITIVE, POSITIVE), (POSITIVE, NEGATIVE),
                     (NEGATIVE, POSITIVE), (NEGATIVE, NEGATIVE)}
    assert 0.05 < sum(text in NEUTRAL_SENTENCES for text in references) / len(references) < 0.3


def test_the_suite_uses_every_adjective_of_its_lists():
    used = {word for case in builtin_suite(0) for word in words(case.text)}
    assert set(POSITIVE_ADJECTIVES + NEGATIVE_ADJECTIVES) <= used


def test_articles_agree_with_the_next_word(suite):
    """"an excellent film", "a good film", and "a" in lower case inside a sentence."""
    for name, cases in suite.items():
        if name == "invariance: case":
            continue
        for text in {case.text for case in cases} | {case.reference for case in cases if case.reference}:
            tokens = text.split()
            for i, (token, following) in enumerate(itertools.pairwise(tokens)):
                if token.lower() in ("a", "an"):
                    starts = i == 0 or tokens[i - 1].endswith((".", "!"))
                    assert token == (token.capitalize() if starts else token.lower()), text
                    assert token.lower() == ("an" if following[0] in "aeiou" else "a"), text


class Recorder:
    """A two-label model that answers 0.5 for everything and keeps the texts it was asked about."""

    def __init__(self):
        self.labels, self.texts = ["negative", "positive"], set()

    def predict_proba(self, texts):
        self.texts = set(texts)
        return np.full((len(texts), 2), 0.5)


def test_the_default_suite_is_the_one_check_runs_by_default():
    model = Recorder()
    assert check(model).cases == len(BUILTIN_TESTS) * CASES_PER_TEST
    cases = builtin_suite()
    assert model.texts == {case.text for case in cases} | {case.reference for case in cases if case.reference}
    assert len(model.texts) == 2489  # the figure docs/ROBUSTNESS.md quotes (seed 0)


def test_describe_builtin_suite_gives_the_word_lists_and_the_cases_of_each_test():
    word_lists = {"positive adjectives": 16, "negative adjectives": 16, "gradable positive adjectives": 9,
                  "gradable negative adjectives": 9, "aspects (plot, acting...)": 10, "works (film, movie)": 2,
                  "positive verbs": 3, "negative verbs": 2, "intensifiers": 6, "diminishers": 6, "names": 12,
                  "titles": 10, "years": 6, "running times": 6, "places": 10, "neutral sentences": 10}
    assert describe_builtin_suite() == {"word_lists": word_lists, "cases_per_test": dict.fromkeys(BUILTIN_TESTS, 100),
                                        "cases": 1600}
    assert describe_builtin_suite(3, 7) == {"word_lists": word_lists, "cases_per_test": dict.fromkeys(BUILTIN_TESTS, 7),
                                            "cases": 112}

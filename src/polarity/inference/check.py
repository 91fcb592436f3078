"""Behavioural checks of a model folder: ``polarity check`` and :func:`check`.

Runs the built-in suite (:mod:`polarity.inference.checklist`: negation, contrast, intensity,
invariance, direction) or a JSONL file of your own cases, and reports per test the cases run, the
failures, the failure rate and a few failing examples.

>>> from polarity.inference import check                               # doctest: +SKIP
>>> report = check("runs/default")                                     # doctest: +SKIP
>>> {t.name: round(t.failure_rate, 2) for t in report.tests}           # doctest: +SKIP

``from polarity.inference import check`` gives this function (with ``Case``, ``CheckReport``,
``builtin_suite`` and ``read_suite``); the module's other names (``format_report``, ``CheckResult``,
``CaseResult``) come from ``polarity.inference.check``. (The package attribute
``polarity.inference.check`` is the function: ``import polarity.inference.check as module`` gives
the function too; ``from polarity.inference.check import format_report`` reads the module.)
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polarity.data.labelled import is_polarity_pair, normalise_label, polarity_of
from polarity.data.tables import iter_jsonl
from polarity.errors import ConfigError, DataError
from polarity.files import json_text
from polarity.inference.checklist import (
    CASES_PER_TEST,
    USER_TEST,
    Case,
    builtin_suite,
    describe_builtin_suite,
)
from polarity.inference.predictor import Predictor, decide
from polarity.settings import integer, number, positive_int

TOLERANCE = 0.01  # direction cases: how far a probability may move the wrong way before the case fails
EXAMPLES = 3
SUITE_KEYS = ("text", "expect", "not", "same_as", "test")
EXPECTATION_KEYS = ("expect", "not", "same_as")
SUITE_EXAMPLE = '{"text": "Not bad at all.", "not": "negative"}'

__all__ = ["CASES_PER_TEST", "TOLERANCE", "Case", "CaseResult", "CheckReport", "CheckResult", "builtin_suite",
           "check", "describe_builtin_suite", "format_report", "read_suite"]


# -- results ----------------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    """One case as the model answered it: what was expected, the label it got, its probabilities
    (and the reference text's, for invariance and direction cases)."""

    text: str
    passed: bool
    expected: str
    got: str | int
    probabilities: dict[str, float]
    reference: str | None = None
    reference_probabilities: dict[str, float] | None = None

    @property
    def change(self) -> float | None:
        """The largest change of a label's probability from the reference (|ΔP(positive)| for two labels)."""
        if self.reference_probabilities is None:
            return None
        return max(abs(p - self.reference_probabilities[k]) for k, p in self.probabilities.items())

    def to_dict(self) -> dict:
        data = {"text": self.text, "expected": self.expected, "got": self.got, "probabilities": self.probabilities}
        if self.reference is not None:
            data |= {"reference": self.reference, "reference_probabilities": self.reference_probabilities}
        return data


@dataclass
class CheckResult:
    """One test: how many cases, how many failed, a few failing examples, and for tests that compare
    two texts the mean change of the score between them."""

    name: str
    kind: str
    cases: int
    failures: int
    examples: list[CaseResult] = field(default_factory=list)
    mean_abs_change: float | None = None
    directions: int = 0  # direction cases among them (the tolerance applies to those)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.cases if self.cases else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "cases": self.cases, "failures": self.failures,
                "failure_rate": self.failure_rate, "mean_abs_change": self.mean_abs_change,
                "examples": [example.to_dict() for example in self.examples]}


@dataclass
class CheckReport:
    """Every test's result, in suite order, with what was checked and how."""

    model: str
    labels: list
    suite: str
    seed: int | None
    tolerance: float
    tests: list[CheckResult]

    @property
    def cases(self) -> int:
        return sum(test.cases for test in self.tests)

    @property
    def failures(self) -> int:
        return sum(test.failures for test in self.tests)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.cases if self.cases else 0.0

    def above(self, rate: float) -> list[CheckResult]:
        """The tests whose failure rate exceeds ``rate`` (what ``--fail-above`` gates on)."""
        return [test for test in self.tests if test.failure_rate > rate]

    def to_dict(self) -> dict:
        return {"model": self.model, "labels": self.labels, "suite": self.suite, "seed": self.seed,
                "tolerance": self.tolerance, "cases": self.cases, "failures": self.failures,
                "failure_rate": self.failure_rate, "tests": [test.to_dict() for test in self.tests]}


# -- labels -----------------------------------------------------------------------------------------------
def label_index(value, labels: Sequence, where: str) -> int:
    """The index of ``value`` among ``labels``; on a negative/positive pair any polarity spelling
    (neg, 0, ...) works. Otherwise a :class:`DataError` naming ``where``."""
    for index, label in enumerate(labels):
        if label == value or str(label) == str(value):
            return index
    if is_polarity_pair(labels) and polarity_of(value) is not None:
        return polarity_of(value)
    names = ", ".join(map(str, labels))
    raise DataError(f"{where}: {value!r} is not a label of this model ({names})")


def require_polarity_pair(labels: Sequence) -> None:
    """The built-in suite speaks of negative and positive: it needs a two-label sentiment model."""
    names = ", ".join(map(str, labels))
    if len(labels) != 2:
        raise ConfigError(f"the built-in suite is for two-label models; this one has {len(labels)} ({names}): "
                          "give --suite FILE with your own cases (suite= in Python)")
    if not is_polarity_pair(labels):
        raise ConfigError(f"the built-in suite needs a negative/positive pair of labels (negative/positive, "
                          f"neg/pos, 0/1...), this model has {names}: give --suite FILE with your own cases")


# -- reading a suite --------------------------------------------------------------------------------------
def read_suite(path: str | os.PathLike) -> list[Case]:
    """The cases of a JSONL file, one JSON object per line: ``text``, then ``expect`` (a label),
    ``not`` (a label it must not get) or ``same_as`` (a text whose label it must get), and
    optionally ``test`` (a group name). A bad line raises a one-line :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {'is a folder' if path.is_dir() else 'no such file'}; give a JSONL file of cases")
    try:
        cases = [case_from_row(row, f"{path}, line {number}") for number, row in iter_jsonl(path, SUITE_EXAMPLE)]
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if not cases:
        raise DataError(f"{path}: no cases; write one JSON object per line, e.g. {SUITE_EXAMPLE}")
    return cases


def case_from_row(row: dict, where: str) -> Case:
    """One checked case from a JSONL object."""
    for key in row:
        if key not in SUITE_KEYS:
            close = difflib.get_close_matches(str(key), SUITE_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; a case has {', '.join(SUITE_KEYS)}"
            raise DataError(f"{where}: unknown key {key!r}{hint}")
    text = suite_text(row, "text", where)
    test = suite_text(row, "test", where) if "test" in row else USER_TEST
    given = [key for key in EXPECTATION_KEYS if key in row]
    if len(given) != 1:
        found = "got " + " and ".join(f'"{key}"' for key in given) if given else "got none"
        raise DataError(f'{where}: give one of "expect" (a label), "not" (a label) or "same_as" (a text), {found}')
    key = given[0]
    if key == "same_as":
        reference = suite_text(row, "same_as", where)
        if reference == text:
            raise DataError(f'{where}: "same_as" is the text itself; give another text')
        return Case(text, test, reference=reference, same_label=True, where=where)
    label = normalise_label(row[key], f'{where}: "{key}"')
    if key == "expect":
        return Case(text, test, expect=label, where=where)
    return Case(text, test, not_label=label, where=where)


def suite_text(row: dict, key: str, where: str) -> str:
    if key not in row:
        raise DataError(f'{where}: no "{key}"; e.g. {SUITE_EXAMPLE}')
    value = row[key]
    if not isinstance(value, str):
        raise DataError(f'{where}: "{key}" must be a string, got {type(value).__name__}')
    if not value.strip():
        raise DataError(f'{where}: "{key}" is empty')
    return value


# -- checking ---------------------------------------------------------------------------------------------
def check(predictor, suite: Sequence[Case] | str | os.PathLike | None = None, *, seed: int = 0,
          cases_per_test: int = CASES_PER_TEST, examples: int = EXAMPLES, tolerance: float = TOLERANCE) -> CheckReport:
    """Run behavioural tests on ``predictor`` (a :class:`~polarity.inference.Predictor` or a model
    folder): the built-in suite drawn with ``seed`` when ``suite`` is None, else ``suite`` (a JSONL
    path or a list of :class:`Case`). All texts go to the model in one ``predict_proba`` call."""
    integer(0, "a whole number of at least 0")("examples", examples)
    number("a number from 0 to below 1", lambda v: 0 <= v < 1)("tolerance", tolerance)
    if isinstance(predictor, (str, os.PathLike)):
        model, predictor = str(predictor), Predictor.load(predictor)
    else:
        model = str(getattr(predictor, "name", "model"))
    labels = list(predictor.labels)
    cases, name = suite_cases(suite, labels, seed, cases_per_test)
    resolved = [resolve(case, labels, case.where or f"case {i}") for i, case in enumerate(cases, 1)]
    texts = list(dict.fromkeys(t for case in cases for t in (case.text, case.reference) if t is not None))
    probs = np.asarray(predictor.predict_proba(texts), dtype=np.float64)
    rows = dict(zip(texts, zip(probs, decide(probs, labels).tolist())))  # the Predictor's decision rule
    results = [judge(case, rows, labels, tolerance) for case in resolved]
    tests = summarise(cases, results, examples)
    return CheckReport(model, labels, name, seed if suite is None else None, tolerance, tests)


def suite_cases(suite, labels: list, seed: int, cases_per_test: int) -> tuple[list[Case], str]:
    """The cases to run and how to name the suite in the report."""
    if suite is None:
        require_polarity_pair(labels)
        positive_int("cases_per_test", cases_per_test)
        return builtin_suite(seed, cases_per_test), "built-in"
    if isinstance(suite, (str, os.PathLike)):
        return read_suite(suite), str(suite)
    cases = list(suite)
    if not cases or not all(isinstance(case, Case) for case in cases):
        raise DataError("suite must be a JSONL path or a non-empty list of Case")
    return cases, "given"


def resolve(case: Case, labels: list, where: str) -> Case:
    """``case`` with its label names replaced by indices into ``labels``. With two labels, a rule on
    the first label's probability becomes the opposite rule on the second's (P(negative) rises: P(positive)
    falls), so that every rule and report speaks of one score."""
    def index(value):
        return None if value is None else label_index(value, labels, where)

    compares = case.same_label or case.rises is not None or case.falls is not None
    if compares != (case.reference is not None):
        raise DataError(f"{where}: a reference text goes with same_label, rises or falls, and they need one")
    if not compares and case.expect is None and case.not_label is None:
        raise DataError(f"{where}: the case checks nothing; give expect, not_label or a reference")
    rises, falls = index(case.rises), index(case.falls)
    if len(labels) == 2 and 0 in (rises, falls):
        rises, falls = (1 if falls == 0 else None), (1 if rises == 0 else None)
    return Case(case.text, case.test, index(case.expect), index(case.not_label), case.reference, case.same_label,
                rises, falls, where)


def judge(case: Case, rows: dict[str, tuple[np.ndarray, int]], labels: list, tolerance: float) -> CaseResult:
    """Whether the model did what ``case`` (labels as indices) asks, and what it did (``rows``: each
    text's probabilities and decided label)."""
    p, got = rows[case.text]
    ref, ref_got = rows[case.reference] if case.reference is not None else (None, None)
    checks: list[tuple[bool, str]] = []
    if case.expect is not None:
        checks.append((got == case.expect, str(labels[case.expect])))
    if case.not_label is not None:
        checks.append((got != case.not_label, f"not {labels[case.not_label]}"))
    if case.rises is not None:
        checks.append((p[case.rises] >= ref[case.rises] - tolerance, f"P({labels[case.rises]}) >= {ref[case.rises]:.3f}"))
    if case.falls is not None:
        checks.append((p[case.falls] <= ref[case.falls] + tolerance, f"P({labels[case.falls]}) <= {ref[case.falls]:.3f}"))
    if case.same_label:
        checks.append((got == ref_got, f"{labels[ref_got]} (as the reference)"))
    names = [str(label) for label in labels]
    return CaseResult(case.text, all(ok for ok, _ in checks), " and ".join(text for _, text in checks), labels[got],
                      dict(zip(names, map(float, p))), case.reference,
                      None if ref is None else dict(zip(names, map(float, ref))))


def summarise(cases: list[Case], results: list[CaseResult], examples: int) -> list[CheckResult]:
    """One :class:`CheckResult` per test name, in the order the tests first appear."""
    groups: dict[str, list[tuple[Case, CaseResult]]] = {}
    for case, result in zip(cases, results):
        groups.setdefault(case.test, []).append((case, result))
    tests = []
    for name, members in groups.items():
        kinds = {case.kind for case, _ in members}
        failed = [result for _, result in members if not result.passed]
        changes = [result.change for _, result in members if result.change is not None]
        directions = sum(case.kind == "direction" for case, _ in members)
        tests.append(CheckResult(name, kinds.pop() if len(kinds) == 1 else "mixed", len(members), len(failed),
                                 failed[:examples], float(np.mean(changes)) if changes else None, directions))
    return tests


# -- text report ------------------------------------------------------------------------------------------
def format_report(report: CheckReport) -> str:
    """The report as the terminal shows it: a row per test, its failing examples under it, a total."""
    score = score_name(report.labels)
    lines = [f"{report.model} (labels {', '.join(map(str, report.labels))}): {suite_name(report)}, "
             f"{len(report.tests)} test{'s' * (len(report.tests) != 1)}, {report.cases:,} cases"]
    legend = [f"mean |dP|: mean change of {score} from the reference text"] * any(
        test.mean_abs_change is not None for test in report.tests)
    legend += [f"direction cases may move {report.tolerance:g} the wrong way"] * any(
        test.directions for test in report.tests)
    lines += ["; ".join(legend)] * bool(legend)
    lines.append(f"{'test':<36}{'kind':<12}{'cases':>6}{'failed':>8}{'rate':>9}{'mean |dP|':>11}")
    for test in report.tests:
        change = f"{test.mean_abs_change:11.3f}" if test.mean_abs_change is not None else ""
        lines.append(f"{shorten(test.name, 35):<36}{test.kind:<12}{test.cases:>6,}{test.failures:>8,}"
                     f"{100 * test.failure_rate:>7.1f} %{change}")
        lines += [f"    {describe(example, report.labels)}" for example in test.examples]
    lines.append(f"overall: {report.failures:,} of {report.cases:,} cases failed ({100 * report.failure_rate:.1f} %)")
    return "\n".join(lines)


def suite_name(report: CheckReport) -> str:
    if report.suite == "built-in":
        return f"the built-in suite (seed {report.seed})"
    return "the given cases" if report.suite == "given" else f"the suite {report.suite}"


def score_name(labels: list) -> str:
    return f"P({labels[1]})" if len(labels) == 2 else "the probability that changed most"


def describe(result: CaseResult, labels: list) -> str:
    """A failing case on one line: text, expected, got (with the probability), and the reference."""
    def score(probabilities: dict[str, float], label) -> str:
        shown = labels[1] if len(labels) == 2 else label
        return f"P({shown}) {probabilities[str(shown)]:.3f}"

    line = f"{json_text(shorten(result.text, 70))}: expected {result.expected}, got {result.got} " \
           f"({score(result.probabilities, result.got)})"
    if result.reference is not None:
        ref_label = max(result.reference_probabilities, key=result.reference_probabilities.get)
        line += f"; reference {json_text(shorten(result.reference, 50))} " \
                f"({score(result.reference_probabilities, ref_label)})"
    return line


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


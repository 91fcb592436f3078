"""polarity check: the built-in suite's generators, the scoring rules (proved on word-list models),
the JSONL reader's errors, the command line, and models of other label sets."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polarity.cli import main
from polarity.errors import ConfigError, DataError
from polarity.inference import checklist
from polarity.inference.check import Case, check, format_report, read_suite
from polarity.inference.checklist import BUILTIN_TESTS, CASES_PER_TEST, builtin_suite, describe_builtin_suite


# -- the built-in suite ---------------------------------------------------------------------------------
def texts_by_test(cases: list[Case]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for case in cases:
        grouped.setdefault(case.test, []).append(case.text)
    return grouped


def test_the_suite_is_seeded():
    assert builtin_suite(0) == builtin_suite(0)
    first, other = texts_by_test(builtin_suite(0)), texts_by_test(builtin_suite(1))
    for name in BUILTIN_TESTS:
        assert set(first[name]) != set(other[name]), f"{name}: seeds 0 and 1 drew the same cases"


def test_every_builtin_test_is_there_with_its_cases():
    grouped = texts_by_test(builtin_suite(0))
    assert list(grouped) == list(BUILTIN_TESTS)
    assert {name: len(texts) for name, texts in grouped.items()} == dict.fromkeys(BUILTIN_TESTS, CASES_PER_TEST)
    summary = describe_builtin_suite()
    assert summary["cases"] == len(BUILTIN_TESTS) * CASES_PER_TEST
    assert summary["word_lists"]["positive adjectives"] == len(checklist.POSITIVE_ADJECTIVES)
    kinds = {case.test.split(":")[0]: case.kind for case in builtin_suite(0, 3)}
    assert kinds == {"negation": "label", "contrast": "label", "intensity": "direction", "invariance": "invariance",
                     "direction": "direction"}


@settings(max_examples=25)
@given(seed=st.integers(min_value=0, max_value=2**32), per_test=st.integers(min_value=1, max_value=60))
def test_no_test_repeats_a_text_for_any_seed(seed, per_test):
    for name, texts in texts_by_test(builtin_suite(seed, per_test)).items():
        assert len(texts) == per_test, name
        assert len(set(texts)) == len(texts), f"{name}: {[t for t, n in Counter(texts).items() if n > 1]}"


def test_templates_read_as_sentences():
    for case in builtin_suite(0):
        assert "{" not in case.text and "  " not in case.text and case.text == case.text.strip()
        if case.test not in ("invariance: case", "invariance: punctuation"):
            assert case.text[0].isupper() and case.text[-1] == ".", case
        assert not re.search(r"\ba [aeiou]", case.text.lower()), case  # "an excellent", not "a excellent"
        assert case.reference != case.text


def test_contrast_cases_expect_the_deciding_clause():
    adjectives = {word: checklist.POSITIVE for word in checklist.POSITIVE_ADJECTIVES} | {
        word: checklist.NEGATIVE for word in checklist.NEGATIVE_ADJECTIVES}
    for case in builtin_suite(0):
        if case.test == "contrast: X but Y" and "expected to" not in case.text:
            last_word = case.text.rstrip(".").split()[-1]
            assert adjectives[last_word] == case.expect, case


# -- scoring, proved on word-list models -------------------------------------------------------------------
POLAR = ({w: 1.0 for w in checklist.POSITIVE_ADJECTIVES + ("love", "loved", "like", "liked", "enjoy", "enjoyed")}
         | {w: -1.0 for w in checklist.NEGATIVE_ADJECTIVES + ("hate", "hated", "dislike", "disliked", "worst")})
NEGATORS = {"not", "never", "no", "nobody"}
STRONGER = {"very", "really", "extremely", "incredibly", "truly", "so"}
WEAKER = {"somewhat", "fairly", "mildly", "of", "little", "bit"}  # "kind of", "a little", "a bit"


class WordListModel:
    """A sentiment model made of a word list: P(positive) = sigmoid(2 * sum of word scores). Options
    make it read negation (a negator flips the next polar word of its clause), contrast (only the
    clause after "but", or the main clause beside "although", counts), and modifiers (x ``stronger``
    after an intensifier, x ``weaker`` after a diminisher)."""

    labels = ["negative", "positive"]

    def __init__(self, negation=False, contrast=False, stronger=2.0, weaker=0.5, extra=None):
        self.negation, self.contrast, self.stronger, self.weaker = negation, contrast, stronger, weaker
        self.words = POLAR | (extra or {})

    def predict_proba(self, texts):
        positive = np.array([1 / (1 + math.exp(-2 * self.score(text))) for text in texts])
        return np.stack([1 - positive, positive], axis=1)

    def score(self, text: str) -> float:
        return sum(self.clause_score(clause) for clause in self.clauses(text.lower()))

    def clauses(self, text: str) -> list[str]:
        if self.contrast and " but " in text:
            text = text.split(" but ", 1)[1]
        elif self.contrast and text.startswith("although") and "," in text:
            text = text.split(",", 1)[1]
        elif self.contrast and ", although " in text:
            text = text.split(", although ", 1)[0]
        return re.split(r"[.,!]", text)

    def clause_score(self, clause: str) -> float:
        total, negated, previous = 0.0, False, ""
        for word in clause.split():
            if self.negation and (word in NEGATORS or word.endswith("n't")):
                negated = True
            elif word in self.words:
                weight = self.stronger if previous in STRONGER else self.weaker if previous in WEAKER else 1.0
                total += self.words[word] * weight * (-1 if negated else 1)
                negated = False
            previous = word
        return total


def rates(model, **options) -> dict[str, float]:
    return {test.name: test.failure_rate for test in check(model, **options).tests}


def test_a_model_that_reads_negation_contrast_and_degree_passes_everything():
    report = check(WordListModel(negation=True, contrast=True))
    assert report.failures == 0, format_report(report)
    assert report.cases == len(BUILTIN_TESTS) * CASES_PER_TEST and report.seed == 0 and report.suite == "built-in"
    assert format_report(report).splitlines()[0] == "model (labels negative, positive): the built-in suite (seed 0), " \
                                                    "16 tests, 1,600 cases"


def test_a_bag_of_words_fails_negation_and_half_of_contrast_but_keeps_invariance():
    bag = rates(WordListModel())
    assert bag["negation: negated positive"] == 1.0 and bag["negation: at a distance"] == 1.0
    assert bag["negation: negated negative"] > 0.5  # "Never boring, always charming." ties at 0.5: positive
    negative_verdicts = {name: sum(c.expect == "negative" for c in builtin_suite(0) if c.test == name) / CASES_PER_TEST
                         for name in ("contrast: X but Y", "contrast: although X, Y")}
    assert {name: bag[name] for name in negative_verdicts} == negative_verdicts  # a tie (0.5) says positive
    assert all(rate == 0 for name, rate in bag.items() if not name.startswith(("negation", "contrast"))), bag


@pytest.mark.parametrize("model, failing", [
    (WordListModel(extra={"emma": -3.0}), "invariance: names"),
    (WordListModel(extra={"psycho": -3.0, "alien": -3.0}), "invariance: titles"),
    (WordListModel(extra={"1999": 5.0}), "invariance: numbers"),
    (WordListModel(extra={"paris": 4.0}), "invariance: places"),
    (WordListModel(extra={"book": -2.0, "friend": 2.0}), "invariance: neutral sentence"),
    (WordListModel(extra={"loved": -1.0}), "direction: adding 'I loved it.'"),
    (WordListModel(extra={"hated": 1.0}), "direction: adding 'I hated it.'"),
    (WordListModel(stronger=-1.0), "intensity: intensifiers"),
    (WordListModel(weaker=1.5), "intensity: diminishers"),
])
def test_a_model_with_one_flaw_fails_that_test(model, failing):
    found = rates(model)
    assert found[failing] > 0, failing
    assert all(rate == 0 for name, rate in found.items() if name != failing and not name.startswith(
        ("negation", "contrast"))), found


def test_diminishers_may_move_towards_the_middle_but_never_across():
    found = check(WordListModel(weaker=0.0))  # "somewhat bad" scores 0.5 exactly: positive
    diminished = [c for c in builtin_suite(0) if c.test == "intensity: diminishers"]
    result = next(t for t in found.tests if t.name == "intensity: diminishers")
    assert result.failures == sum(case.falls == "negative" for case in diminished) > 0
    assert all(example.got == "positive" and "(as the reference)" in example.expected for example in result.examples)


class Table:
    """A model that answers P(positive) from a dictionary."""

    def __init__(self, positive: dict[str, float], labels=("negative", "positive")):
        self.positive, self.labels = positive, list(labels)

    def predict_proba(self, texts):
        self.calls = getattr(self, "calls", 0) + 1
        return np.array([[1 - self.positive[t], self.positive[t]] for t in texts])


def test_direction_cases_allow_the_tolerance_and_no_more():
    model = Table({"a": 0.900, "b": 0.895, "c": 0.880})
    cases = [Case("b", "small drop", reference="a", rises="positive"), Case("c", "big drop", reference="a", rises="positive"),
             Case("a", "negative falls", reference="c", falls="negative")]
    assert [t.failures for t in check(model, cases).tests] == [0, 1, 0]
    assert [t.failures for t in check(model, cases, tolerance=0).tests] == [1, 1, 0]
    assert model.calls == 2  # one model call per check
    unchanged = [Case("a", "same", reference="a", rises="positive"), Case("a", "same", reference="a", falls="positive")]
    assert check(Table({"a": 0.9}), unchanged, tolerance=0).tests[0].failures == 0  # equal: neither rises nor falls
    big = check(model, cases).tests[1]
    assert big.examples[0].expected == "P(positive) >= 0.900" and big.mean_abs_change == pytest.approx(0.02)


def test_label_cases_and_invariance_report_the_score_change():
    model = Table({"good": 0.9, "GOOD": 0.4, "bad": 0.2, "fine": 0.7})
    report = check(model, [Case("GOOD", "case", reference="good", same_label=True),
                           Case("fine", "case", reference="good", same_label=True),
                           Case("bad", "labels", expect="negative"), Case("bad", "labels", not_label="positive"),
                           Case("good", "labels", expect=0)], examples=5)
    case, labels = report.tests
    assert (case.kind, case.cases, case.failures, case.mean_abs_change) == ("invariance", 2, 1, pytest.approx(0.35))
    assert case.examples[0].to_dict() == {"text": "GOOD", "expected": "positive (as the reference)", "got": "negative",
                                          "probabilities": {"negative": 0.6, "positive": 0.4}, "reference": "good",
                                          "reference_probabilities": {"negative": pytest.approx(0.1), "positive": 0.9}}
    assert (labels.kind, labels.failures, labels.examples[0].expected) == ("label", 1, "negative")  # 0 is negative
    text = format_report(report)
    assert '"GOOD": expected positive (as the reference), got negative (P(positive) 0.400)' in text
    assert text.splitlines()[-1] == "overall: 2 of 5 cases failed (40.0 %)"


def test_the_text_report_in_full():
    """Every part of the terminal report: head, legend, table, failing examples (text and reference
    shortened, shown as written), total."""
    exact = "The story drags on and on, but the cast keeps this whole movie afloat."  # 70 characters: shown whole
    long = "The first half is slow,   the second half is slower, and the ending never seems to arrive."
    reference = "Un film très réussi, d'une élégance rare, que l'on n'oublie pas de sitôt."
    model = Table({"Très réussi.": 0.9, exact: 0.9, long: 0.3, "Good.": 0.8, "Un film réussi.": 0.4, reference: 0.9,
                   "a": 0.9, "b": 0.905, "c": 0.88})
    direction = "direction: adding a sentence of praise at the end"
    report = check(model, [
        Case("Très réussi.", "labels", expect="negative"), Case(exact, "labels", expect="negative", not_label="positive"),
        Case(long, "labels", expect="positive"), Case("Good.", "labels", expect="positive"),
        Case("Un film réussi.", "invariance", reference=reference, same_label=True),
        Case("a", direction, reference="c", rises="negative"),  # P(negative) falls 0.02: P(positive) rose too far
        Case("c", direction, reference="a", falls="negative"),  # P(negative) rises 0.02: P(positive) fell too far
        Case("b", direction, reference="a", falls="positive"),  # P(positive) rises 0.005: within the tolerance
    ], examples=5)
    assert format_report(report).splitlines() == [
        "model (labels negative, positive): the given cases, 3 tests, 8 cases",
        "mean |dP|: mean change of P(positive) from the reference text; direction cases may move 0.01 the wrong way",
        "test                                kind         cases  failed     rate  mean |dP|",
        "labels                              label            4       3   75.0 %",
        '    "Très réussi.": expected negative, got positive (P(positive) 0.900)',
        f'    "{exact}": expected negative and not positive, got positive (P(positive) 0.900)',
        '    "The first half is slow, the second half is slower, and the ending n...": expected positive, '
        "got negative (P(positive) 0.300)",
        "invariance                          invariance       1       1  100.0 %      0.500",
        '    "Un film réussi.": expected positive (as the reference), got negative (P(positive) 0.400); '
        '''reference "Un film très réussi, d'une élégance rare, que l..." (P(positive) 0.900)''',
        "direction: adding a sentence of ... direction        3       2   66.7 %      0.015",
        '    "a": expected P(positive) <= 0.880, got positive (P(positive) 0.900); reference "c" (P(positive) 0.880)',
        '    "c": expected P(positive) >= 0.900, got positive (P(positive) 0.880); reference "a" (P(positive) 0.900)',
        "overall: 6 of 8 cases failed (75.0 %)",
    ]


class Topics:
    """A three-label model (books, films, music) that answers from a dictionary of probabilities."""

    name = "topics"
    labels = ["books", "films", "music"]

    def __init__(self, probabilities: dict[str, list[float]]):
        self.probabilities = probabilities

    def predict_proba(self, texts):
        return np.array([self.probabilities[t] for t in texts])


def test_the_report_of_a_three_label_model_names_each_label():
    model = Topics({"the singer": [0.2, 0.5, 0.3], "the film": [0.3, 0.6, 0.1], "the novel": [0.7, 0.1, 0.2]})
    report = check(model, [Case("the singer", expect="music"), Case("the film", reference="the novel", same_label=True),
                           Case("the film", reference="the novel", rises="books")])
    assert format_report(report).splitlines() == [
        "topics (labels books, films, music): the given cases, 1 test, 3 cases",
        "mean |dP|: mean change of the probability that changed most from the reference text; "
        "direction cases may move 0.01 the wrong way",
        "test                                kind         cases  failed     rate  mean |dP|",
        "user suite                          mixed            3       3  100.0 %      0.500",
        '    "the singer": expected music, got films (P(films) 0.500)',
        '    "the film": expected books (as the reference), got films (P(films) 0.600); '
        'reference "the novel" (P(books) 0.700)',
        '    "the film": expected P(books) >= 0.700, got films (P(films) 0.600); reference "the novel" (P(books) 0.700)',
        "overall: 3 of 3 cases failed (100.0 %)",
    ]


def test_the_tolerance_is_named_only_where_a_test_has_direction_cases():
    model = Topics({"the singer": [0.2, 0.5, 0.3], "the film": [0.3, 0.6, 0.1], "the novel": [0.7, 0.1, 0.2]})
    report = check(model, [Case("the singer", expect="music"), Case("the film", reference="the novel", same_label=True)])
    assert [test.kind for test in report.tests] == ["mixed"]
    assert format_report(report).splitlines()[1] == (
        "mean |dP|: mean change of the probability that changed most from the reference text")


def test_a_float32_model_is_judged_as_its_probabilities_read():
    """The verdict agrees with the probabilities the report shows, whatever the model's float type."""
    class Typed(Table):
        def __init__(self, positive, dtype):
            super().__init__(positive)
            self.dtype = dtype

        def predict_proba(self, texts):
            return super().predict_proba(texts).astype(np.float32).astype(self.dtype)  # the same float32 numbers

    cases = [Case("lower", reference="higher", rises="positive")]  # 0.2 -> 0.19 in float32: a drop of 0.010000005
    single, double = (check(Typed({"higher": 0.2, "lower": 0.19}, dtype), cases) for dtype in (np.float32, np.float64))
    assert single.to_dict() == double.to_dict() and single.failures == 1


def test_labels_are_matched_in_any_spelling(tmp_path):
    path = write(tmp_path, '{"text": "Fine.", "expect": "Positive"}\n{"text": "Meh.", "not": "NEG"}\n')
    assert check(Table({"Fine.": 0.8, "Meh.": 0.3}), path).failures == 1  # "Meh." is negative

    class Capitalised(WordListModel):
        labels = ["Negative", "Positive"]

    assert rates(Capitalised(), cases_per_test=5) == rates(WordListModel(), cases_per_test=5)

    class Ratings(Topics):
        labels = [1, 2, 3]

    report = check(Ratings({"So-so.": [0.1, 0.8, 0.1]}), [Case("So-so.", expect="2"), Case("So-so.", not_label="3")])
    assert (report.cases, report.failures) == (2, 0)


@pytest.mark.parametrize("labels", [("ham", "spam"), ("books", "films", "music")])
def test_the_builtin_suite_needs_a_negative_positive_pair(labels):
    class Model:
        def predict_proba(self, texts):
            return np.full((len(texts), len(labels)), 1 / len(labels))

    Model.labels = list(labels)
    with pytest.raises(ConfigError, match="built-in suite .*--suite FILE") as error:
        check(Model())
    assert "\n" not in str(error.value)


def test_options_are_checked():
    for options, message in [({"examples": -1}, "examples must be a whole number of at least 0, got -1"),
                             ({"tolerance": 1.5}, "tolerance must be a number from 0 to below 1, got 1.5"),
                             ({"tolerance": 1}, "tolerance must be a number from 0 to below 1, got 1"),
                             ({"cases_per_test": 0}, "cases_per_test must be a positive integer, got 0")]:
        with pytest.raises(ConfigError) as error:
            check(WordListModel(), **options)
        assert str(error.value) == message
    with pytest.raises(DataError) as error:
        check(WordListModel(), [])
    assert str(error.value) == "suite must be a JSONL path or a non-empty list of Case"
    with pytest.raises(DataError, match="case 2: the case checks nothing"):
        check(WordListModel(), [Case("Good.", expect="positive"), Case("Fine.")])
    with pytest.raises(DataError, match="case 1: a reference text goes with"):
        check(WordListModel(), [Case("Good.", rises="positive")])


def test_both_spellings_give_the_same_function():
    import polarity.inference
    from polarity.inference import check as from_package
    from polarity.inference.check import check as from_module

    assert from_package is from_module is polarity.inference.check is check


# -- users' suites -----------------------------------------------------------------------------------------
def write(tmp_path: Path, content: str | bytes, name: str = "suite.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


GOOD_SUITE = """{"text": "This is not a great film.", "expect": "negative", "test": "negation"}

{"text": "Not bad at all.", "not": "negative", "test": "negation"}
{"text": "I saw it in Paris. Superb!", "same_as": "I saw it in Rome. Superb!"}
"""


def test_a_suite_file_reads_into_cases(tmp_path):
    cases = read_suite(write(tmp_path, b"\xef\xbb\xbf" + GOOD_SUITE.encode()))
    assert cases == [Case("This is not a great film.", "negation", expect="negative"),
                     Case("Not bad at all.", "negation", not_label="negative"),
                     Case("I saw it in Paris. Superb!", "user suite", reference="I saw it in Rome. Superb!",
                          same_label=True)]
    assert [case.where for case in cases] == [f"{tmp_path / 'suite.jsonl'}, line {n}" for n in (1, 3, 4)]


def test_the_documented_example_suite_reads():
    cases = read_suite(Path(__file__).resolve().parents[1] / "docs" / "examples" / "check-suite.jsonl")
    assert [case.test for case in cases] == ["negation"] * 4 + ["contrast"] * 2 + ["names", "user suite"]
    assert check(WordListModel(negation=True, contrast=True), cases).cases == 8


@pytest.mark.parametrize("content, line, message", [
    ('{"text": "fine", "expect": "positive"}\n{"text": "x", "expect": }\n', 2, "not valid JSON"),
    ('["text", "expect"]\n', 1, "expected a JSON object"),
    ('{"expect": "positive"}\n', 1, 'no "text"'),
    ('{"text": 42, "expect": "positive"}\n', 1, '"text" must be a string, got int'),
    ('{"text": "  ", "expect": "positive"}\n', 1, '"text" is empty'),
    ('{"text": "Good.", "expcet": "positive"}\n', 1, "unknown key 'expcet'; did you mean 'expect'?"),
    ('{"text": "Good.", "label": "positive"}\n', 1, "unknown key 'label'"),
    ('{"text": "Good.", "expect": "positive", "not": "negative"}\n', 1, 'got "expect" and "not"'),
    ('{"text": "Good."}\n', 1, "got none"),
    ('{"text": "Good.", "expect": null}\n', 1, "cannot use None as a label"),
    ('{"text": "Good.", "same_as": "Good."}\n', 1, '"same_as" is the text itself'),
    ('{"text": "Good.", "same_as": ""}\n', 1, '"same_as" is empty'),
    ('{"text": "Good.", "same_as": ["Fine."]}\n', 1, '"same_as" must be a string'),
    ('{"text": "Good.", "expect": "positive", "test": 3}\n', 1, '"test" must be a string'),
    (b'{"text": "ok", "expect": "positive"}\n{"text": "caf\xe9", "expect": "positive"}\n', 2, "not valid UTF-8"),
])
def test_a_bad_line_is_one_error_naming_it(tmp_path, content, line, message):
    path = write(tmp_path, content)
    with pytest.raises(DataError) as error:
        read_suite(path)
    text = str(error.value)
    assert text.startswith(f"{path}, line {line}: ") and message in text and "\n" not in text


@pytest.mark.parametrize("content, message", [("", "no cases"), ("\n  \n", "no cases")])
def test_an_empty_suite_is_an_error(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        read_suite(write(tmp_path, content))


def test_a_missing_suite_or_a_folder_is_an_error(tmp_path):
    with pytest.raises(DataError) as error:
        read_suite(tmp_path / "nothing.jsonl")
    assert str(error.value) == f"{tmp_path / 'nothing.jsonl'}: no such file; give a JSONL file of cases"
    with pytest.raises(DataError) as error:
        read_suite(tmp_path)
    assert str(error.value) == f"{tmp_path}: is a folder; give a JSONL file of cases"


def test_an_unreadable_suite_is_one_line(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD_SUITE)
    real_open = open

    def refuse(file, *args, **kwargs):  # as for a file without read permission (chmod has no effect for root)
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr("builtins.open", refuse)
        with pytest.raises(DataError) as error:
            read_suite(path)
    assert str(error.value) == f"{path}: cannot read it (Permission denied)"


@pytest.mark.parametrize("content, message", [
    ('{"text": "Good.", "label": "positive"}\n', "unknown key 'label'; a case has text, expect, not, same_as, test"),
    ('{"text": "Good."}\n', 'give one of "expect" (a label), "not" (a label) or "same_as" (a text), got none'),
])
def test_a_case_without_a_known_expectation_says_what_a_case_has(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(DataError) as error:
        read_suite(path)
    assert str(error.value) == f"{path}, line 1: {message}"


def test_a_label_the_model_lacks_names_the_line(tmp_path):
    path = write(tmp_path, '{"text": "Fine.", "expect": "neg"}\n{"text": "Meh.", "expect": "neutral"}\n')
    with pytest.raises(DataError) as error:
        check(Table({"Fine.": 0.2, "Meh.": 0.5}), path)
    assert str(error.value) == f"{path}, line 2: 'neutral' is not a label of this model (negative, positive)"


# -- the command line and real models ----------------------------------------------------------------------
def test_check_runs_on_a_model_folder(tiny_model, capsys):
    assert main(["check", str(tiny_model), "--examples", "1", "--cases", "20"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in BUILTIN_TESTS)
    assert out.splitlines()[-1].startswith("overall: ") and "of 320 cases failed" in out


def test_a_tolerance_out_of_range_is_a_usage_error(tiny_model, capsys):
    for value in ("1", "-0.1", "nan"):
        with pytest.raises(SystemExit) as exit_:
            main(["check", str(tiny_model), "--tolerance", value])
        assert exit_.value.code == 2
        assert f"--tolerance: must be a probability from 0 to below 1, got {value}" in capsys.readouterr().err


def test_the_tolerance_given_on_the_command_line_is_the_one_applied(tiny_model, capsys):
    for value, applied in (("0", 0.0), ("0.25", 0.25)):
        assert main(["check", str(tiny_model), "--cases", "5", "--tolerance", value, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["tolerance"] == applied
    assert main(["check", str(tiny_model), "--cases", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tolerance"] == 0.01


def test_a_loaded_predictor_is_reported_under_its_models_name(tiny_model):
    from polarity.inference import Predictor

    report = check(Predictor.load(tiny_model), [Case("Good.", expect="positive")])
    assert report.model == "mean-embedding" and format_report(report).startswith("mean-embedding (labels negative, ")


def test_check_json(tiny_model, capsys):
    assert main(["check", str(tiny_model), "--json", "--examples", "0", "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in data["tests"]] == list(BUILTIN_TESTS) and data["seed"] == 3
    assert data["cases"] == len(BUILTIN_TESTS) * CASES_PER_TEST and data["tests_above"] == []
    assert all(t["examples"] == [] for t in data["tests"])
    assert all((t["mean_abs_change"] is None) == (t["kind"] == "label") for t in data["tests"])


def test_check_of_a_suite_file_in_json_and_text(tiny_model, tmp_path, capsys):
    path = write(tmp_path, '{"text": "A fine film.", "expect": "positive"}\n{"text": "A fine film.", "expect": "negative"}\n')
    assert main(["check", str(tiny_model), "--suite", str(path), "--json", "--examples", "0", "--tolerance", "0.05"]) == 0
    assert json.loads(capsys.readouterr().out) == {  # one of the two contradicting cases fails, whatever the model says
        "model": str(tiny_model), "labels": ["negative", "positive"], "suite": str(path), "seed": None, "tolerance": 0.05,
        "cases": 2, "failures": 1, "failure_rate": 0.5,
        "tests": [{"name": "user suite", "kind": "label", "cases": 2, "failures": 1, "failure_rate": 0.5,
                   "mean_abs_change": None, "examples": []}],
        "fail_above": None, "tests_above": []}
    assert main(["check", str(tiny_model), "--suite", str(path), "--examples", "0"]) == 0
    assert capsys.readouterr().out.splitlines() == [  # label cases only: no legend
        f"{tiny_model} (labels negative, positive): the suite {path}, 1 test, 2 cases",
        "test                                kind         cases  failed     rate  mean |dP|",
        "user suite                          label            2       1   50.0 %",
        "overall: 1 of 2 cases failed (50.0 %)"]


def test_fail_above_gates_on_each_test(tiny_model, capsys):
    assert main(["check", str(tiny_model), "--fail-above", "0", "--cases", "20"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and re.match(r"polarity: error: \d+ of 16 tests fail more than 0 % of", captured.err)
    assert "overall:" in captured.out
    assert main(["check", str(tiny_model), "--fail-above", "1", "--cases", "20"]) == 0


@pytest.mark.parametrize("argv", [["--fail-above", "20"], ["--cases", "0"], ["--examples", "-1"]])
def test_bad_options_are_usage_errors(tiny_model, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(tiny_model), *argv])
    assert exit_info.value.code == 2 and "usage: polarity check" in capsys.readouterr().err


def test_a_bad_suite_file_is_one_line(tiny_model, tmp_path, capsys):
    path = write(tmp_path, '{"text": "Fine.", "expect": "positive"}\n{"text": "Fine."\n')
    assert main(["check", str(tiny_model), "--suite", str(path)]) == 1
    assert capsys.readouterr().err == f"polarity: error: {path}, line 2: not valid JSON (Expecting ',' delimiter, column 17)\n"
    assert main(["check", str(tiny_model), "--suite", str(path), "--seed", "1"]) == 1
    assert "a --suite file has its own cases" in capsys.readouterr().err


@pytest.fixture(scope="module")
def topics_model(tmp_path_factory) -> Path:
    """A three-label model (books, films, music), trained in about a second."""
    from polarity.training import load_recipe, train_recipe

    folder = tmp_path_factory.mktemp("topics") / "topics"
    texts = ["a novel by this author", "the chapters of the book", "the film's director", "a movie with a great cast",
             "the album's best song", "the singer and her guitar"] * 20
    labels = ["books", "books", "films", "films", "music", "music"] * 20
    recipe = load_recipe("mean-embedding", {"model.mask_padding": True, "training.epochs": 5, "training.lr": 0.05})
    train_recipe(recipe, folder, train=(texts, labels), progress=False, log=lambda *_: None)
    return folder


def test_a_three_label_model_gets_a_clear_message_and_runs_its_own_suite(topics_model, tmp_path, capsys):
    assert main(["check", str(topics_model)]) == 1
    err = capsys.readouterr().err
    assert err == "polarity: error: the built-in suite is for two-label models; this one has 3 (books, films, music): " \
                  "give --suite FILE with your own cases (suite= in Python)\n"
    path = write(tmp_path, '{"text": "a song on the guitar", "expect": "music"}\n'
                           '{"text": "the author of this novel", "not": "films", "test": "books"}\n'
                           '{"text": "the singer and the guitar", "same_as": "the singer and her guitar"}\n')
    assert main(["check", str(topics_model), "--suite", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["kind"], t["cases"]) for t in data["tests"]] == [
        ("user suite", "mixed", 2), ("books", "label", 1)]
    assert data["labels"] == ["books", "films", "music"] and data["seed"] is None
    assert main(["check", str(topics_model), "--suite", str(path)]) == 0
    assert "the suite" in capsys.readouterr().out


class PositiveFirst(WordListModel):
    """The word-list model with its labels the other way round: P(positive) in column 0."""

    labels = ["positive", "negative"]

    def predict_proba(self, texts):
        return super().predict_proba(texts)[:, ::-1]


def test_labels_positive_first_are_not_read_as_negative_then_positive(tmp_path):
    """The built-in suite and polarity spellings ("neg") assume the negative label first; a model whose
    labels come the other way round gets the message, not cases judged against the wrong column."""
    with pytest.raises(ConfigError, match="needs a negative/positive pair of labels .* this model has positive, negative"):
        check(PositiveFirst())
    path = write(tmp_path, '{"text": "Dull.", "expect": "negative"}\n{"text": "Fine.", "expect": "neg"}\n')
    with pytest.raises(DataError) as error:
        check(PositiveFirst(), path)
    assert str(error.value) == f"{path}, line 2: 'neg' is not a label of this model (positive, negative)"

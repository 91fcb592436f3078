"""Tried by the thousand: property-based tests over the public API and the command line.

Whatever the input (any Unicode text with control characters, empty and very long texts, values of
the wrong type, arbitrary recipe overrides, arbitrary bytes in a CSV/TSV/JSONL/text file, arbitrary
command lines), the result is a value or a :class:`polarity.errors.PolarityError` (the command line:
exit 0, exit 1 with one ``polarity: error: ...`` line, or exit 2 for usage): never another
exception, never a traceback, and no file of the user changes (bytes and mtime).

Each property counts the inputs it ran; the last test writes the counts to ``property-counts.json``
in pytest's base temporary folder and prints them (``-s``), so the docs can say how many inputs
each surface was tried with.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polarity.cli import main
from polarity.data.encoder import TextEncoder
from polarity.data.labelled import LabelledTexts, read_labelled
from polarity.data.tables import TableDataset, read_table
from polarity.errors import ConfigError, PolarityError
from polarity.inference import Predictor
from polarity.inference.explore import explain
from polarity.inference.predictor import Prediction
from polarity.training import load_recipe
from polarity.training.recipes import Recipe

from conftest import report_counts

COUNTS: Counter = Counter()  # surface -> generated inputs run
# About 30 s for the file on 2 cores; POLARITY_PROPERTY_SCALE=10 tries ten times as many inputs.
SCALE = float(os.environ.get("POLARITY_PROPERTY_SCALE", "1"))
FAST = settings(max_examples=int(500 * SCALE), suppress_health_check=list(HealthCheck), database=None)
SLOW = settings(max_examples=int(250 * SCALE), suppress_health_check=list(HealthCheck), database=None)


def subnormals_back() -> None:
    """polarity flushes subnormal floats to zero in the threads that run its models (also when
    polarity.models is imported); Hypothesis refuses to draw floats in such a thread."""
    torch.set_flush_denormal(False)


# -- strategies ------------------------------------------------------------------------------------------
# Any Unicode except lone surrogates (st.characters() leaves out category Cs): control characters,
# NUL, line and paragraph separators, combining marks, emoji, right-to-left text included.
CHARS = st.characters()
WORDS = st.sampled_from(["great", "awful", "film", "the", "Wonderful!", "<br />", "qqq", "très", "😀", "\t", "\r\n",
                         "\x00", "\u2028", "\x85", "\ufeff", "ﬁlm", "GREAT", "...", "'", '"', ",", "\\"])
SHORT_TEXT = st.text(CHARS, max_size=60)
MIXED_TEXT = st.lists(st.one_of(WORDS, SHORT_TEXT), max_size=12).map(" ".join)
LONG_TEXT = st.builds(lambda part, times: part * times, st.one_of(WORDS, SHORT_TEXT).filter(bool),
                      st.integers(500, 20_000))
TEXT = st.one_of(SHORT_TEXT, MIXED_TEXT, st.just(""), st.sampled_from([" ", "\n", "\x00", "\t\t", "\u3000"]), LONG_TEXT)
OTHER = st.one_of(st.none(), st.integers(), st.binary(max_size=20), st.booleans(),
                  st.floats(allow_subnormal=False), st.dictionaries(SHORT_TEXT, SHORT_TEXT, max_size=2))
TEXTS_INPUT = st.one_of(
    st.lists(TEXT, max_size=8),                                   # the right type
    TEXT,                                                          # one string instead of a list
    st.tuples(TEXT, TEXT),
    st.lists(st.one_of(TEXT, OTHER, st.lists(TEXT, max_size=2)), max_size=6),  # wrong types inside
    OTHER,
)
THRESHOLD = st.one_of(st.none(), st.floats(allow_subnormal=False), st.integers(-2, 2))
BATCH = st.integers(1, 600)


def check_probabilities(probs, n: int, labels: int) -> None:
    assert isinstance(probs, np.ndarray) and probs.shape == (n, labels)
    assert np.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


# -- a tiny model, trained once ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_dir(tiny_model) -> Path:
    subnormals_back()
    return tiny_model


@pytest.fixture(scope="module")
def predictor(model_dir) -> Predictor:
    loaded = Predictor.load(model_dir)
    subnormals_back()
    return loaded


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("inputs")


def snapshot(*paths: Path) -> dict:
    """Bytes and mtime of every file under ``paths``."""
    files = {}
    for path in paths:
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            files[str(file)] = (file.read_bytes(), stat.st_mtime_ns, stat.st_size)
    return files


# -- Predictor ---------------------------------------------------------------------------------------------
@FAST
@given(texts=TEXTS_INPUT, batch_size=BATCH, threshold=THRESHOLD)
def test_predictor_gives_results_or_a_polarity_error(predictor, texts, batch_size, threshold):
    COUNTS["Predictor.predict/predict_proba/classify"] += 1
    as_list = list(texts) if isinstance(texts, (list, tuple, dict)) else None  # a dict: its keys
    try:
        for method in ("predict_proba", "predict", "classify"):
            if method == "predict_proba":
                try:
                    result = predictor.predict_proba(texts, batch_size=batch_size)
                except PolarityError:
                    continue
                check_probabilities(result, len(as_list), len(predictor.labels))
                continue
            try:
                result = getattr(predictor, method)(texts, batch_size=batch_size, threshold=threshold)
            except PolarityError:
                continue
            assert as_list is not None and all(isinstance(t, str) for t in as_list)
            assert len(result) == len(as_list)
            if method == "predict":
                assert all(label in predictor.labels for label in result)
            else:
                for text, prediction in zip(as_list, result):
                    assert isinstance(prediction, Prediction) and prediction.text == text
                    assert prediction.label in predictor.labels and 0.0 <= prediction.score <= 1.0
                    json.dumps(prediction.to_dict())
                    if not text.strip():
                        assert prediction.warning
    finally:
        subnormals_back()


@FAST
@given(texts=st.lists(TEXT, max_size=6))
def test_predictions_do_not_depend_on_the_batch(predictor, texts):
    """The same text gets the same probabilities alone and among others, in any batch size."""
    COUNTS["Predictor batch independence"] += 1
    try:
        together = predictor.predict_proba(texts, batch_size=3)
        for i, text in enumerate(texts):
            alone = predictor.predict_proba([text])
            assert np.allclose(alone[0], together[i], atol=1e-5)
    finally:
        subnormals_back()


# -- explain ------------------------------------------------------------------------------------------
EXPLAIN_TEXT = st.one_of(SHORT_TEXT, MIXED_TEXT, st.just(""), st.sampled_from(["\x00", " \n "]),
                         st.builds(lambda part, times: part * times, WORDS, st.integers(50, 400)))


@SLOW
@given(text=st.one_of(EXPLAIN_TEXT, OTHER, st.lists(SHORT_TEXT, max_size=2)))
def test_explain_gives_an_explanation_or_a_polarity_error(predictor, text):
    COUNTS["explore.explain"] += 1
    try:
        result = explain(predictor, text)
    except PolarityError:
        return
    finally:
        subnormals_back()
    assert isinstance(text, str)
    json.dumps(result)
    assert result["label"] in predictor.labels
    assert 0.0 <= result["probability"] <= 1.0
    assert all(math.isfinite(w["contribution"]) for w in result["words"])


# -- recipes ---------------------------------------------------------------------------------------------
def _flat_keys(data: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += _flat_keys(value, f"{prefix}{key}.")
    return keys


REAL_KEYS = sorted(set(_flat_keys(load_recipe("lstm-dropout").to_dict()))
                   | {k.rsplit(".", 1)[-1] for k in _flat_keys(load_recipe("lstm-dropout").to_dict())}
                   | {"model.type", "model.pretrained", "model.cell", "model.vocab_size", "model.num_outputs",
                      "data.target", "extends", "name", "training.optimizer", "model.bidirectional"})
KEY = st.one_of(st.sampled_from(REAL_KEYS), SHORT_TEXT, st.sampled_from(["", ".", "model.", ".units", "a.b.c",
                                                                       "model.units.x", "MODEL.UNITS", " units "]))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-3, 1000), st.floats(allow_subnormal=False),
                   SHORT_TEXT, st.sampled_from(["lstm", "gru", "rnn", "mean", "exact", "bucketed", "adam", "rmsprop",
                                                "rating-bands", "train", "glove-6b-50d", "1e-3", "nan", "inf"]))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(SHORT_TEXT, inner, max_size=3)), max_leaves=6)


@FAST
@given(overrides=st.one_of(st.dictionaries(KEY, VALUE, max_size=4), st.none(), st.just({})))
def test_recipe_overrides_give_a_recipe_or_a_config_error(overrides):
    COUNTS["load_recipe overrides"] += 1
    try:
        recipe = load_recipe("lstm-dropout", overrides)
    except ConfigError:
        return
    assert isinstance(recipe, Recipe)
    assert Recipe.from_dict(recipe.to_dict()).to_dict() == recipe.to_dict()  # what was accepted holds together


# -- tables ------------------------------------------------------------------------------------------------
COLUMN = st.one_of(st.sampled_from(["text", "review", "label", "sentiment", "Text", "LABEL", "rating", "id", ""]),
                   SHORT_TEXT)
CELL = st.one_of(TEXT.filter(lambda t: len(t) < 2000), st.sampled_from(["0", "1", "positive", "neg", "true", "3.5",
                                                                      "-1", "", "null", "NaN"]))


def _delimited(delimiter: str):
    def build(header, rows, quote):
        lines = []
        for row in [header, *rows]:
            cells = [(f'"{c}"' if quote else c) for c in row]
            lines.append(delimiter.join(cells))
        return "\n".join(lines)

    return st.builds(build, st.lists(COLUMN, min_size=1, max_size=3),
                     st.lists(st.lists(CELL, max_size=4), max_size=5), st.booleans())


JSON_VALUE = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_subnormal=False), CELL),
                          lambda inner: st.one_of(st.lists(inner, max_size=2),
                                                  st.dictionaries(COLUMN, inner, max_size=2)), max_leaves=5)
JSONL = st.lists(st.one_of(st.dictionaries(COLUMN, JSON_VALUE, max_size=3).map(
                     lambda d: json.dumps(d, allow_nan=True)),
                           JSON_VALUE.map(lambda v: json.dumps(v, allow_nan=True)), SHORT_TEXT),
                 max_size=5).map("\n".join)
TEXT_LINES = st.lists(st.one_of(TEXT.filter(lambda t: len(t) < 2000),
                                st.builds(lambda t, l: f"{t}\t{l}", SHORT_TEXT, CELL)), max_size=5).map("\n".join)
ENCODING = st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
SUFFIX = st.sampled_from([".csv", ".tsv", ".jsonl", ".ndjson", ".txt", "", ".CSV", ".json", ".csv.gz"])
CONTENT = st.one_of(
    st.builds(lambda text, enc: text.encode(enc, errors="replace"),
              st.one_of(_delimited(","), _delimited("\t"), _delimited(";"), JSONL, TEXT_LINES), ENCODING),
    st.binary(max_size=300),
    st.sampled_from([b"", b"\n", b"\xef\xbb\xbf", b"text\n", b"text,label\n", b"{}", b"\x00\x00", b"\r\r\r"]),
)
OPTION = st.one_of(st.none(), COLUMN)
_names = itertools.count()


def write_input(folder: Path, suffix: str, content: bytes) -> Path:
    path = folder / f"input{next(_names)}{suffix}"
    path.write_bytes(content)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # an old mtime: any write would show
    return path


@FAST
@given(suffix=SUFFIX, content=CONTENT, text_column=OPTION, label_column=OPTION, require_labels=st.booleans())
def test_read_table_gives_a_table_or_a_data_error(workdir, suffix, content, text_column, label_column, require_labels):
    COUNTS["read_table"] += 1
    path = write_input(workdir, suffix, content)
    before = snapshot(path)
    try:
        table = read_table(path, text_column=text_column, label_column=label_column, require_labels=require_labels)
    except PolarityError:
        pass
    else:
        assert isinstance(table, TableDataset) and len(table.texts) >= 1
        assert all(isinstance(t, str) for t in table.texts)
        assert table.labels is None or len(table.labels) == len(table.texts)
    assert snapshot(path) == before


@FAST
@given(suffix=SUFFIX, content=CONTENT, text_column=OPTION, label_column=OPTION)
def test_read_labelled_gives_texts_or_a_data_error(workdir, suffix, content, text_column, label_column):
    COUNTS["read_labelled"] += 1
    path = write_input(workdir, suffix, content)
    before = snapshot(path)
    try:
        data = read_labelled(path, text_column=text_column, label_column=label_column)
    except PolarityError:
        pass
    else:
        assert isinstance(data, LabelledTexts) and len(data.texts) == len(data.labels) >= 1
        assert len(data.names) >= 2 and all(0 <= int(i) < len(data.names) for i in data.labels)
    assert snapshot(path) == before


# -- the text encoder ----------------------------------------------------------------------------------------
@FAST
@given(fit=st.lists(MIXED_TEXT, min_size=1, max_size=5), texts=st.lists(TEXT, max_size=6),
       maxlen=st.sampled_from([None, 1, 2, 5, 50]), num_words=st.sampled_from([None, 3, 10]),
       truncating=st.sampled_from(["pre", "post"]))
def test_text_encoder_encodes_any_unicode(predictor, fit, texts, maxlen, num_words, truncating):
    """Ids within the vocabulary, at most maxlen, and the fast path equal to the word-by-word one."""
    COUNTS["TextEncoder.encode"] += 1
    for encoder in (predictor.encoder, TextEncoder.fit(fit, num_words=num_words, maxlen=maxlen, truncating=truncating)):
        ids = encoder.encode(texts)
        assert len(ids) == len(texts)
        assert ids == encoder.encode_tokens([encoder.tokenize(t) for t in texts])
        for seq in ids:
            assert all(isinstance(i, int) and 0 <= i < encoder.vocab_size for i in seq)
            assert encoder.maxlen is None or len(seq) <= encoder.maxlen


# -- the command line -----------------------------------------------------------------------------------------
def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors (2), --help and --version (0)
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            subnormals_back()
    return code, out.getvalue(), err.getvalue()


def check_manners(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert code in (0, 1, 2), (code, stderr)
    if code == 1:
        lines = stderr.splitlines()
        errors = [line for line in lines if line.startswith("polarity: error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], stderr
        assert all(line.startswith("polarity: warning: ") for line in lines[:-1]), stderr
    if code == 2:
        assert "usage:" in stderr or "usage:" in stderr.lower() or stderr == "", stderr


@SLOW
@given(suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".txt", ""]), content=CONTENT,
       out_suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".txt", "same"]), text_column=OPTION,
       json_flag=st.booleans())
def test_cli_predict_file_output(model_dir, workdir, suffix, content, out_suffix, text_column, json_flag):
    COUNTS["CLI predict --file --output"] += 1
    path = write_input(workdir, suffix, content)
    output = path if out_suffix == "same" else workdir / f"out{next(_names)}{out_suffix}"
    argv = ["predict", str(model_dir), "--file", str(path), "--output", str(output), "--quiet"]
    if text_column is not None:
        argv += ["--text-column", text_column]
    if json_flag:
        argv.append("--json")
    before = snapshot(path, model_dir)
    code, _, stderr = run_cli(argv)
    check_manners(code, stderr)
    assert snapshot(path, model_dir) == before
    assert not list(workdir.glob("*.tmp")) and not list(workdir.glob(".*.tmp"))
    if code == 0:
        assert output.is_file() and output != path


@SLOW
@given(command=st.sampled_from(["predict", "explain"]), texts=st.lists(EXPLAIN_TEXT, min_size=1, max_size=4),
       json_flag=st.booleans())
def test_cli_texts_as_arguments(model_dir, command, texts, json_flag):
    """Texts given on the command line: a table or JSON of every text, or a one-line error."""
    COUNTS["CLI predict/explain TEXT..."] += 1
    argv = [command, str(model_dir), *(["--json"] if json_flag else []), "--", *texts]
    before = snapshot(model_dir)
    code, stdout, stderr = run_cli(argv)
    check_manners(code, stderr)
    assert snapshot(model_dir) == before
    if code == 0 and json_flag:
        results = json.loads(stdout)
        results = results if isinstance(results, list) else [results]
        assert len(results) == len(texts)
    elif code == 0 and command == "predict":
        assert len(stdout.splitlines()) == len(texts) + 1  # the header, then one line per text


LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines() splits on


def argv_tokens(model_dir: Path, data_file: Path, output: Path):
    """Command lines: a real command, a model folder (or not) and real options with good or bad values,
    in any order, with junk among them; or any sequence of such words."""
    paths = [str(model_dir), str(data_file), str(output), str(model_dir / "config.json"), str(model_dir.parent),
             "/nonexistent/folder", str(output.with_suffix(".parquet")), str(output.with_suffix(".xlsx")), "."]
    values = {  # --batch-size 0 and -1: test_cli_batch_size_zero_is_a_usage_error below
        "--file": paths, "--output": paths, "--threshold": ["0", "1", "0.5", "-1", "2", "nan", "inf", "1e309", "x"],
        "--batch-size": ["1", "3", "256", "1e3", "x", ""], "--text-column": ["text", "review", "id", "nope", ""],
        "--device": ["cpu", "cuda", "auto", "tpu"], "--precision": ["float32", "bfloat16", "float16"],
        "-k": ["1", "0", "-3", "5000", "x"], "--metric": ["euclidean", "cosine", "manhattan"],
    }
    flags = ["--json", "--quiet", "--no-color", "--debug", "--help", "--version", "--", "-h", "--unknown"]
    # Line breaks are left out of the junk: an error message that quotes such an argument spans lines
    # (test_an_error_quoting_a_line_break_stays_one_line, below).
    junk = st.text(st.characters(blacklist_characters=LINE_BREAKS + "\x00"), max_size=12)
    words = ["great", "awful film", "", " ", "😀", "\x00", "-", "0"]
    option = st.one_of(st.sampled_from(sorted(values)).flatmap(lambda o: st.tuples(st.just(o), st.sampled_from(values[o]))),
                       st.sampled_from(flags).map(lambda f: (f,)), st.sampled_from(words + paths).map(lambda w: (w,)),
                       junk.map(lambda j: (j,)))
    structured = st.builds(lambda command, model, options: [command, *model, *itertools.chain(*options)],
                           st.sampled_from(["predict", "predict", "explain", "neighbors", "recipes"]),
                           st.sampled_from([[str(model_dir)], [str(model_dir)], [str(data_file)], []]),
                           st.lists(option, max_size=5))
    loose = st.lists(st.one_of(st.sampled_from(["predict", "explain", "neighbors", "recipes", *flags, *sorted(values),
                                                *words, *paths]), junk), max_size=8)
    return st.one_of(structured, structured, loose)


@pytest.fixture(scope="module")
def data_file(workdir) -> Path:
    path = workdir / "reviews.csv"
    path.write_text("id,text\n1,A wonderful film.\n2,\"An awful, boring film.\"\n3,\n", encoding="utf-8")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path


@SLOW
@given(data=st.data())
def test_cli_arbitrary_argv(model_dir, workdir, data_file, data):
    COUNTS["CLI argv"] += 1
    output = workdir / "argv-out.csv"
    argv = data.draw(argv_tokens(model_dir, data_file, output))
    if "-" in argv:
        argv = [a for a in argv if a != "-"]  # `-` reads standard input
    before = snapshot(data_file, model_dir)
    code, _, stderr = run_cli(argv)
    check_manners(code, stderr)
    assert snapshot(data_file, model_dir) == before
    output.unlink(missing_ok=True)


@pytest.mark.parametrize("argv", [["predict", "runs/no\nsuch", "great"], ["predict", "\r", "great"],
                                  ["predict", "MODEL", "--file", "no\nsuch.csv"]])
def test_an_error_quoting_a_line_break_stays_one_line(model_dir, argv):
    argv = [str(model_dir) if a == "MODEL" else a for a in argv]
    code, _, stderr = run_cli(argv)
    assert code == 1
    check_manners(code, stderr)


@pytest.mark.parametrize("batch_size", [0, -1])
def test_batch_size_zero_is_a_polarity_error(predictor, batch_size):
    with pytest.raises(PolarityError):
        predictor.predict(["a great film"], batch_size=batch_size)


@pytest.mark.parametrize("extra", [[], ["--output", "OUT"]])
def test_cli_batch_size_zero_is_a_usage_error(model_dir, workdir, extra):
    argv = ["predict", str(model_dir), "great", "--batch-size", "0",
            *[str(workdir / "zero.csv") if a == "OUT" else a for a in extra]]
    code, _, stderr = run_cli(argv)
    check_manners(code, stderr)


# -- the counts -------------------------------------------------------------------------------------------
def test_zz_count_of_inputs_per_surface(tmp_path_factory):
    """Runs last (file order): the number of generated inputs each property ran, for the docs."""
    report_counts(tmp_path_factory, "property-counts", COUNTS, "inputs per surface", 45)
    if len(COUNTS) < 9:
        pytest.skip("run with the whole file for the counts of every surface")
    assert all(count >= 20 for count in COUNTS.values()), COUNTS

"""``polarity export``: the exported networks compute the models' probabilities, in ONNX Runtime and
TorchScript, and the preprocessing file alone reproduces the ids."""

import argparse
import importlib
import json
import re
import warnings

import numpy as np
import pytest
import torch

from polarity.data import TextEncoder
from polarity.engine import probabilities
from polarity.errors import ConfigError, PolarityError
from polarity.cli.export import register as add_export_parser
from polarity.inference.export import ExportModule, export_model, read_preprocessing
from polarity.inference import Predictor
from polarity.models.folder import ModelFolder
from polarity.models.registry import build_model


def importable(*names: str) -> bool:
    try:
        for name in names:
            importlib.import_module(name)
    except ImportError:
        return False
    return True


HAS_ONNX = importable("onnxruntime", "onnx", "onnxscript")
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="onnxruntime, onnx or onnxscript is not installed "
                                "(pip install 'polarity[export]')")

MAXLEN = 40
WORDS = [f"w{i}" for i in range(150)] + ["film", "great", "dull", "très", "ΣΟΦΌΣ"]
TRAIN = [" ".join(WORDS[i::k]) for k in (1, 2, 3, 5, 7) for i in range(k)]
RNN = dict(type="rnn", units=12, embedding_dim=8)
CASES = {  # name: (model options, labels)
    "lstm": (RNN, ["negative", "positive"]),
    "gru": (dict(RNN, cell="gru"), ["negative", "positive"]),
    "bilstm-masked": (dict(RNN, bidirectional=True, mask_padding=True), ["negative", "positive"]),
    "lstm-masked": (dict(RNN, mask_padding=True), ["negative", "positive"]),
    "mean": (dict(type="mean-embedding", embedding_dim=8), ["negative", "positive"]),
    "mean-masked": (dict(type="mean-embedding", embedding_dim=8, mask_padding=True), ["negative", "positive"]),
    "bigru-2layers-masked-4labels": (dict(RNN, cell="gru", bidirectional=True, layers=2, mask_padding=True),
                                     ["1-2 stars", "3-4 stars", "7-8 stars", "9-10 stars"]),
}
# unmasked RNNs read the padding: their output depends on how wide a batch is padded
READS_PADDING = {"lstm", "gru"}


def randomize_(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Weights large enough that probabilities spread over (0, 1) and masking mistakes show."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
    return model.eval()


def make_folder(root, name: str, batching: str = "exact", maxlen: int | None = MAXLEN):
    options, labels = CASES[name]
    encoder = TextEncoder.fit(TRAIN, maxlen=maxlen)
    model = build_model(dict(options), vocab_size=encoder.vocab_size, num_outputs=1 if len(labels) == 2 else len(labels),
                        maxlen=maxlen)
    randomize_(model, seed=len(name))
    folder = root / name
    ModelFolder(folder).save(model, encoder, labels, {"recipe": {"name": name, "model": dict(options)},
                                                       "preprocessing": {"batching": batching}})
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: make_folder(root, name) for name in CASES}


@pytest.fixture(scope="module")
def exported(folders, tmp_path_factory):
    """(name, format) -> export_model's result, made on first use."""
    root = tmp_path_factory.mktemp("exported")
    cache = {}

    def get(name: str, format: str) -> dict:
        if (name, format) not in cache:
            cache[name, format] = export_model(folders[name], root / f"{name}.{'onnx' if format == 'onnx' else 'pt'}", format)
        return cache[name, format]

    return get


def reviews(vocab_size: int, n: int = 1000, seed: int = 0) -> list[list[int]]:
    """Random ids (start marker first, as encoded reviews have), lengths 1..MAXLEN."""
    rng = np.random.default_rng(seed)
    return [[1] + rng.integers(2, vocab_size, size=length - 1).tolist() for length in rng.integers(1, MAXLEN + 1, size=n)]


BATCH_SIZES = [1, 2, 3, 5, 8, 13, 32, 64, 100, 127, 256]


def batches(sequences: list[list[int]], width: int | None):
    """Pre-padded (ids, lengths) batches of various sizes, to ``width`` or to each batch's longest."""
    start, k = 0, 0
    while start < len(sequences):
        chunk = sequences[start : start + BATCH_SIZES[k % len(BATCH_SIZES)]]
        w = width or max(map(len, chunk))
        ids = np.array([[0] * (w - len(s)) + s for s in chunk], dtype=np.int64)
        yield ids, np.array([len(s) for s in chunk], dtype=np.int64)
        start, k = start + len(chunk), k + 1


def runner(result: dict):
    """A function (ids, lengths) -> probabilities that runs the exported file."""
    if result["format"] == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(result["model"], providers=["CPUExecutionProvider"])
        return lambda ids, lengths: session.run(None, {"ids": ids, "lengths": lengths})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated in torch 2.10+
        loaded = torch.jit.load(result["model"])
    return lambda ids, lengths: loaded(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()


def check_against_pytorch(folder, result: dict, name: str) -> None:
    run = runner(result)
    loaded = ModelFolder(folder).load()
    model, config, encoder = loaded.model, loaded.config, loaded.encoder
    sequences = reviews(encoder.vocab_size)
    # 1. as polarity predicts (this folder pads every review to maxlen, "exact" batching)
    expected = Predictor.load(folder).predict_proba_ids(sequences)
    assert expected.shape == (1000, len(config.labels))
    assert expected.std(axis=0).min() > 0.02  # the weights give probabilities that differ from review to review
    got = np.concatenate([run(ids, lengths) for ids, lengths in batches(sequences, MAXLEN)])
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5
    # 2. batches padded to their own longest review, against the model's forward on the same tensors
    for ids, lengths in batches(sequences, None):
        with torch.no_grad():
            logits = model(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
        out = run(ids, lengths)
        assert np.abs(out - probabilities(logits)).max() < 1e-5
    if name not in READS_PADDING:  # masked and mean models do not depend on the padding width
        got = np.concatenate([run(ids, lengths) for ids, lengths in batches(sequences, None)])
        assert np.abs(got - expected).max() < 1e-5


@needs_onnx
@pytest.mark.parametrize("name", list(CASES))
def test_onnx_runtime_gives_pytorchs_probabilities(name, folders, exported):
    result = exported(name, "onnx")
    assert result["check"]["runtime"] == "onnxruntime" and result["check"]["max_abs_diff"] < 1e-5
    import onnx

    graph = onnx.load(result["model"]).graph
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(graph.input) + list(graph.output)}
    assert shapes == {"ids": ["batch", "time"], "lengths": ["batch"], "probabilities": ["batch", len(CASES[name][1])]}
    check_against_pytorch(folders[name], result, name)


@needs_onnx
@pytest.mark.parametrize("name", ["bilstm-masked", "mean-masked"])
def test_a_model_that_reads_every_word_exports_and_gives_pytorchs_probabilities(name, tmp_path):
    """A model trained without a maxlen (``data.maxlen = 0``) exports, and the file reads reviews of any length."""
    folder = make_folder(tmp_path, name, batching="bucketed", maxlen=None)
    result = export_model(folder, tmp_path / f"{name}.onnx")
    assert result["maxlen"] is None and result["check"]["max_abs_diff"] < 1e-5
    predictor = Predictor.load(folder)
    sequences = [[1] + seq for seq in reviews(predictor.encoder.vocab_size, n=200)] + [list(range(4, 24)) * 5]
    got = np.concatenate([runner(result)(ids, lengths) for ids, lengths in batches(sequences, None)])
    assert np.abs(got - predictor.predict_proba_ids(sequences)).max() < 1e-5


@pytest.mark.parametrize("name", ["lstm", "bilstm-masked", "lstm-masked", "mean", "bigru-2layers-masked-4labels"])
def test_torchscript_round_trip(name, folders, exported):
    result = exported(name, "torchscript")
    assert result["check"] == {"runtime": "torch.jit", "rows": 5, "max_abs_diff": result["check"]["max_abs_diff"]}
    check_against_pytorch(folders[name], result, name)


# -- the export-friendly forward pass is the model's forward pass -------------------------------------------
WRAPPED = [dict(RNN), dict(RNN, cell="gru"), dict(RNN, mask_padding=True), dict(RNN, cell="gru", mask_padding=True),
           dict(RNN, bidirectional=True), dict(RNN, bidirectional=True, mask_padding=True),
           dict(RNN, bidirectional=True, mask_padding=True, cell="gru"),
           dict(RNN, bidirectional=True, mask_padding=True, layers=3),
           dict(RNN, bidirectional=True, mask_padding=True, layers=2, cell="gru"),
           dict(RNN, mask_padding=True, layers=2), dict(RNN, layers=2, bidirectional=True),
           dict(type="mean-embedding", embedding_dim=8), dict(type="mean-embedding", embedding_dim=8, mask_padding=True)]


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("options", WRAPPED, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items() if k not in RNN))
def test_export_module_equals_the_models_forward(options, outputs):
    """Packing (bidirectional masked), the last-step gather (forward-only masked) and the rest, against
    the wrapper's dense, packing-free version, on batches with every length 1..width, lengths of 0
    and beyond the width (both clamped by the model) and a single row."""
    torch.manual_seed(0)
    model = randomize_(build_model(dict(options), vocab_size=60, num_outputs=outputs, maxlen=MAXLEN), seed=outputs)
    module = ExportModule(model)
    rng = np.random.default_rng(1)
    for width, rows in ((MAXLEN, 64), (7, 9), (1, 3), (13, 1)):
        lengths = rng.integers(1, width + 1, size=rows)
        lengths[: min(rows, width)] = np.arange(1, min(rows, width) + 1)
        ids = rng.integers(1, 60, size=(rows, width))
        ids[np.arange(width)[None, :] < (width - lengths)[:, None]] = 0
        given = lengths.copy()
        if rows > 2:
            given[0], given[1] = 0, width + 5  # the model clamps to 1..width
        ids_t, lengths_t = torch.from_numpy(ids), torch.from_numpy(given)
        with torch.no_grad():
            expected = model(ids_t, lengths_t).reshape(rows, outputs)
            got = module.logits(ids_t, lengths_t)
            probs = module(ids_t, lengths_t)
        assert got.shape == (rows, outputs)
        assert (got - expected).abs().max().item() < 1e-6
        assert np.abs(probs.numpy() - probabilities(expected.numpy().squeeze(-1) if outputs == 1 else expected.numpy())).max() < 1e-6


def test_masking_matters_in_these_checks():
    """The equality above is not vacuous: the masked bidirectional model's answer depends on lengths."""
    model = randomize_(build_model(dict(RNN, bidirectional=True, mask_padding=True), vocab_size=60, num_outputs=1,
                                   maxlen=MAXLEN), seed=3)
    ids = torch.randint(1, 60, (4, 10))
    with torch.no_grad():
        full = ExportModule(model)(ids, torch.full((4,), 10))
        shorter = ExportModule(model)(ids, torch.full((4,), 6))
    assert (full - shorter).abs().max().item() > 1e-3


# -- the preprocessing file -----------------------------------------------------------------------------------
def ids_from_spec(spec: dict, text: str) -> list[int]:
    """Another runtime's encoder, written from the preprocessing file alone (plain Python)."""
    tok, conv = spec["tokenizer"], spec["ids"]
    if tok["strip_html_breaks"]:
        text = re.sub(tok["html_break_pattern"], " ", text, flags=re.IGNORECASE)
    if tok["lower"]:
        text = text.lower()
    text = text.translate({ord(c): tok["split"] for c in tok["filters"]})
    words = [w for w in text.split(tok["split"]) if w]
    vocabulary, unknown = spec["vocabulary"], conv["unknown"]
    ids = list(conv["start_ids"]) + [vocabulary.get(w, unknown) for w in words if unknown is not None or w in vocabulary]
    if spec["maxlen"] is not None and len(ids) > spec["maxlen"]:
        ids = ids[-spec["maxlen"]:] if spec["truncating"] == "pre" else ids[: spec["maxlen"]]
    return ids


def test_preprocessing_file_reproduces_the_ids(folders, exported):
    result = exported("bilstm-masked", "torchscript")
    spec = read_preprocessing(result["preprocessing"])
    assert result["preprocessing"].endswith("bilstm-masked.preprocessing.json")
    assert spec["labels"] == ["negative", "positive"] and spec["padding"] == "pre" and spec["maxlen"] == MAXLEN
    assert {k: spec["ids"][k] for k in ("pad", "start", "unknown", "index_from")} == {"pad": 0, "start": 1, "unknown": 2,
                                                                                        "index_from": 3}
    assert spec["padding_changes_output"] is False and spec["model"]["file"] == "bilstm-masked.pt"
    encoder = ModelFolder(folders["bilstm-masked"]).load().encoder
    texts = ["W1 w2 FILM<br />great<BR/>Très ΣΟΦΌΣ, dull!", "", "unknown words only", " ".join(WORDS) * 2,
             "w3\tw4\nw5\rw6\xa0w7 İ ß"]
    assert [ids_from_spec(spec, t) for t in texts] == encoder.encode(texts)
    run = runner(result)
    for example in spec["examples"]:
        assert example["ids"] == ids_from_spec(spec, example["text"])
        ids = np.array([[0] * (example["padded_to"] - len(example["ids"])) + example["ids"]], dtype=np.int64)
        got = run(ids, np.array([len(example["ids"])], dtype=np.int64))[0]
        assert np.abs(got - np.array(example["probabilities"])).max() < 1e-5


def test_a_word_with_a_lone_surrogate_is_saved_loaded_and_exported(tmp_path):
    """A text read from JSON may hold a lone surrogate ("\\ud800"), which UTF-8 cannot hold: the model
    folder and the preprocessing file escape it, and read it back."""
    texts = TRAIN + ["odd\ud800word film"]
    encoder = TextEncoder.fit(texts, maxlen=MAXLEN)
    model = build_model(dict(type="mean-embedding", embedding_dim=8), vocab_size=encoder.vocab_size, num_outputs=1,
                        maxlen=MAXLEN)
    folder = tmp_path / "odd"
    ModelFolder(folder).save(model, encoder, ["negative", "positive"], {"recipe": {"name": "odd", "model": {"type": "mean-embedding", "embedding_dim": 8}},
                                                                      "preprocessing": {"batching": "exact"}})
    loaded = ModelFolder(folder).load().encoder
    assert loaded.encode(texts) == encoder.encode(texts)
    spec = read_preprocessing(export_model(folder, tmp_path / "odd.pt", "torchscript")["preprocessing"])
    assert "odd\ud800word" in spec["vocabulary"]
    assert ids_from_spec(spec, texts[-1]) == encoder.encode(texts[-1:])[0]


def test_the_preprocessing_file_has_the_keys_the_readme_lists(exported):
    spec = read_preprocessing(exported("lstm", "torchscript")["preprocessing"])
    assert list(spec) == ["format", "model", "labels", "tokenizer", "ids", "maxlen", "truncating", "truncating_rule",
                          "padding", "padding_rule", "batching", "padding_changes_output", "pad_to", "vocabulary",
                          "examples"]
    assert list(spec["model"]) == ["file", "format", "inputs", "outputs"]  # and "opset" for ONNX
    assert list(spec["ids"]) == ["pad", "start", "unknown", "index_from", "num_words", "skip_top", "rule", "start_ids"]
    assert {"html_break_pattern", "negation_pattern", "clause_end_pattern", "steps"} <= set(spec["tokenizer"])
    settings = ["strip_html_breaks", "lower", "remove", "negation_scope", "filters", "split", "stop_words"]
    steps = spec["tokenizer"]["steps"]  # one step per setting, in the order the tokenizer applies them
    assert len(steps) == len(settings) and all(name in step for name, step in zip(settings, steps)), steps
    assert steps[3].endswith("with 'NEG'")  # the prefix of a negated word, as the tokenizer writes it
    assert all(list(example) == ["text", "ids", "padded_to", "probabilities"] for example in spec["examples"])


def test_preprocessing_says_when_padding_matters(folders, exported):
    """An unmasked LSTM predicted with exact batching reads the padding: the file says to pad to maxlen,
    and its examples, padded so, carry the probabilities polarity gives those texts."""
    spec = read_preprocessing(exported("lstm", "torchscript")["preprocessing"])
    assert spec["padding_changes_output"] is True and spec["pad_to"] == "maxlen" and spec["batching"] == "exact"
    assert [example["padded_to"] for example in spec["examples"]] == [MAXLEN] * 3
    texts = [example["text"] for example in spec["examples"]]
    expected = Predictor.load(folders["lstm"]).predict_proba(texts)
    assert np.abs(np.array([example["probabilities"] for example in spec["examples"]]) - expected).max() < 1e-5


def test_examples_of_a_model_that_reads_its_padding_are_padded_to_maxlen_exactly(tmp_path):
    """With a maxlen as short as the examples, padding them any wider would show in their probabilities."""
    encoder = TextEncoder.fit(TRAIN, maxlen=6)
    model = randomize_(build_model(dict(RNN), vocab_size=encoder.vocab_size, num_outputs=1, maxlen=6), seed=3)
    folder = tmp_path / "short"
    ModelFolder(folder).save(model, encoder, ["negative", "positive"], {"recipe": {"name": "short", "model": dict(RNN)},
                                                                        "preprocessing": {"batching": "exact"}})
    spec = read_preprocessing(export_model(folder, tmp_path / "short.pt", "torchscript")["preprocessing"])
    assert [example["padded_to"] for example in spec["examples"]] == [6] * 3
    expected = Predictor.load(folder).predict_proba([example["text"] for example in spec["examples"]])
    assert np.abs(np.array([example["probabilities"] for example in spec["examples"]]) - expected).max() < 1e-5


def test_masked_and_mean_models_say_padding_does_not_matter(exported):
    for name in ("lstm-masked", "mean"):
        spec = read_preprocessing(exported(name, "torchscript")["preprocessing"])
        assert spec["padding_changes_output"] is False and spec["pad_to"] == "any", name
        assert [example["padded_to"] for example in spec["examples"]] == [len(e["ids"]) for e in spec["examples"]]


@pytest.mark.parametrize("options", [{"type": "rnn", "units": 3, "embedding_dim": 4, "recurrent_activation": "hard_sigmoid"},
                                     {"type": "rnn", "units": 3, "embedding_dim": 4, "pooling": "max"}])
def test_the_export_names_the_models_it_cannot_export(options):
    with pytest.raises(ConfigError) as error:
        ExportModule(build_model({"type": "tfidf-lr"}, vocab_size=20))
    assert str(error.value) == "cannot export a TfidfLogisticRegression: only 'rnn' and 'mean-embedding' models"
    with pytest.raises(ConfigError) as error:
        ExportModule(build_model(options, vocab_size=20))
    assert str(error.value) == ("cannot export an rnn with pooling over time or hard_sigmoid gates (a step loop): "
                                "only the last step of a fused LSTM/GRU is exported")


def test_a_file_without_the_preprocessing_format_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"format": "other/1", "labels": ["a", "b"]}))
    with pytest.raises(ConfigError) as error:
        read_preprocessing(path)
    assert str(error.value) == f"{path} is not a polarity preprocessing file (expected format polarity.preprocessing/1)"


# -- command line and errors ------------------------------------------------------------------------------------
def test_export_command(folders, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="polarity")
    add_export_parser(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    out = tmp_path / "sub" / "mean.pt"
    args = parser.parse_args(["export", str(folders["mean"]), "--format", "torchscript", "--out", str(out)])
    args.handler(args)
    printed = capsys.readouterr().out
    assert f"wrote {out} (TorchScript" in printed and "[negative, positive]" in printed
    assert "checked with torch.jit against PyTorch" in printed and "mean.preprocessing.json" in printed
    assert out.is_file() and (tmp_path / "sub" / "mean.preprocessing.json").is_file()
    args = parser.parse_args(["export", str(folders["mean"]), "--format", "torchscript", "--out", str(out), "--json"])
    args.handler(args)
    assert json.loads(capsys.readouterr().out)["labels"] == ["negative", "positive"]


def test_export_errors(folders, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="format"):
        export_model(folders["mean"], tmp_path / "m.x", "tflite")
    with pytest.raises(ConfigError, match="not a polarity model folder"):
        export_model(tmp_path, tmp_path / "m.pt", "torchscript")
    import polarity.inference.export

    monkeypatch.setattr(polarity.inference.export, "_importable", lambda name: name != "onnxscript")
    with pytest.raises(ConfigError, match=r"needs onnxscript: pip install 'polarity\[export\]'"):
        export_model(folders["mean"], tmp_path / "m.onnx", "onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_export_names_every_missing_module_and_the_extra(folders, tmp_path, monkeypatch):
    import polarity.inference.export

    monkeypatch.setattr(polarity.inference.export, "_importable", lambda name: name == "onnxruntime")
    with pytest.raises(ConfigError) as error:
        export_model(folders["mean"], tmp_path / "m.onnx")
    assert str(error.value) == ("ONNX export needs onnx and onnxscript: pip install 'polarity[export]' "
                                "(onnx, onnxscript, onnxruntime)")
    assert not list(tmp_path.iterdir())


@needs_onnx
def test_export_json_describes_the_files_in_the_opset_asked_for(folders, tmp_path, capsys):
    """``polarity export --json`` prints one JSON record of what was written; ``--opset`` is the
    opset of the ONNX file's graph."""
    import onnx

    parser = argparse.ArgumentParser(prog="polarity")
    add_export_parser(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    out = tmp_path / "mean.onnx"
    args = parser.parse_args(["export", str(folders["mean"]), "--out", str(out), "--opset", "19", "--json"])
    args.handler(args)
    record = json.loads(capsys.readouterr().out)
    check = record.pop("check")
    assert check["runtime"] == "onnxruntime" and check["max_abs_diff"] < 1e-4
    encoder = Predictor.load(folders["mean"]).encoder
    assert record == {"model": str(out), "format": "onnx", "bytes": out.stat().st_size,
                      "preprocessing": str(tmp_path / "mean.preprocessing.json"),
                      "inputs": {"ids": {"dtype": "int64", "shape": ["batch", "time"]},
                                 "lengths": {"dtype": "int64", "shape": ["batch"]}},
                      "outputs": {"probabilities": {"dtype": "float32", "shape": ["batch", 2]}},
                      "labels": ["negative", "positive"], "vocabulary_words": len(encoder.vocab.utf8_index()),
                      "maxlen": MAXLEN, "opset": 19}
    assert [(o.domain, o.version) for o in onnx.load(str(out)).opset_import if o.domain == ""] == [("", 19)]
    with pytest.raises(ConfigError) as error:
        export_model(folders["mean"], tmp_path / "m.x", "tflite")
    assert str(error.value) == "format must be one of onnx, torchscript, got 'tflite'"


@needs_onnx
def test_onnx_export_without_onnxruntime_says_the_file_was_not_run(folders, tmp_path, monkeypatch, capsys):
    import polarity.inference.export

    monkeypatch.setattr(polarity.inference.export, "_importable", lambda name: name != "onnxruntime")
    parser = argparse.ArgumentParser(prog="polarity")
    add_export_parser(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    out = tmp_path / "mean.onnx"
    args = parser.parse_args(["export", str(folders["mean"]), "--out", str(out)])
    args.handler(args)
    assert "\n  not run: onnxruntime is not installed: the file was not run\n" in capsys.readouterr().out
    args = parser.parse_args(["export", str(folders["mean"]), "--out", str(out), "--json"])
    args.handler(args)
    assert json.loads(capsys.readouterr().out)["check"] == {"runtime": None,
                                                             "note": "onnxruntime is not installed: the file was not run"}


def test_an_export_that_the_runtime_gets_wrong_is_refused_and_not_written(folders, tmp_path, monkeypatch):
    """The written file is run on a check batch of other sizes than the traced one (5 x 17): a
    runtime that fails on it, or answers more than 1e-4 away from PyTorch, stops the export."""
    import polarity.inference.export as export

    real = export.run_exported
    out = tmp_path / "mean.pt"

    def failing(*args):
        raise RuntimeError("time axis frozen at 12")

    monkeypatch.setattr(export, "run_exported", failing)
    with pytest.raises(PolarityError) as error:
        export_model(folders["mean"], out, "torchscript")
    assert str(error.value) == "the exported network fails on a (5, 17) check batch: time axis frozen at 12"
    for shift, refused in ((1e-3, True), (0.5, True), (3e-5, False)):
        monkeypatch.setattr(export, "run_exported", lambda *args, shift=shift: real(*args) + shift)
        if refused:
            with pytest.raises(PolarityError) as error:
                export_model(folders["mean"], out, "torchscript")
            assert str(error.value) == f"the exported network differs from PyTorch by {shift:.2g} on a check batch"
            assert not out.exists()
        else:
            assert export_model(folders["mean"], out, "torchscript")["check"]["max_abs_diff"] == pytest.approx(shift, abs=1e-6)


def test_bucketed_models_export_the_each_text_alone_function(folders, tmp_path):
    """A model trained with bucketed batches is predicted as if each review were alone: the export
    computes that too, so a runtime may pad a batch to its longest review."""
    import shutil

    folder = tmp_path / "bucketed"
    shutil.copytree(folders["lstm"], folder)
    config = json.loads((folder / "config.json").read_text())
    config["preprocessing"]["batching"] = "bucketed"
    (folder / "config.json").write_text(json.dumps(config))
    result = export_model(folder, tmp_path / "bucketed.pt", "torchscript")
    spec = read_preprocessing(result["preprocessing"])
    assert spec["padding_changes_output"] is False and spec["pad_to"] == "any"
    run = runner(result)
    sequences = reviews(ModelFolder(folder).load().encoder.vocab_size)[:300]
    expected = Predictor.load(folder).predict_proba_ids(sequences)
    got = np.concatenate([run(ids, lengths) for ids, lengths in batches(sequences, None)])
    assert np.abs(got - expected).max() < 1e-5


def test_the_preprocessing_file_states_its_patterns_and_shapes(folders, exported, tmp_path):
    """What a reimplementation reads: the negation and clause-end patterns of a negation-scope
    tokenizer, the network's inputs and output shapes; ONNX is the default format."""
    from polarity.data.tokenizer import CLAUSE_END, NEGATION, Tokenizer
    from polarity.inference.export import tokenizer_spec

    spec = tokenizer_spec(Tokenizer(negation_scope=True))
    assert (spec["negation_pattern"], spec["clause_end_pattern"]) == (NEGATION.pattern, CLAUSE_END.pattern)
    plain = tokenizer_spec(Tokenizer())  # no negation scope: neither pattern applies
    assert plain["negation_pattern"] is None and plain["clause_end_pattern"] is None
    model = read_preprocessing(exported("lstm", "torchscript")["preprocessing"])["model"]
    assert model["format"] == "torchscript" and "opset" not in model
    assert model["inputs"] == {"ids": {"dtype": "int64", "shape": ["batch", "time"]},
                               "lengths": {"dtype": "int64", "shape": ["batch"]}}
    assert model["outputs"] == {"probabilities": {"dtype": "float32", "shape": ["batch", "labels"]}}
    onnx = export_model(folders["mean"], tmp_path / "mean.onnx")  # ONNX is the default format
    model = read_preprocessing(onnx["preprocessing"])["model"]
    assert onnx["format"] == "onnx" and (model["format"], model["opset"], model["file"]) == ("onnx", 18, "mean.onnx")

"""Fingerprints of short seeded runs of every model kind, through the command line and the public API:
the hash of the saved weights, the metrics and history (timings left out), and what predict,
explain, evaluate and export give on fixed texts. ``tests/test_golden.py`` compares them with the
record of this machine (same CPU, same library versions); ``python -m tests.golden`` (re)records.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "golden"
TEXTS = ["A wonderful film, brilliant acting.", "Awful. Boring and stupid.", "the plot of the film", "",
         "great great great awful", "Not bad at all."]
SMALL_RNN = ["--set", "model.embedding_dim=8", "--set", "model.units=8", "--num-words", "200", "--epochs", "2"]
# kind -> `polarity train` arguments after the recipe's name (the data and --out come from the test)
KINDS: dict[str, list[str]] = {
    "mean-embedding": ["mean-embedding", "--num-words", "200", "--epochs", "2"],
    "lstm-exact": ["lstm-dropout", "--batching", "exact", "--maxlen", "40", *SMALL_RNN],
    "lstm-bucketed": ["lstm-dropout", "--maxlen", "40", *SMALL_RNN],
    "bilstm-masked": ["lstm-dropout", "--set", "model.bidirectional=true", "--set", "model.mask_padding=true",
                      "--set", "model.recurrent_dropout=0.2", *SMALL_RNN],
    "gru-max-mean": ["lstm-dropout", "--set", 'model.cell="gru"', "--set", 'model.pooling="max-mean"',
                     "--set", "model.mask_padding=true", *SMALL_RNN],
    "tfidf-lr": ["tfidf-lr"],
    "nbsvm": ["nbsvm"],
    "hybrid": ["lstm-hybrid", "--set", "model.words=200", "--set", "model.window=30", "--set", "model.units=8",
               "--set", "model.embedding_dim=8", "--epochs", "2"],
}
EXPORTED = ("mean-embedding", "lstm-exact", "lstm-bucketed", "bilstm-masked")
TIMING = ("seconds", "seconds_per_epoch", "command", "training_seconds", "pretraining_seconds")


def machine_key() -> str:
    """Same CPU (model and features), same threads and the same numeric libraries: exact results expected."""
    import onnxruntime
    import scipy
    import sklearn
    import torch

    cpu = ""
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((line for line in lines if line.startswith("model name")), "")
        flags = next((line for line in lines if line.startswith("flags")), "")
        cpu = model + " ".join(sorted(flags.split()))
    parts = [cpu, platform.machine(), platform.python_version(), torch.__version__, np.__version__, sklearn.__version__,
             scipy.__version__, onnxruntime.__version__, str(torch.get_num_threads())]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def weights_hash(path: Path) -> str:
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name]).tobytes())
    return digest.hexdigest()


def without_timing(value):
    """``value`` with every timing (and command-line) entry left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def cli(*argv: str) -> str:
    """``polarity ARGV`` in this process; its standard output (an error fails loudly)."""
    from polarity.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    if code:
        raise AssertionError(f"polarity {' '.join(argv)} -> {code}: {err.getvalue()}")
    return out.getvalue()


def write_data(folder: Path) -> dict[str, Path]:
    """Labelled CSV files of synthetic reviews: train, test, and a small evaluation set."""
    sys.path.insert(0, str(HERE))
    from conftest import synthetic_reviews

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, n, seed in (("train", 80, 1), ("test", 40, 11), ("eval", 12, 21)):
        rows = [(t, "positive") for t in synthetic_reviews(n, True, seed)] + \
               [(t, "negative") for t in synthetic_reviews(n, False, seed + 1)]
        paths[name] = folder / f"{name}.csv"
        with open(paths[name], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["review", "sentiment"])
            writer.writerows(rows)
    return paths


def folder_fingerprint(model_dir: Path, data: dict[str, Path], exported: bool, scratch: Path) -> dict:
    """Weights, metrics, history, and the answers of predict, explain, evaluate and export."""
    result = {
        "weights": weights_hash(model_dir / "model.safetensors"),
        "metrics": without_timing(json.loads((model_dir / "metrics.json").read_text())),
        "history": without_timing(json.loads((model_dir / "history.json").read_text())),
        "predict": json.loads(cli("predict", str(model_dir), *TEXTS, "--json")),
        "explain": json.loads(cli("explain", str(model_dir), TEXTS[0], TEXTS[4], "--json")),
        "evaluate": without_timing(json.loads(cli("evaluate", str(model_dir), "--dataset", str(data["eval"]), "--json"))),
    }
    if exported:
        result["export"] = export_fingerprint(model_dir, scratch)
    return result


def export_fingerprint(model_dir: Path, scratch: Path) -> dict:
    """Probabilities of the ONNX (on ONNX Runtime) and TorchScript exports on the fixed texts' ids."""
    import onnxruntime
    import torch

    from polarity.data import pad_sequences
    from polarity.inference import Predictor

    ids = Predictor.load(model_dir).encode(TEXTS)
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    padded = pad_sequences(ids, maxlen=int(lengths.max())).astype(np.int64)
    cli("export", str(model_dir), "--out", str(scratch / "model.onnx"))
    session = onnxruntime.InferenceSession(str(scratch / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx = session.run(None, {"ids": padded, "lengths": lengths})[0]
    cli("export", str(model_dir), "--format", "torchscript", "--out", str(scratch / "model.pt"))
    script = torch.jit.load(str(scratch / "model.pt"))
    with torch.no_grad():
        traced = script(torch.from_numpy(padded), torch.from_numpy(lengths)).numpy()
    return {"onnx": onnx.tolist(), "torchscript": traced.tolist()}


def pretrained_fingerprint(folder: Path, data: dict[str, Path]) -> dict:
    """One tiny epoch of ``polarity pretrain``, then a hybrid fine-tuned from its encoder."""
    sys.path.insert(0, str(HERE))
    from conftest import synthetic_reviews

    from polarity.training.pretrain import PretrainSettings, pretrain

    texts = synthetic_reviews(60, True, 31) + synthetic_reviews(60, False, 32)
    held = synthetic_reviews(10, True, 33)
    encoder = folder / "encoder"
    settings = PretrainSettings(words=60, embedding_dim=8, units=8, window=12, batch_size=8, lr=0.01, vectors=None,
                                held_out=10, epochs=1)
    config = pretrain(settings, encoder, texts=texts, held_out=held, device="cpu", log=lambda *a: None)
    tuned = folder / "tuned"
    cli("train", "bilstm-pretrained", "--train", str(data["train"]), "--test", str(data["test"]), "--out", str(tuned),
        "--device", "cpu", "--quiet", "--epochs", "1", "--set", f'model.encoder="{encoder}"', "--set", "model.units=8",
        "--set", "model.embedding_dim=8", "--set", "model.words=60", "--set", "model.window=30")
    return {"encoder": {"weights": weights_hash(encoder / "encoder.safetensors"),
                        "history": without_timing(config["history"])},
            "fine-tuned": folder_fingerprint(tuned, data, exported=False, scratch=folder)}


DISTRIBUTED = """
import os, sys
from polarity.engine import distributed
from polarity.training import load_recipe, train_recipe
distributed.init_from_env("cpu")
settings = {"data.num_words": 100, "data.maxlen": 40, "model.embedding_dim": 8, "model.units": 8, "training.epochs": 2,
            "training.batch_size": 8}
train_recipe(load_recipe("lstm-dropout", settings), sys.argv[2], train=sys.argv[1], device="cpu", progress=False,
             log=lambda *a: None)
distributed.shutdown()
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
"""


def distributed_fingerprint(folder: Path, data: dict[str, Path]) -> dict:
    """Two torchrun processes (gloo) training lstm-dropout: the weights and metrics."""
    script = folder / "ddp.py"
    script.write_text(DISTRIBUTED)
    out = folder / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", str(script),
               str(data["train"]), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return {"weights": weights_hash(out / "model.safetensors"),
            "metrics": without_timing(json.loads((out / "metrics.json").read_text()))}


def fingerprints(folder: Path) -> dict:
    """Every kind's fingerprint, trained into ``folder``."""
    data = write_data(folder / "data")
    found = {}
    for kind, args in KINDS.items():
        out = folder / kind
        cli("train", *args, "--train", str(data["train"]), "--test", str(data["test"]), "--out", str(out),
            "--device", "cpu", "--quiet")
        found[kind] = folder_fingerprint(out, data, kind in EXPORTED, folder / f"{kind}-export")
    found["pretrained"] = pretrained_fingerprint(folder / "pretrained", data)
    found["torchrun"] = distributed_fingerprint(folder, data)
    return json.loads(json.dumps(found).replace(str(folder), "<scratch>"))  # paths differ between runs


def record_path() -> Path:
    return RECORDS / f"{machine_key()}.json"


if __name__ == "__main__":
    import tempfile

    from polarity.files import write_json

    with tempfile.TemporaryDirectory() as scratch:
        write_json(record_path(), fingerprints(Path(scratch)))
    print(f"recorded {record_path()}")

"""Notebook 000's own model in Keras 3 beside ``polarity reproduce glove-lstm``, seed by seed.

Both read the same ids: the recipe's tokenisation (non-alphanumerics deleted, "the" dropped),
the training words that have a GloVe vector, the last 250 words, all 25,000 training reviews, and
the same embedding rows (GloVe 6B 50d; the reserved and unknown ids' random rows drawn with the
run's seed, as the recipe draws them). The Keras model is the notebook's, as close to the 2018 code
as Keras 3 allows:

- ``Embedding(weights=[GloVe], trainable=False, mask_zero=True)`` (a constant initialiser);
- ``LSTM(64, dropout=0.3, recurrent_dropout=0.1)`` with Keras 2's ``hard_sigmoid``
  (``clip(0.2 x + 0.5, 0, 1)``; Keras 3's own ``hard_sigmoid`` is ``relu6(x + 3) / 6``, another
  function), Keras's glorot-uniform kernel, orthogonal recurrent kernel, forget-gate bias 1;
- ``Dense(1, sigmoid)``; Adagrad as Keras 2.2 computed it: learning rate 0.01, accumulators from 0,
  ``w -= lr g / (sqrt(a) + 1e-7)`` (Keras 3 puts the epsilon inside the square root, which divides
  the first, small gradients by about sqrt(1e-7) instead of |g|);
- batch 100, one epoch, shuffled, then the accuracy on the 25,000 test reviews.

Every run is a fresh process; the seeds interleave the variants, so a busy moment hits all alike.

    python -m bench.notebook000 --seeds 10 --data aclImdb_v1.tar.gz   # about 2 hours on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RECIPE = "glove-lstm"
# variant -> recipe overrides for `polarity reproduce` (None: the Keras model)
VARIANTS: dict[str, list[str] | None] = {
    "keras": None,
    "keras-3-adagrad": None,
    "polarity": [],
    "polarity-sequence-mask": ["--set", 'model.recurrent_dropout_mask="sequence"'],
    "polarity-unknown-last": ["--set", 'data.unknown_vector="last"'],
}
DEFAULT_VARIANTS = ["keras", "polarity", "polarity-sequence-mask", "polarity-unknown-last"]


# -- the shared ids ----------------------------------------------------------------------------------------
def prepare(folder: Path, data: str | None) -> Path:
    """The recipe's ids of every training and test review, pre-padded to 250 as Keras reads them, and
    the model vocabulary (``folder/ids.npz``, ``folder/vocab.json``)."""
    from polarity.data import pad_sequences
    from polarity.training import load_recipe
    from polarity.training.pipeline import encode, fit_encoder, prepare_data, recipe_tokenizer

    recipe = load_recipe(RECIPE)
    splits = prepare_data(recipe, data=data, log=lambda *a: None)
    tokenizer = recipe_tokenizer(recipe)
    tokens = [tokenizer(text) for text in splits.fit.texts]
    encoder, _ = fit_encoder(recipe, tokens, tokenizer)
    train, test = encode(encoder, splits.fit, tokens), encode(encoder, splits.test)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "ids.npz", x_train=pad_sequences(train.sequences, maxlen=encoder.maxlen), y_train=train.labels,
             x_test=pad_sequences(test.sequences, maxlen=encoder.maxlen), y_test=test.labels)
    encoder.vocab.save(folder / "vocab.json")
    return folder


def embedding_rows(folder: Path, seed: int) -> np.ndarray:
    """The embedding matrix the recipe builds for ``seed`` (GloVe rows; reserved ids drawn with the seed)."""
    from polarity.data import Vocabulary
    from polarity.models.pretrained import load_glove, pretrained_matrix

    words, vectors = load_glove("glove-6b-50d")
    matrix, _ = pretrained_matrix(Vocabulary.load(folder / "vocab.json"), words, vectors, seed=seed)
    return matrix


# -- the Keras model ---------------------------------------------------------------------------------------
def keras2_hard_sigmoid(x):
    """Keras 2's ``hard_sigmoid``: clip(0.2 x + 0.5, 0, 1)."""
    from keras import ops

    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def keras22_adagrad(learning_rate: float = 0.01):
    """Keras 2.2's Adagrad: accumulators from 0, ``w -= lr g / (sqrt(a) + epsilon)``, epsilon 1e-7."""
    import keras
    from keras import ops

    class Keras22Adagrad(keras.optimizers.Adagrad):
        def update_step(self, gradient, variable, learning_rate):
            lr = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            accumulator = self._accumulators[self._get_variable_index(variable)]
            self.assign_add(accumulator, ops.square(gradient))
            self.assign_sub(variable, ops.divide(ops.multiply(lr, gradient), ops.add(ops.sqrt(accumulator), self.epsilon)))

    return Keras22Adagrad(learning_rate=learning_rate, initial_accumulator_value=0.0, epsilon=1e-7)


def keras_notebook_model(matrix: np.ndarray, maxlen: int, seed: int, optimizer: str = "keras-2.2"):
    """Notebook 000's model, compiled: frozen embedding with masking, LSTM 64 with Keras 2's gates and
    dropouts, a sigmoid output, Adagrad (Keras 2.2's, or Keras 3's own with ``optimizer="keras-3"``)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((maxlen,), dtype="int32"),
        layers.Embedding(matrix.shape[0], matrix.shape[1], embeddings_initializer=keras.initializers.Constant(matrix),
                         trainable=False, mask_zero=True),
        layers.LSTM(64, dropout=0.3, recurrent_dropout=0.1, recurrent_activation=keras2_hard_sigmoid),
        layers.Dense(1, activation="sigmoid"),
    ])
    adagrad = keras22_adagrad(0.01) if optimizer == "keras-2.2" else keras.optimizers.Adagrad(
        learning_rate=0.01, initial_accumulator_value=0.0, epsilon=1e-7)
    model.compile(optimizer=adagrad, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def keras_run(folder: Path, seed: int, optimizer: str) -> dict:
    import keras

    ids = np.load(folder / "ids.npz")
    model = keras_notebook_model(embedding_rows(folder, seed), ids["x_train"].shape[1], seed, optimizer)
    started = time.perf_counter()
    model.fit(ids["x_train"], ids["y_train"], batch_size=100, epochs=1, shuffle=True, verbose=0)
    train_seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(ids["x_test"], ids["y_test"], batch_size=100, verbose=0)
    return {"framework": f"keras {keras.__version__} ({keras.backend.backend()})", "test_accuracy": float(accuracy),
            "train_seconds": round(train_seconds, 1)}


# -- polarity ------------------------------------------------------------------------------------------------
def polarity_run(seed: int, overrides: list[str], data: str | None) -> dict:
    """``polarity reproduce glove-lstm --seed S`` in a fresh process; its report."""
    with tempfile.TemporaryDirectory(prefix="notebook000-") as out:
        command = [sys.executable, "-m", "polarity", "reproduce", RECIPE, "--seed", str(seed), "--seeds", "1",
                   "--out", out, *(["--data", data] if data else []), *overrides]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "failed")
        report = json.loads(next(Path(out).glob(f"{RECIPE}-*.json")).read_text())
    only = report["runs"][0]
    return {"framework": "polarity reproduce", "test_accuracy": only["test_accuracy"],
            "train_seconds": only["training_seconds"],
            "command": " ".join(["polarity reproduce", RECIPE, "--seed", str(seed), *overrides])}


# -- the table -----------------------------------------------------------------------------------------------
def summary(rows: list[dict]) -> dict:
    values = [100 * r["test_accuracy"] for r in rows]
    return {"runs": len(values), "mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def welch(a: list[dict], b: list[dict]) -> dict:
    from scipy.stats import ttest_ind

    test = ttest_ind([r["test_accuracy"] for r in a], [r["test_accuracy"] for r in b], equal_var=False)
    return {"t": float(test.statistic), "p": float(test.pvalue)}


def report(results: list[dict], variants: list[str]) -> str:
    lines = ["| variant | runs | mean | std | min | max | Welch's t against polarity (p) |", "|---|---|---|---|---|---|---|"]
    base = [r for r in results if r["variant"] == "polarity"]
    for variant in variants:
        rows = [r for r in results if r["variant"] == variant]
        if not rows:
            continue
        s = summary(rows)
        versus = welch(rows, base) if variant != "polarity" and len(rows) > 1 and len(base) > 1 else None
        test = f"t = {versus['t']:.2f} (p = {versus['p']:.3f})" if versus else "-"
        lines.append(f"| {variant} | {s['runs']} | {s['mean']:.2f} | {s['std']:.2f} | {s['min']:.2f} | {s['max']:.2f} | {test} |")
    return "\n".join(lines)


def one(args) -> None:
    started = time.perf_counter()
    row = keras_run(args.folder, args.seed, "keras-2.2" if args.variant == "keras" else "keras-3")
    row.update(seconds=round(time.perf_counter() - started, 1))
    print(json.dumps(row))


def run_variant(variant: str, seed: int, folder: Path, data: str | None) -> dict:
    started = time.perf_counter()
    if VARIANTS[variant] is None:
        command = [sys.executable, "-m", "bench.notebook000", "--one", variant, "--seed", str(seed), "--folder", str(folder)]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(run.stderr.strip()[-1500:])
        row = json.loads(run.stdout.strip().splitlines()[-1])
    else:
        row = polarity_run(seed, VARIANTS[variant], data)
    return dict(row, variant=variant, seed=seed, wall_seconds=round(time.perf_counter() - started, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 of every variant")
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--data", default=os.environ.get("POLARITY_DATA"), help="the aclImdb archive or folder")
    parser.add_argument("--out", type=Path, default=Path("bench/results/notebook000.json"),
                        help="results, kept as they come (a second run continues where one stopped)")
    parser.add_argument("--one", choices=["keras", "keras-3-adagrad"], dest="variant", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        return one(args)
    results: list[dict] = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["variant"], r["seed"]) for r in results}
    folder = Path(tempfile.mkdtemp(prefix="notebook000-ids-"))
    if any(VARIANTS[v] is None for v in args.variants):
        prepare(folder, args.data)
    for seed in range(args.seeds):
        for variant in args.variants:
            if (variant, seed) in done:
                continue
            try:
                row = run_variant(variant, seed, folder, args.data)
            except RuntimeError as exc:
                print(f"{variant} seed {seed} failed: {exc}", file=sys.stderr, flush=True)
                continue
            results.append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
            print(json.dumps(row), flush=True)
    print(report(results, args.variants))


if __name__ == "__main__":
    main()

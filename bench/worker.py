"""One measurement in a fresh process (so peak memory is its own): train N batches, test, infer.

    python -m bench.worker keras|polarity-bucketed|polarity-exact|polarity-bf16|... FOLDER --batches N
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

WARMUP = 5
FRAMEWORKS = {  # name -> polarity's (batching, precision, shards); Keras has its own runner
    "keras": None,
    "polarity-bucketed": ("bucketed", "float32", 1),
    "polarity-exact": ("exact", "float32", 1),
    "polarity-bf16": ("bucketed", "bfloat16", 1),
    "polarity-shards": ("bucketed", "float32", 2),
    "polarity-bf16-shards": ("bucketed", "bfloat16", 2),
}


def steady_epoch_seconds(stamps: list[float], batches_per_epoch: int) -> float:
    """Seconds per epoch from per-batch end times, leaving out the warm-up batches."""
    steady = np.diff(stamps[WARMUP:])
    return float(np.mean(steady) * batches_per_epoch)


def latency(call, inputs: list) -> dict:
    times = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        times.append(1000 * (time.perf_counter() - started))
    return {"median_ms": round(statistics.median(times), 2), "p99_ms": round(float(np.percentile(times, 99)), 2)}


def keras_model(meta: dict, seed: int):
    """The notebook's Keras model (Embedding, Dropout, LSTM, Dropout, Dense), compiled, weights from ``seed``."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    m, t = meta["recipe"]["model"], meta["recipe"]["training"]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((meta["maxlen"],)),
        layers.Embedding(meta["vocab_size"], m["embedding_dim"]),
        layers.Dropout(m.get("embedding_dropout", 0.0)),
        layers.LSTM(m["units"]),
        layers.Dropout(m.get("output_dropout", 0.0)),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(t["lr"]), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def run_keras(folder: Path, meta: dict, data, batches: int, batch_size: int) -> dict:
    model = keras_model(meta, seed=0)
    import keras  # after keras_model has set the backend's environment
    stamps: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    n = batches * batch_size
    started = time.perf_counter()
    model.fit(data["x_train"][:n], data["y_train"][:n], batch_size=batch_size, epochs=1, shuffle=True, verbose=0,
              callbacks=[Clock()])
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    probs = model.predict(data["x_test"], batch_size=256, verbose=0).ravel()
    infer_seconds = time.perf_counter() - started
    single = latency(model.predict_on_batch, [data["x_test"][i : i + 1] for i in range(200)])
    return {
        "framework": f"keras {keras.__version__} ({keras.backend.backend()})",
        "train_seconds": train_seconds, "stamps": stamps,
        "test_accuracy": float(((probs >= 0.5) == data["y_test"]).mean()),
        "infer_reviews_per_s": len(probs) / infer_seconds, "infer_note": "padded ids (tokenised beforehand)",
        "single": single,
    }


def run_polarity(folder: Path, meta: dict, data, batches: int, batch_size: int, batching: str,
                 precision: str = "float32", shards: int = 1) -> dict:
    import torch

    from bench.prepare import sequences_from_padded
    from polarity import __version__
    from polarity.data import TextEncoder, Vocabulary
    from polarity.engine import EncodedSet, predict_logits
    from polarity.inference import Predictor
    from polarity.models.folder import ModelConfig, model_options
    from polarity.models.registry import build_model
    from polarity.training.loop import make_optimizer
    from polarity.training.trainer import Trainer
    from polarity.training.recipes import Recipe

    recipe = Recipe.from_dict(meta["recipe"]).with_overrides({
        "training.batching": batching, "training.batch_size": batch_size, "training.precision": precision,
        "training.shards": shards})
    t = recipe.training
    torch.manual_seed(0)
    model = build_model(model_options(recipe.model, meta["maxlen"]), vocab_size=meta["vocab_size"])
    optimizer = make_optimizer(t.optimizer, model.parameters(), t.lr)
    train = EncodedSet(sequences_from_padded(data["x_train"], data["train_lengths"]), data["y_train"].astype(np.int8))
    test = EncodedSet(sequences_from_padded(data["x_test"], data["test_lengths"]), data["y_test"].astype(np.int8))
    trainer = Trainer(model, optimizer, train, None, training=t, maxlen=meta["maxlen"], device=torch.device("cpu"),
                      checkpoint=folder / "unused.safetensors", progress=False)
    stamps = []
    started = time.perf_counter()
    for indices in trainer.epoch_batches(0)[:batches]:
        trainer.train_step(indices)
        stamps.append(time.perf_counter())
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    logits = predict_logits(model, test, batching=batching, maxlen=meta["maxlen"], device=torch.device("cpu"),
                            precision=trainer.task.precision)
    infer_seconds = time.perf_counter() - started

    encoder = TextEncoder(Vocabulary.load(folder / "vocab.json"), maxlen=meta["maxlen"])
    config = ModelConfig(recipe.to_dict(), ["negative", "positive"], {"batching": batching})
    predictor = Predictor(model.eval(), config, encoder, torch.device("cpu"), trainer.task.precision)
    texts = json.loads((folder / "texts.json").read_text())
    started = time.perf_counter()
    predictor.predict_proba(texts)
    raw_per_s = len(texts) / (time.perf_counter() - started)
    return {
        "framework": f"polarity {__version__} (torch {torch.__version__}, {batching}"
                     + {"bfloat16": ", bfloat16"}.get(trainer.task.precision, ", float32: no bfloat16 kernels here" if precision == "bfloat16" else "") + (f", {shards} shards)" if shards > 1 else ")"),
        "train_seconds": train_seconds, "stamps": stamps,
        "test_accuracy": float(((logits > 0) == data["y_test"]).mean()),
        "infer_reviews_per_s": len(logits) / infer_seconds, "infer_note": "ids, as Keras",
        "infer_raw_text_reviews_per_s": raw_per_s,
        "single": latency(lambda text: predictor.predict_proba([text]), texts[:200]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("framework", choices=list(FRAMEWORKS))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--batches", type=int, required=True)
    args = parser.parse_args()
    meta = json.loads((args.folder / "meta.json").read_text())
    data = dict(np.load(args.folder / "data.npz"))
    batch_size = meta["recipe"]["training"]["batch_size"]  # the recipe as JSON (Recipe.to_dict)
    batches = min(args.batches, -(-len(data["y_train"]) // batch_size))
    if args.framework == "keras":
        result = run_keras(args.folder, meta, data, batches, batch_size)
    else:
        result = run_polarity(args.folder, meta, data, batches, batch_size, *FRAMEWORKS[args.framework])
    per_epoch = -(-len(data["y_train"]) // batch_size)
    result.update(
        batches=batches,
        epoch_seconds=steady_epoch_seconds(result.pop("stamps"), per_epoch),
        train_reviews_per_s=batches * batch_size / result["train_seconds"],
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

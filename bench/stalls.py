"""How often does the first epoch of ``lstm-dropout`` stall, in polarity and in the Keras original?

Both read the same ids (all 25,000 training reviews, tokenised once by ``bench.prepare``); each
seed trains one epoch in a fresh process per framework, then scores the 25,000 test reviews. An
epoch "stalls" when its test accuracy stays below 60 % (a learning model is past 80 % by then).

    python -m bench.stalls --seeds 10            # about 20 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STALLED = 0.60


def keras_epoch(meta: dict, data, seed: int) -> dict:
    from bench.worker import keras_model

    t = meta["recipe"]["training"]
    model = keras_model(meta, seed)
    import keras  # after keras_model has set the backend's environment
    history = model.fit(data["x_train"], data["y_train"], batch_size=t["batch_size"], epochs=1, shuffle=True, verbose=0)
    probs = model.predict(data["x_test"], batch_size=256, verbose=0).ravel()
    return {"framework": f"keras {keras.__version__}", "train_accuracy": float(history.history["accuracy"][-1]),
            "test_accuracy": float(((probs >= 0.5) == data["y_test"]).mean())}


def polarity_epoch(meta: dict, data, seed: int, batching: str) -> dict:
    import torch

    from bench.prepare import sequences_from_padded
    from polarity import __version__
    from polarity.engine import EncodedSet, predict_logits
    from polarity.models.folder import model_options
    from polarity.models.registry import build_model
    from polarity.training.loop import make_optimizer
    from polarity.training.trainer import Trainer
    from polarity.training.recipes import Recipe

    recipe = Recipe.from_dict(meta["recipe"]).with_overrides({"training.seed": seed, "training.batching": batching})
    t = recipe.training
    torch.manual_seed(seed)  # as train_recipe does before building the model
    model = build_model(model_options(recipe.model, meta["maxlen"]), vocab_size=meta["vocab_size"])
    optimizer = make_optimizer(t.optimizer, model.parameters(), t.lr)
    train = EncodedSet(sequences_from_padded(data["x_train"], data["train_lengths"]), data["y_train"])
    test = EncodedSet(sequences_from_padded(data["x_test"], data["test_lengths"]), data["y_test"])
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(model, optimizer, train, None, training=t, maxlen=meta["maxlen"], device=torch.device("cpu"),
                          checkpoint=Path(scratch) / "unused.safetensors", progress=False)
        for indices in trainer.epoch_batches(0):
            trainer.train_step(indices)
    logits = predict_logits(model, test, batching=batching, maxlen=meta["maxlen"], device=torch.device("cpu"))
    return {"framework": f"polarity {__version__} ({batching})", "train_accuracy": float(trainer.state.correct) / trainer.state.seen,
            "test_accuracy": float(((logits > 0) == data["y_test"]).mean())}


def one(args) -> None:
    meta = json.loads((args.folder / "meta.json").read_text())
    data = np.load(args.folder / "data.npz")
    started = time.perf_counter()
    if args.framework == "keras":
        result = keras_epoch(meta, data, args.seed)
    else:
        result = polarity_epoch(meta, data, args.seed, args.framework.split("-", 1)[1])
    result.update(seed=args.seed, seconds=round(time.perf_counter() - started, 1))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--frameworks", nargs="+", default=["polarity-bucketed", "keras"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/stalls.json"))
    parser.add_argument("--one", choices=["keras", "polarity-bucketed", "polarity-exact"], dest="framework")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.framework:
        return one(args)
    from bench.prepare import prepare

    folder = prepare("lstm-dropout", Path(tempfile.mkdtemp(prefix="stalls-")))
    results: list[dict] = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["kind"], r["seed"]) for r in results}
    for seed in range(args.seeds):
        for kind in args.frameworks:
            if (kind, seed) in done:
                continue
            command = [sys.executable, "-m", "bench.stalls", "--one", kind, "--seed", str(seed), "--folder", str(folder)]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{kind} seed {seed} failed:\n{run.stderr[-2000:]}", file=sys.stderr, flush=True)
                continue
            row = dict(json.loads(run.stdout.strip().splitlines()[-1]), kind=kind)
            results.append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
            print(json.dumps(row), flush=True)
    for kind in args.frameworks:
        rows = [r for r in results if r["kind"] == kind]
        stalls = sum(r["test_accuracy"] < STALLED for r in rows)
        accs = ", ".join(f"{100 * r['test_accuracy']:.1f}" for r in sorted(rows, key=lambda r: r["seed"]))
        print(f"{kind}: {stalls}/{len(rows)} first epochs stalled (test accuracy < {STALLED:.0%}); per seed: {accs}")


if __name__ == "__main__":
    main()

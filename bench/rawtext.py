"""Raw-text prediction speed: reviews per second from text to probabilities, per backend and source tree.

    python -m bench.rawtext MODEL_DIR                                   # torch and onnxruntime backends
    python -m bench.rawtext MODEL_DIR --source OLD_CHECKOUT/src --label before

Each measurement runs in a fresh process (``--source`` puts another checkout of polarity first on
``PYTHONPATH``, e.g. the tree an issue's figure was measured on): it loads the model folder, reads the
IMDB test reviews and times ``Predictor.predict_proba(texts)`` (tokenising, batching, the network)
on them, best of ``--rounds``, after one warm-up pass on 256 reviews. Run it with the cores otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, sys, time
import torch
import polarity
from polarity.data import load_imdb
from polarity.inference import Predictor
model, limit, rounds, backend = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
options = {"default": {}, "bfloat16": {"precision": "bfloat16"}}.get(backend, {"backend": backend})
predictor = Predictor.load(model, **options)
texts = load_imdb().test.texts
texts = texts[:limit] if limit else texts
predictor.predict_proba(texts[:256])
best = float("inf")
for _ in range(rounds):
    started = time.perf_counter()
    probs = predictor.predict_proba(texts)
    best = min(best, time.perf_counter() - started)
print(json.dumps({"reviews": len(texts), "seconds": best, "reviews_per_s": len(texts) / best,
                  "positive_share": float((probs.argmax(1) == probs.shape[1] - 1).mean()), "threads": torch.get_num_threads(),
                  "polarity": polarity.__file__}))
"""


def measure(model: str, backend: str, source: str | None, limit: int, rounds: int) -> dict:
    env = dict(os.environ)
    if source:
        env["PYTHONPATH"] = os.path.abspath(source) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", CHILD, model, str(limit), str(rounds), backend], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {backend} run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m bench.rawtext", description=__doc__.split("\n")[0])
    parser.add_argument("model", metavar="MODEL_DIR")
    parser.add_argument("--backend", action="append", help="torch, onnxruntime, bfloat16 (torch in bfloat16), or "
                        "default (the source's own Predictor.load, for trees without backends); repeat (default: "
                        "torch and onnxruntime)")
    parser.add_argument("--source", metavar="SRC", help="another polarity source tree to measure (its src/ folder)")
    parser.add_argument("--label", default="this tree", help="name of the source in the table")
    parser.add_argument("--limit", type=int, default=0, help="first N test reviews (default: all 25,000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    print("| source | backend | reviews | seconds | reviews/s | share of the last label |")
    print("|---|---|---|---|---|---|")
    for backend in args.backend or ["torch", "onnxruntime"]:
        result = measure(args.model, backend, args.source, args.limit, args.rounds)
        rows.append({"source": args.label, "backend": backend, **result})
        print(f"| {args.label} | {backend} | {result['reviews']:,} | {result['seconds']:.2f} | "
              f"{result['reviews_per_s']:,.0f} | {result['positive_share']:.4f} |  ({result['polarity']})", flush=True)
    return rows


if __name__ == "__main__":
    main()

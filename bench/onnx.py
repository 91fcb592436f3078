"""ONNX Runtime vs polarity's own prediction, on the same encoded IMDB test reviews.

    python -m bench.onnx MODEL_DIR                   # all 25,000 test reviews, 3 rounds, 200 single reviews
    python -m bench.onnx MODEL_DIR --limit 2000 --rounds 1 --single 50     # a smoke run
    python -m bench.onnx MODEL_DIR --onnx model.onnx # an existing export instead of a fresh one

The reviews are encoded once with the model's own encoder (timed too: raw-text encoding speed).
Both sides get the same batches: the model folder's batching (``bucketed``: sorted by length and
padded to each batch's longest review; ``exact``: padded to maxlen), ``--batch-size`` reviews each.
polarity runs ``Predictor.predict_proba_ids`` (its batches side by side on the cores); ONNX Runtime
runs one batch after another with ``--threads`` intra-op threads (default: torch's thread count).
Both flush subnormal floats to zero. Throughput is the best of ``--rounds``; single-review latency
is the median and 90th percentile over ``--single`` reviews, each alone in its batch.
Needs the ``export`` extra (onnx, onnxscript, onnxruntime); the data comes from ``POLARITY_DATA``
(or the cache or download, as for every polarity command).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def best_seconds(function, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def latency_ms(function, items: list, warmup: int = 5) -> dict:
    for item in items[:warmup]:
        function(item)
    times = []
    for item in items:
        started = time.perf_counter()
        function(item)
        times.append(1000 * (time.perf_counter() - started))
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)), "reviews": len(items)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.onnx", description=__doc__.split("\n")[0])
    parser.add_argument("model", metavar="MODEL_DIR")
    parser.add_argument("--onnx", metavar="FILE", help="an existing export of MODEL_DIR (default: export to a temporary file)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N test reviews (default: all 25,000)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="throughput: best of N passes (default 3)")
    parser.add_argument("--single", type=int, default=200, help="reviews timed one at a time (default 200)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    import onnxruntime

    from polarity.data import load_imdb
    from polarity.data.batching import collate
    from polarity.engine.batches import EncodedSet, plan_batches
    from polarity.inference.export import export_model
    from polarity.inference import Predictor

    predictor = Predictor.load(args.model)
    texts = load_imdb().test.texts
    texts = texts[: args.limit] if args.limit else texts
    started = time.perf_counter()
    ids = predictor.encoder.encode(texts)
    encode_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.onnx) if args.onnx else Path(tmp) / "model.onnx"
        export_s = None
        if not args.onnx:
            started = time.perf_counter()
            export_model(args.model, path, "onnx")
            export_s = time.perf_counter() - started
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads or torch.get_num_threads()
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        width = predictor.maxlen if predictor.batching == "exact" else None
        data = EncodedSet.unlabelled(ids)
        planned = [(indices, *collate(ids, indices, maxlen=width))
                   for indices in plan_batches(data, predictor.batching, args.batch_size, seed=None)]

        def onnx_all() -> np.ndarray:
            out = np.zeros((len(ids), len(predictor.labels)), dtype=np.float32)
            for indices, batch, lengths in planned:  # batches padded beforehand: the runtime alone
                out[indices] = session.run(None, {"ids": batch, "lengths": lengths})[0]
            return out

        def onnx_with_padding() -> np.ndarray:  # what a caller pays: plan, pad, run (as predict_proba_ids does)
            out = np.zeros((len(ids), len(predictor.labels)), dtype=np.float32)
            for indices in plan_batches(data, predictor.batching, args.batch_size, seed=None):
                batch, lengths = collate(ids, indices, maxlen=width)
                out[indices] = session.run(None, {"ids": batch, "lengths": lengths})[0]
            return out

        def onnx_one(seq: list[int]) -> np.ndarray:
            w = width or len(seq)
            batch = np.zeros((1, w), dtype=np.int64)
            batch[0, w - len(seq):] = seq
            return session.run(None, {"ids": batch, "lengths": np.array([len(seq)], dtype=np.int64)})[0]

        ours = predictor.predict_proba_ids(ids, args.batch_size)
        theirs = onnx_with_padding()
        polarity_s = best_seconds(lambda: predictor.predict_proba_ids(ids, args.batch_size), args.rounds)
        onnx_s = best_seconds(onnx_with_padding, args.rounds)
        onnx_run_only_s = best_seconds(onnx_all, args.rounds)
        step = max(1, len(ids) // max(1, args.single))
        sample = ids[::step][: args.single]
        single_polarity = latency_ms(lambda seq: predictor.predict_proba_ids([seq]), sample)
        single_onnx = latency_ms(onnx_one, sample)
        size = path.stat().st_size

    n = len(ids)
    result = {
        "model": str(args.model), "reviews": n, "labels": predictor.labels, "batching": predictor.batching,
        "batch_size": args.batch_size, "maxlen": predictor.maxlen, "torch_threads": torch.get_num_threads(),
        "onnx_threads": options.intra_op_num_threads, "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(), "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
        "encode_seconds": encode_s, "encode_reviews_per_s": n / encode_s, "export_seconds": export_s, "onnx_bytes": size,
        "polarity_reviews_per_s": n / polarity_s, "onnx_reviews_per_s": n / onnx_s,
        "onnx_run_only_reviews_per_s": n / onnx_run_only_s,
        "single_polarity": single_polarity, "single_onnx": single_onnx,
        "max_abs_diff": float(np.abs(theirs - ours).max()),
        "same_label": int((theirs.argmax(1) == ours.argmax(1)).sum()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return result


def report(r: dict) -> str:
    export = f"export {r['export_seconds']:.1f} s, " if r["export_seconds"] is not None else ""
    single_p, single_o = r["single_polarity"], r["single_onnx"]
    setup = (f"{r['model']}: {r['reviews']:,} IMDB test reviews, {len(r['labels'])} labels, {r['batching']} batches of "
             f"{r['batch_size']}, maxlen {r['maxlen']}; {r['cores']} cores, torch {r['torch']} ({r['torch_threads']} "
             f"threads), onnxruntime {r['onnxruntime']} ({r['onnx_threads']} threads)")
    encoding = (f"encoding (TextEncoder.encode, once): {r['encode_seconds']:.2f} s = {r['encode_reviews_per_s']:,.0f} "
                f"reviews/s; {export}ONNX file {r['onnx_bytes'] / 1e6:.2f} MB")
    ratio = (f"onnxruntime / polarity: {r['onnx_reviews_per_s'] / r['polarity_reviews_per_s']:.2f}x reviews/s, "
             f"{single_p['median_ms'] / single_o['median_ms']:.2f}x faster single review (median)")
    agreement = (f"agreement: max |p_onnx - p_polarity| = {r['max_abs_diff']:.1e}; same label for {r['same_label']:,} "
                 f"of {r['reviews']:,} reviews")
    return "\n".join([
        setup,
        encoding,
        f"{'':28}{'reviews/s':>10}   single review: median / p90 ms",
        f"{'polarity predict_proba_ids':28}{r['polarity_reviews_per_s']:>10,.0f}   "
        + f"{single_p['median_ms']:.2f} / {single_p['p90_ms']:.2f}",
        f"{'onnxruntime (pad + run)':28}{r['onnx_reviews_per_s']:>10,.0f}   "
        + f"{single_o['median_ms']:.2f} / {single_o['p90_ms']:.2f}",
        f"{'onnxruntime (run only)':28}{r['onnx_run_only_reviews_per_s']:>10,.0f}",
        ratio,
        agreement,
    ])

if __name__ == "__main__":
    main()

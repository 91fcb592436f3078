"""The micro-benchmarks behind docs/PERFORMANCE.md's experiments 6, 7, 9, 12 and 13.

    python -m bench.micro lstm [--denormals kept|late|flushed] [--precision bfloat16] [--batch 64] [--threads N]
    python -m bench.micro dropout
    python -m bench.micro predict            # 25,000 test reviews: batches one after another vs side by side

`lstm` times an ``nn.LSTM(32, 100)`` forward and backward on a batch of 231 steps of N(0, 1)
inputs (PyTorch's initialisation). ``--denormals late`` sets ``torch.set_flush_denormal`` only
after PyTorch's threads exist, as a program that used torch before would. Two processes at once
(experiment 12): ``python -m bench.micro lstm --batch 32 --threads 1 & python -m bench.micro lstm --batch 32 --threads 1``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def mean_ms(function, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        function()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return 1000 * (time.perf_counter() - started) / repeats


def bench_lstm(args) -> None:
    from polarity.engine import bfloat16_supported, flush_denormals

    if args.precision == "bfloat16" and not bfloat16_supported("cpu"):
        raise SystemExit("this CPU has no bfloat16 LSTM kernels (they need AVX-512): nothing to measure")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.denormals == "flushed":
        flush_denormals()  # before PyTorch's threads exist, as importing polarity.models does
    torch.randn(500, 500) @ torch.randn(500, 500)  # PyTorch's threads exist from here on
    if args.denormals == "late":
        torch.set_flush_denormal(True)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 231, 32)
    lstm = nn.LSTM(32, 100, batch_first=True)
    times = {"forward": [], "backward": []}

    def step() -> None:
        inputs = x.clone().requires_grad_()
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bfloat16"):
            _, (hidden, _) = lstm(inputs)
        middle = time.perf_counter()
        hidden.float().sum().backward()
        times["forward"].append(middle - started)
        times["backward"].append(time.perf_counter() - middle)

    mean_ms(step, args.repeats)
    forward, backward = (1000 * float(np.mean(times[k][3:])) for k in ("forward", "backward"))
    print(f"lstm batch {args.batch}, threads {torch.get_num_threads()}, denormals {args.denormals}, {args.precision}: "
          f"forward {forward:.1f} ms, backward {backward:.1f} ms")


def bench_dropout(args) -> None:
    from polarity.models.classifiers import Dropout

    x = torch.randn(64, 231, 32, requires_grad=True)
    grad = torch.randn_like(x)
    ours = Dropout(0.2).train()
    print(f"F.dropout (bernoulli_): {mean_ms(lambda: F.dropout(x, 0.2, True).backward(grad), 50):.2f} ms")
    print(f"polarity Dropout (uniform noise): {mean_ms(lambda: ours(x).backward(grad), 50):.2f} ms")


def bench_predict(args) -> None:
    from polarity.data import TextEncoder, load_imdb
    from polarity.engine import EncodedSet, predict_logits
    from polarity.models.folder import model_options
    from polarity.models.registry import build_model
    from polarity.training import load_recipe

    corpus = load_imdb()
    encoder = TextEncoder.fit(corpus.train.texts[:5000], num_words=5000, maxlen=500)
    test = EncodedSet(encoder.encode(corpus.test.texts), corpus.test.labels)
    torch.manual_seed(0)
    model = build_model(model_options(load_recipe("lstm-dropout").model, 500), vocab_size=5000)
    from polarity.engine import bfloat16_supported

    for precision in ("float32", "bfloat16") if bfloat16_supported("cpu") else ("float32",):
        rates, outputs = {}, {}
        for name, workers in (("one after another", 1), ("side by side", None)):
            started = time.perf_counter()
            outputs[name] = predict_logits(model, test, batching="bucketed", maxlen=500, device=torch.device("cpu"),
                                           precision=precision, workers=workers)
            rates[name] = len(test) / (time.perf_counter() - started)
        gap = float(np.abs(outputs["one after another"] - outputs["side by side"]).max())
        print(f"{precision}: " + ", ".join(f"{k} {v:,.0f} reviews/s" for k, v in rates.items()) + f"; largest difference {gap}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    lstm = commands.add_parser("lstm")
    lstm.add_argument("--denormals", choices=["kept", "late", "flushed"], default="flushed")
    lstm.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    lstm.add_argument("--batch", type=int, default=64)
    lstm.add_argument("--threads", type=int, default=0)
    lstm.add_argument("--repeats", type=int, default=20)
    lstm.set_defaults(run=bench_lstm)
    commands.add_parser("dropout").set_defaults(run=bench_dropout)
    commands.add_parser("predict").set_defaults(run=bench_predict)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()

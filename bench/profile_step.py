"""Where a training step's time goes (collate, forward, backward, optimizer), for one recipe on this machine.

    python -m bench.profile_step [--recipe lstm-dropout] [--batching bucketed] [--batches 60] [--threads N]
                                 [--keep-denormals]
                                 [--set model.mask_padding=false]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from polarity.data import TextEncoder, load_imdb
from polarity.engine import EncodedSet, autocast, make_batch, plan_batches
from polarity.engine.predict import loss_and_correct
from polarity.models.folder import model_options
from polarity.models.registry import build_model
from polarity.training import load_recipe
from polarity.training.loop import make_optimizer
from polarity.training.recipes import parse_assignment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", default="lstm-dropout")
    parser.add_argument("--batching", default="bucketed", choices=["bucketed", "exact"])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: default)")
    parser.add_argument("--keep-denormals", action="store_true", help="leave subnormal floats on (PyTorch's default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.keep_denormals:
        torch.set_flush_denormal(False)  # before PyTorch starts its threads (importing polarity.models set it)
    recipe = load_recipe(args.recipe, dict(parse_assignment(item) for item in args.set))
    model_section = {k: v for k, v in recipe.model.items() if k != "pretrained"}  # timing only: random vectors
    d, t = recipe.data, recipe.training
    texts = load_imdb().train
    maxlen = d.maxlen or None
    encoder = TextEncoder.fit(texts.texts, num_words=d.num_words or None, maxlen=maxlen)
    data = EncodedSet(encoder.encode(texts.texts), texts.labels.astype(np.int64))
    torch.manual_seed(0)
    model = build_model(model_options(model_section, maxlen), vocab_size=encoder.vocab_size).train()
    optimizer = make_optimizer(t.optimizer, model.parameters(), t.lr)
    width = maxlen if args.batching == "exact" else None
    times = {"collate": [], "forward": [], "backward": [], "optimizer": []}
    batches = plan_batches(data, args.batching, t.batch_size, seed=0)[: args.batches]
    for i, indices in enumerate(batches):
        t0 = time.perf_counter()
        ids, lengths, labels = make_batch(data, indices, width, torch.device("cpu"))
        t1 = time.perf_counter()
        with autocast(torch.device("cpu"), t.precision):
            loss, _ = loss_and_correct(model(ids, lengths), labels)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        if i >= 5:
            for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(value)
    total = sum(statistics.fmean(v) for v in times.values())
    steps = len(plan_batches(data, args.batching, t.batch_size, seed=0))
    widths = [width or int(data.lengths[b].max()) for b in batches]
    denormals = "kept" if args.keep_denormals else "flushed"
    print(f"{args.recipe}, {args.batching}, threads {torch.get_num_threads()}, denormals {denormals}, {t.precision}, "
          f"mean padded width {statistics.fmean(widths):.0f} (mean length {statistics.fmean(data.lengths):.0f})")
    for key, values in times.items():
        mean = statistics.fmean(values)
        print(f"  {key:<10}{1000 * mean:8.2f} ms  {100 * mean / total:5.1f} %")
    print(f"  step      {1000 * total:8.2f} ms  -> {total * steps:.1f} s per epoch of {steps} batches")


if __name__ == "__main__":
    main()

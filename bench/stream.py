"""Streaming prediction over large files: peak memory and reviews per second.

    python -m bench.stream MODEL_DIR --rows 100000 1000000   # streamed files of these sizes
    python -m bench.stream MODEL_DIR --rows 100000 --in-memory 100000

Each file is made of IMDB test reviews (repeated, in a seeded order) as a CSV; `polarity predict
--file F --output O` runs in a fresh process, whose peak resident memory is read from the kernel.
`--in-memory N` also times `Predictor.classify` on N of the same reviews at once (the batched
in-memory path), in another fresh process.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IN_MEMORY = """
import csv, sys, time
from polarity.inference import Predictor
csv.field_size_limit(2**31 - 1)
with open(sys.argv[2], newline="", encoding="utf-8") as handle:
    texts = [row["review"] for row in csv.DictReader(handle)][: int(sys.argv[3])]
predictor = Predictor.load(sys.argv[1])
started = time.perf_counter()
predictor.classify(texts)
print(len(texts) / (time.perf_counter() - started))
"""


def write_reviews(path: Path, rows: int) -> None:
    from polarity.data import load_imdb

    texts = load_imdb().test.texts
    order = np.random.default_rng(0).integers(0, len(texts), rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review"])
        writer.writerows((i, texts[j]) for i, j in enumerate(order))


def run_child(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of a command in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out = process.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--in-memory", type=int, default=0, metavar="N")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the files (default: a temp folder)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="polarity-stream-"))
    folder.mkdir(parents=True, exist_ok=True)
    print("| rows | file MB | seconds | reviews/s | peak RSS MB |\n|---|---|---|---|---|")
    for rows in args.rows:
        source, target = folder / f"reviews-{rows}.csv", folder / f"predictions-{rows}.csv"
        if not source.exists():
            write_reviews(source, rows)
        seconds, peak, _ = run_child([sys.executable, "-m", "polarity", "predict", args.model, "--file", str(source),
                                      "--output", str(target), "--quiet"])
        print(f"| {rows:,} | {source.stat().st_size / 1e6:,.0f} | {seconds:.1f} | {rows / seconds:,.0f} | {peak:,.0f} |",
              flush=True)
    if args.in_memory:
        source = folder / f"reviews-{args.rows[0]}.csv"
        _, peak, out = run_child([sys.executable, "-c", IN_MEMORY, args.model, str(source), str(args.in_memory)])
        print(f"in memory, Predictor.classify on {args.in_memory:,} reviews at once: {float(out):,.0f} reviews/s "
              f"(model call only, file already read), peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()

"""Scoring a corpus on one machine: `polarity predict` streaming, on Spark local[N] and on Ray, same N cores.

    python -m bench.engines MODEL_DIR --data aclImdb_v1.tar.gz          # 1,000,000 reviews on 2 cores
    python -m bench.engines MODEL_DIR --reviews 20000 --json engines.json

Needs the bench, spark and ray extras (`pip install -e ".[bench,spark,ray]"`), Java for Spark, and
about 5 GB of disk at 1,000,000 reviews (94 MB at 20,000: the input, three outputs of CSV).
The input is IMDB's 25,000 test reviews repeated, in a seeded order, to `--reviews` rows, as one
Parquet file (columns id, review; row groups of 10,000 rows, so that Spark can split it). Each
engine then runs in a fresh process, one after another, pinned to the same `--cores` cores:

- stream: `polarity --threads N predict MODEL --file reviews.parquet --output scored.csv --quiet`
- spark:  the same with `--engine spark`, the master `local[N]` (PYSPARK_SUBMIT_ARGS), one thread per task
- ray:    the same with `--engine ray`: a local Ray cluster on the N cores, N actors of one thread

Every engine writes CSV (`--output-format parquet`: the engines write Parquet; streaming cannot).
Reported: reviews per second over the whole command (start-up included), the ratio to streaming,
and peak memory: the largest sum of resident memory over the command's process tree (the JVM,
Python workers, Ray's raylet, GCS and actors included), sampled every 0.2 s. RSS counts pages
shared between processes once per process (Ray's object store in /dev/shm, for one), so the sum
can exceed what the machine really used. After each run, the output's rows are counted and the
mean of the last label's probability is compared with streaming's, as a check on the scores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ENGINES = ("stream", "spark", "ray")
ROW_GROUP = 10_000


def write_reviews(path: Path, rows: int, data: str | None) -> None:
    """IMDB test reviews repeated to ``rows`` rows, seeded order, written a row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from polarity.data import load_imdb

    texts = load_imdb(data).test.texts
    order = np.random.default_rng(0).integers(0, len(texts), rows)
    schema = pa.schema([("id", pa.int64()), ("review", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            ids = np.arange(start, min(start + ROW_GROUP, rows))
            writer.write_table(pa.table({"id": ids, "review": [texts[j] for j in order[ids]]}, schema=schema))


def command(engine: str, model: str, source: Path, output: Path, cores: int) -> tuple[list[str], dict]:
    """The command line and environment of one engine's run."""
    argv = [sys.executable, "-m", "polarity"]
    argv += ["--threads", str(cores)] if engine == "stream" else []
    argv += ["predict", model, "--file", str(source), "--output", str(output), "--quiet"]
    argv += [] if engine == "stream" else ["--engine", engine]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    if engine == "spark":
        env["PYSPARK_SUBMIT_ARGS"] = f"--master local[{cores}] pyspark-shell"
    env.pop("RAY_ADDRESS", None)  # a local cluster on these cores, not a remote one
    return argv, env


def tree_rss(process) -> int:
    """Resident bytes of a process and all its descendants (0 for those gone meanwhile)."""
    import psutil

    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(argv: list[str], env: dict, log: Path) -> tuple[float, float]:
    """(seconds, peak RSS of the process tree in MB) of a command in a fresh process."""
    import psutil

    with open(log, "w", encoding="utf-8") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=stderr, stderr=stderr)
        process, peak = psutil.Process(child.pid), 0
        while child.poll() is None:
            peak = max(peak, tree_rss(process))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}); its log: {log}\n{log.read_text()[-2000:]}")
    return seconds, peak / 2**20


def summarise_output(path: Path) -> tuple[int, float]:
    """(rows, mean probability of the last label) of a CSV file, or a folder of CSV or Parquet part files."""
    import pyarrow.csv
    import pyarrow.dataset as ds

    parts = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix in (".csv", ".parquet"))
    if parts[0].suffix == ".csv":
        fmt = ds.CsvFileFormat(parse_options=pyarrow.csv.ParseOptions(newlines_in_values=True))
    else:
        fmt = ds.ParquetFileFormat()
    dataset = ds.dataset([str(p) for p in parts], format=fmt)
    last = [name for name in dataset.schema.names if name.startswith("prob_")][-1]
    column = dataset.to_table(columns=[last]).column(last)
    return len(column), float(np.mean(column.to_numpy()))


def pin(cores: int) -> list[int]:
    """Run this process (and so every child) on ``cores`` of the cores it may use; those cores."""
    allowed = sorted(os.sched_getaffinity(0))[:cores]
    os.sched_setaffinity(0, allowed)
    return allowed


def measure(args: argparse.Namespace, folder: Path, source: Path) -> list[dict]:
    rows = []
    for engine in args.engines:
        suffix = ".csv" if args.output_format == "csv" or engine == "stream" else ".parquet"
        output = folder / f"scored-{engine}-{args.reviews}{suffix}"
        shutil.rmtree(output, ignore_errors=True) if output.is_dir() else output.unlink(missing_ok=True)
        argv, env = command(engine, args.model, source, output, len(args.pinned))
        print(f"{engine}: {' '.join(argv[2:])} ...", file=sys.stderr, flush=True)
        seconds, peak = run(argv, env, folder / f"{engine}.log")
        scored, mean = summarise_output(output)
        rows.append({"engine": engine, "reviews": args.reviews, "seconds": seconds, "reviews_per_s": args.reviews / seconds,
                     "peak_rss_mb": peak, "rows_written": scored, "mean_last_probability": mean})
        if args.json:
            write_report(args, rows)
    return rows


def markdown(rows: list[dict]) -> str:
    stream = next((r["reviews_per_s"] for r in rows if r["engine"] == "stream"), None)
    lines = ["| engine | reviews | seconds | reviews/s | x stream | peak RSS of the process tree, MB | rows written |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['reviews_per_s'] / stream:.2f}" if stream else "-"
        lines.append(f"| {r['engine']} | {r['reviews']:,} | {r['seconds']:.1f} | {r['reviews_per_s']:,.0f} | {ratio} | "
                     f"{r['peak_rss_mb']:,.0f} | {r['rows_written']:,} |")
    return "\n".join(lines)


def check(rows: list[dict]) -> list[str]:
    """Problems: rows missing, or scores that differ from streaming's (mean probability, to 1e-6)."""
    problems = [f"{r['engine']} wrote {r['rows_written']:,} rows of {r['reviews']:,}" for r in rows
                if r["rows_written"] != r["reviews"]]
    stream = next((r for r in rows if r["engine"] == "stream"), None)
    if stream is not None:
        problems += [f"{r['engine']}: mean probability {r['mean_last_probability']:.7f}, streaming's "
                     f"{stream['mean_last_probability']:.7f}" for r in rows
                     if abs(r["mean_last_probability"] - stream["mean_last_probability"]) > 1e-6]
    return problems


def versions() -> dict:
    import importlib.metadata as metadata

    found = {"python": platform.python_version(), "machine": platform.machine()}
    for package in ("polarity", "torch", "pyspark", "ray", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def write_report(args: argparse.Namespace, rows: list[dict]) -> None:
    from bench.__main__ import cpu_name

    report = {"date": str(date.today()), "model": args.model, "reviews": args.reviews, "cores": args.pinned,
              "cpu": cpu_name(), "output_format": args.output_format, "versions": versions(), "runs": rows}
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL_DIR")
    parser.add_argument("--reviews", type=int, default=1_000_000, help="rows of the input (default 1,000,000)")
    parser.add_argument("--cores", type=int, default=2, help="cores every engine runs on (default 2)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES), help="which, in this order")
    parser.add_argument("--output-format", choices=["csv", "parquet"], default="csv",
                        help="what Spark and Ray write (streaming always writes CSV)")
    parser.add_argument("--data", help="the aclImdb archive or folder (default: $POLARITY_DATA, as polarity finds it)")
    parser.add_argument("--folder", type=Path, help="where the input and outputs go (default: a temporary folder); "
                        "an input already there is reused")
    parser.add_argument("--json", type=Path, help="also write the results here, after every run")
    args = parser.parse_args(argv)
    args.pinned = pin(args.cores)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="polarity-engines-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"reviews-{args.reviews}.parquet"
    if not source.exists():
        print(f"writing {source} ...", file=sys.stderr, flush=True)
        write_reviews(source, args.reviews, args.data)
    rows = measure(args, folder, source)
    from bench.__main__ import cpu_name

    print(f"{args.reviews:,} reviews on cores {args.pinned} ({cpu_name()}), model {args.model}:\n{markdown(rows)}")
    for problem in check(rows):
        print(f"check failed: {problem}", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()

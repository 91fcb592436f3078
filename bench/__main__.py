"""polarity vs the Keras original on one machine, in one run, alternating A B A B.

    python -m bench                      # lstm-dropout, 200 batches per run, 2 rounds (4-15 min on 2 cores)
    python -m bench --batches 0          # full epochs
    python -m bench --skip-keras         # polarity only (no Keras install needed)
    python -m bench --also polarity-bf16-shards   # also bucketed, bfloat16, each batch in 2 shards at once
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.prepare import prepare
from polarity.files import write_json
from bench.worker import FRAMEWORKS

DEFAULT = ["keras", "polarity-bucketed", "polarity-exact"]


def run_worker(framework: str, folder: Path, batches: int) -> dict | None:
    """One measurement in a fresh process; None (and the reason on stderr) when it failed."""
    command = [sys.executable, "-m", "bench.worker", framework, str(folder), "--batches", str(batches)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        print(f"{framework} failed; the other measurements go on:\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(results: dict[str, list[dict]]) -> list[dict]:
    rows = []
    keras_epoch = statistics.fmean(r["epoch_seconds"] for r in results["keras"]) if "keras" in results else None
    keras_infer = statistics.fmean(r["infer_reviews_per_s"] for r in results["keras"]) if "keras" in results else None
    for name, runs in results.items():
        mean = lambda key: statistics.fmean(r[key] for r in runs)  # noqa: E731
        row = {
            "name": runs[0]["framework"],
            "epoch_seconds": mean("epoch_seconds"),
            "train_reviews_per_s": mean("train_reviews_per_s"),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "test_accuracy": mean("test_accuracy"),
            "infer_reviews_per_s": mean("infer_reviews_per_s"),
            "raw_text_reviews_per_s": mean("infer_raw_text_reviews_per_s") if "infer_raw_text_reviews_per_s" in runs[0] else None,
            "single_median_ms": statistics.median(r["single"]["median_ms"] for r in runs),
            "single_p99_ms": max(r["single"]["p99_ms"] for r in runs),
            "epoch_ratio_vs_keras": mean("epoch_seconds") / keras_epoch if keras_epoch else None,
            "infer_ratio_vs_keras": mean("infer_reviews_per_s") / keras_infer if keras_infer else None,
            "batches": runs[0]["batches"],
            "runs": len(runs),
        }
        rows.append(row)
    return rows


def markdown(rows: list[dict], args, versions: dict) -> str:
    head = (f"Run {date.today()}: `python -m bench --recipe {args.recipe} --batches {args.batches} --rounds {args.rounds}{''.join(' --also ' + a for a in args.also)}` "
            f"on {versions['machine']}; {versions['python']}.\n\n")
    lines = ["| framework | s/epoch | ratio vs Keras | train reviews/s | peak RSS MB | test acc. | infer reviews/s | ratio | raw text reviews/s | 1 review median / p99 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['epoch_seconds']:.1f} | {fmt(r['epoch_ratio_vs_keras'], '.2f')} | {r['train_reviews_per_s']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {100 * r['test_accuracy']:.2f} % | {r['infer_reviews_per_s']:.0f} | "
            f"{fmt(r['infer_ratio_vs_keras'], '.2f')} | {fmt(r['raw_text_reviews_per_s'], '.0f')} | "
            f"{r['single_median_ms']:.1f} / {r['single_p99_ms']:.1f} |")
    return head + "\n".join(lines)


def cpu_name() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="lstm-dropout")
    parser.add_argument("--batches", type=int, default=200, help="training batches per run (0: a full epoch)")
    parser.add_argument("--rounds", type=int, default=2, help="A B A B rounds")
    parser.add_argument("--skip-keras", action="store_true")
    parser.add_argument("--also", action="append", default=[], choices=[f for f in FRAMEWORKS if f not in DEFAULT],
                        help="another polarity setting to measure (repeatable): bfloat16, shards, or both")
    parser.add_argument("--data", help="the aclImdb archive or folder (default: as polarity finds it)")
    parser.add_argument("--json", type=Path, help="also write the raw results here, after every measurement")
    args = parser.parse_args()
    frameworks = [f for f in DEFAULT if f != "keras" or not args.skip_keras] + args.also
    batches = args.batches or 10**9
    results: dict[str, list[dict]] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = prepare(args.recipe, Path(tmp), args.data)
        for round_ in range(args.rounds):
            for framework in frameworks:
                print(f"round {round_ + 1}: {framework} ...", file=sys.stderr, flush=True)
                result = run_worker(framework, folder, batches)
                if result is None:
                    failed.append(f"{framework} (round {round_ + 1})")
                    continue
                results.setdefault(framework, []).append(result)
                print(f"  {json.dumps(result)}", file=sys.stderr, flush=True)  # kept even if a later run fails
                if args.json:
                    write_json(args.json, {"raw": results, "failed": failed})
    rows = summarise(results)
    versions = {"machine": f"{os.cpu_count()} CPU cores ({cpu_name()}, {platform.machine()})",
                "python": f"Python {platform.python_version()}"}
    if args.json:
        write_json(args.json, {"rows": rows, "raw": results, "failed": failed})
    print(markdown(rows, args, versions))
    if failed:
        print(f"\nfailed: {', '.join(failed)} (see the messages above)")


if __name__ == "__main__":
    main()

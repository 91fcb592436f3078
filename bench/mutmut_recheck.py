"""Re-run mutmut's surviving mutants against whole test files.

mutmut runs, for each mutant, only the tests that called the mutated function in its first recorded
run. Code run by a module-scoped fixture (a model trained once, an app built once) is recorded
against the first test that used the fixture only, so a mutant there "survives" tests that would
catch it. This re-runs each survivor (and each mutant no test reached) with the mutant switched on,
against every test in the files of the tests mutmut chose plus ``--files``, and writes one JSON
line per mutant: ``killed`` (a test failed or could not be collected), ``survived``, ``timeout``, ``no tests`` (no file to
run) or ``error (pytest exit N)`` (pytest could not run the tests: not a verdict on the mutant).

    mutmut run --max-children 2 "polarity.server.*"
    python -m bench.mutmut_recheck polarity.server --files tests/test_server.py --out recheck.jsonl
    python -m bench.mutmut_recheck polarity.server --shard 1/2 ...   # two at once on two cores

Tests written after mutmut's run can be copied into its folder's ``tests/`` and rechecked the same
way; ``-k "not NAME"`` leaves out any that test code changed since (they would fail on every mutant).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path

SURVIVED, NO_TESTS = 0, 33  # mutmut's exit codes in its .meta files


def candidates(mutants: Path, package: str) -> list[str]:
    """The mutants of ``package`` that survived or that no test reached, in a seeded random order
    (a run stopped early has rechecked a random sample)."""
    folder = mutants / "src" / Path(*package.split("."))
    names = []
    for meta in sorted(folder.glob("*.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        names += sorted(name for name, code in codes.items() if code in (SURVIVED, NO_TESTS))
    random.Random(0).shuffle(names)
    return names


def test_files(stats: dict, mutant: str, extra: list[str]) -> list[str]:
    function = mutant.rsplit("__mutmut_", 1)[0]
    chosen = {test.split("::")[0] for test in stats.get(function, [])}
    return sorted(chosen | set(extra))


def recheck(mutants: Path, mutant: str, files: list[str], timeout: float, keyword: str | None = None) -> str:
    if not files:
        return "no tests"
    env = dict(os.environ, MUTANT_UNDER_TEST=mutant, PYTHONPATH="src", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               "-m", "not slow and not real_data", *(["-k", keyword] if keyword else []), *files]
    try:
        result = subprocess.run(command, cwd=mutants, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout"
    # 1: a test failed; 2: collecting failed (the mutant broke an import); 4, 5: usage, no tests
    return {0: "survived", 1: "killed", 2: "killed"}.get(result.returncode, f"error (pytest exit {result.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutmut_recheck", description=__doc__.splitlines()[0])
    parser.add_argument("package", help="e.g. polarity.server")
    parser.add_argument("--files", nargs="*", default=[], help="test files to run besides those mutmut chose")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder (default: mutants)")
    parser.add_argument("--shard", default="0/1", help="K/N: recheck every N-th mutant from the K-th")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, appended; mutants in it are skipped")
    parser.add_argument("-k", dest="keyword", help="pytest's -k: e.g. leave out tests of code changed since mutmut's run")
    args = parser.parse_args(argv)
    shard, shards = map(int, args.shard.split("/"))
    stats = json.loads((args.mutants / "mutmut-stats.json").read_text())["tests_by_mangled_function_name"]
    done = {json.loads(line)["mutant"] for line in args.out.read_text().splitlines()} if args.out.exists() else set()
    with args.out.open("a", encoding="utf-8") as out:
        for mutant in candidates(args.mutants, args.package):
            if mutant in done or zlib.crc32(mutant.encode()) % shards != shard:
                continue
            files = test_files(stats, mutant, args.files)
            started = time.perf_counter()
            verdict = recheck(args.mutants.resolve(), mutant, files, args.timeout, args.keyword)
            out.write(json.dumps({"mutant": mutant, "verdict": verdict, "files": files,
                                  "seconds": round(time.perf_counter() - started, 1)}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

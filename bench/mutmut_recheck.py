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

Where mutmut's own run is too long (a module that every training test reaches), ``--sample N``
prints N of a module's mutants that mutmut has not run, in a seeded random order, for
``mutmut run``; ``--unrun --only-files`` runs the mutants mutmut has not run against the given test
files alone (a module with its own test file, such as the recipes):

    mutmut run --max-children 2 $(python -m bench.mutmut_recheck polarity.training.loop --sample 40)
    python -m bench.mutmut_recheck polarity.training.recipes --unrun --only-files \
        --files tests/test_recipes.py --out recipes.jsonl
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


def exit_codes(mutants: Path, package: str) -> dict[str, int | None]:
    """mutmut's exit code for each mutant of ``package`` (a package or one module): None where not run."""
    path = mutants / "src" / Path(*package.split("."))
    module = path.with_name(path.name + ".py.meta")
    metas = [module] if module.is_file() else sorted(path.glob("*.meta"))
    codes = {}
    for meta in metas:
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def candidates(mutants: Path, package: str, unrun: bool = False) -> list[str]:
    """The mutants of ``package`` that survived or that no test reached (with ``unrun``, those mutmut
    has not run too), in a seeded random order (a run stopped early has rechecked a random sample)."""
    wanted = (SURVIVED, NO_TESTS, None) if unrun else (SURVIVED, NO_TESTS)
    names = sorted(name for name, code in exit_codes(mutants, package).items() if code in wanted)
    random.Random(0).shuffle(names)
    return names


def sample(mutants: Path, module: str, count: int, seed: str = "") -> list[str]:
    """The first ``count`` mutants that mutmut has not run in an order of all ``module``'s mutants
    fixed by its name and ``seed``: a random sample, which the same command, once mutmut has run it,
    extends with the next ones."""
    codes = exit_codes(mutants, module)
    names = sorted(codes)
    random.Random(f"{module.rsplit('.', 1)[-1]}-{seed}").shuffle(names)
    return [name for name in names if codes[name] is None][:count]


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
    parser.add_argument("--out", type=Path, help="JSON lines, appended; mutants in it are skipped (needed but with --sample)")
    parser.add_argument("-k", dest="keyword", help="pytest's -k: e.g. leave out tests of code changed since mutmut's run")
    parser.add_argument("--unrun", action="store_true", help="also the mutants mutmut has not run")
    parser.add_argument("--only-files", action="store_true", help="run --files alone, not the tests mutmut chose")
    parser.add_argument("--sample", type=int, metavar="N", help="print N unrun mutants of the module for mutmut run")
    parser.add_argument("--seed", default="", help="with --sample: the seed of the order")
    args = parser.parse_args(argv)
    if args.sample is not None:
        print("\n".join(sample(args.mutants, args.package, args.sample, args.seed)))
        return 0
    if args.out is None:
        parser.error("--out is required (but with --sample)")
    shard, shards = map(int, args.shard.split("/"))
    stats = json.loads((args.mutants / "mutmut-stats.json").read_text())["tests_by_mangled_function_name"]
    done = {json.loads(line)["mutant"] for line in args.out.read_text().splitlines()} if args.out.exists() else set()
    with args.out.open("a", encoding="utf-8") as out:
        for mutant in candidates(args.mutants, args.package, args.unrun):
            if mutant in done or zlib.crc32(mutant.encode()) % shards != shard:
                continue
            files = sorted(args.files) if args.only_files else test_files(stats, mutant, args.files)
            started = time.perf_counter()
            verdict = recheck(args.mutants.resolve(), mutant, files, args.timeout, args.keyword)
            out.write(json.dumps({"mutant": mutant, "verdict": verdict, "files": files,
                                  "seconds": round(time.perf_counter() - started, 1)}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

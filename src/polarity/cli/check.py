"""``polarity check MODEL_DIR``: behavioural tests (negation, contrast, intensity, invariance,
direction) with a failure rate per test, and an exit status that can gate a CI job."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from polarity.cli.common import command, non_negative_int, positive_int, print_json
from polarity.errors import PolarityError


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    parser = command(commands, "check", "behavioural tests (negation, contrast, invariance...): failure rate per test",
                     "polarity check runs/default --fail-above 0.5\n"
                     "  polarity check runs/default --suite my-cases.jsonl --json", reads_model=True)
    parser.add_argument("--suite", metavar="FILE", help="a JSONL file of your own cases (text, then expect, not or "
                        "same_as) instead of the built-in suite")
    parser.add_argument("--fail-above", type=rate, metavar="RATE", help="exit 1 when any test fails more than this "
                        "fraction of its cases (0 to 1, e.g. 0.2)")
    parser.add_argument("--seed", type=int, help="draws the built-in suite's cases (default 0)")
    parser.add_argument("--cases", type=positive_int, metavar="N", help="cases per built-in test (default 100)")
    parser.add_argument("--examples", type=non_negative_int, default=3, metavar="K",
                        help="failing examples shown per test (default 3)")
    parser.add_argument("--tolerance", type=tolerance, metavar="P", help="how far a probability may move the wrong way "
                        "in a direction case (default 0.01)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=cmd_check)


def bounded_float(name: str, fits: Callable[[float], bool], wanted: str) -> Callable[[str], float]:
    """An argparse type: a float that ``fits``, else a usage error saying it must be ``wanted``."""
    def parse(text: str) -> float:
        value = float(text)
        if not fits(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = name  # argparse names the type in "invalid NAME value"
    return parse


rate = bounded_float("rate", lambda v: 0.0 <= v <= 1.0, "a fraction from 0 to 1 (0.2 for 20 %)")
tolerance = bounded_float("tolerance", lambda v: 0.0 <= v < 1.0, "a probability from 0 to below 1")


def cmd_check(args: argparse.Namespace) -> int:
    from polarity.inference.check import CASES_PER_TEST, TOLERANCE, check, format_report

    if args.suite and (args.seed is not None or args.cases is not None):
        raise PolarityError("--seed and --cases draw the built-in suite; a --suite file has its own cases")
    report = check(args.model, args.suite, seed=0 if args.seed is None else args.seed,
                   cases_per_test=args.cases or CASES_PER_TEST, examples=args.examples,
                   tolerance=TOLERANCE if args.tolerance is None else args.tolerance)
    above = report.above(args.fail_above) if args.fail_above is not None else []
    if args.json:
        data = report.to_dict() | {"fail_above": args.fail_above, "tests_above": [test.name for test in above]}
        print_json(data)
    else:
        print(format_report(report))
    if above:
        worst = ", ".join(f"{test.name} {100 * test.failure_rate:.1f} %" for test in above)
        raise PolarityError(f"{len(above)} of {len(report.tests)} tests fail more than {100 * args.fail_above:g} % "
                            f"of their cases: {worst}")
    return 0

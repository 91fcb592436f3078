"""The ``polarity`` command line: one obvious command per job, one module per group of commands
(its parser beside its handlers), errors as one line."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from importlib import import_module

from polarity import __version__
from polarity.cli.common import Handler, data_options
from polarity.engine.threads import choose_wait_policy, set_torch_threads
from polarity.errors import PolarityError

GROUPS = ("data", "train", "predict", "evaluate", "explore", "serve", "export", "check")  # modules of polarity.cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polarity", description="LSTM-family sentiment classifiers for movie reviews.")
    parser.add_argument("--version", action="version", version=f"polarity {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of unexpected errors")
    parser.add_argument("--threads", type=int, metavar="N", help="PyTorch CPU threads (default: one per core); "
                        "1 when other work shares the cores")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_opts = data_options()
    for group in GROUPS:  # imported here: `main` sets the thread policy before anything imports PyTorch
        import_module(f"polarity.cli.{group}").register(commands, data_opts)
    return parser


def one_line(message: str) -> str:
    """``message`` on one line: line breaks (from a quoted path, say) shown as \\n and \\r."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"polarity: warning: {one_line(str(message))}", file=sys.stderr)


def _check_single_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error where a required positional got no value: argparse (before Python 3.13) gives an
    empty list for ``polarity neighbors DIR -- --``, the second ``--`` taken and then dropped."""
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings and action.nargs in (None, "+") and value == []:
            parser.error(f"the following arguments are required: {action.metavar or action.dest}")


def main(argv: Sequence[str] | None = None) -> int:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    if words[:1] in (["train"], ["reproduce"]) and choose_wait_policy():  # before anything imports PyTorch
        print("polarity: other processes are using the CPU: PyTorch's threads will wait without spinning",
              file=sys.stderr)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if isinstance(getattr(args, "texts", None), list) and not any(e.startswith("-") and e != "-" for e in extra):
            args.texts += extra  # texts after options: `polarity predict DIR --json "A fine film."`
        else:
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    _check_single_values(getattr(args, "parser", parser), args)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    warnings.showwarning = _one_line_warning
    if args.threads is not None:
        if args.threads < 1:
            getattr(args, "parser", parser).error(f"--threads must be at least 1, got {args.threads}")
        set_torch_threads(args.threads)
    try:
        return int(handler(args) or 0)
    except PolarityError as exc:
        print(f"polarity: error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("polarity: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `polarity ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug, not a user mistake: one line unless --debug asks for the traceback
        if args.debug:
            raise
        print(f"polarity: internal error: {type(exc).__name__}: {one_line(str(exc))} (a bug in polarity: run again with --debug "
              "for the traceback and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

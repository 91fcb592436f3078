"""``polarity predict``: raw text in, labels and probabilities out (a table, JSON, or a file
streamed a chunk at a time; on Spark or Ray with ``--engine``)."""

from __future__ import annotations

import argparse
import sys

from polarity.cli.common import Warnings, command, load_predictor, positive_int, precision_option, print_json, \
    threshold_option
from polarity.errors import PolarityError

EXAMPLE = ('polarity predict runs/default "A wonderful film."\n'
           "  polarity predict runs/default --file reviews.csv --output predictions.csv\n"
           "  polarity predict runs/default --engine spark --file reviews.parquet --output scored.parquet")


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    predict = command(commands, "predict", "classify raw text with a model folder", EXAMPLE, reads_model=True)
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify, or - to read lines from stdin")
    predict.add_argument("--file", help="one review per line (.txt), or a CSV/TSV/JSONL file")
    predict.add_argument("--text-column", help="column holding the text (CSV/TSV/JSONL)")
    predict.add_argument("--output", metavar="FILE", help="write CSV/TSV or JSONL: the input's columns, then "
                         "pred_label, pred_score, prob_<label> and pred_warning")
    threshold_option(predict)
    predict.add_argument("--batch-size", type=positive_int, default=256, help="texts per model call (default 256)")
    predict.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    precision_option(predict)
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.add_argument("--engine", choices=["spark", "ray"], help="score --file on Spark or Ray (the spark or ray "
                         "extra): --file is a .parquet or .csv file or a folder of them; --output a new folder of part "
                         "files, CSV when its name ends in .csv, else Parquet; one PyTorch thread per task unless --threads N")
    predict.set_defaults(handler=cmd_predict)


def _input_texts(args: argparse.Namespace) -> tuple[list[str], list[dict], str]:
    """Texts to predict, each row's other fields, and how to name one in messages ('FILE, row',
    'stdin, line' or 'text')."""
    from polarity.data.tables import read_table, split_lines

    if args.file:
        table = read_table(args.file, text_column=args.text_column, require_labels=False)
        return table.texts, table.rows, f"{args.file}, row"
    stdin = args.texts == ["-"]
    texts = [text for _, text in split_lines(sys.stdin.buffer.read(), "stdin")] if stdin else list(args.texts)
    if not texts:
        raise PolarityError("give texts to classify, --file FILE, or - to read lines from standard input")
    return texts, [{} for _ in texts], "stdin, line" if stdin else "text"


def _check_output(args: argparse.Namespace) -> None:
    """Refuse a bad --output before any work: unknown format, the input file itself, --json beside it."""
    from pathlib import Path

    from polarity.inference.stream import OUTPUT_FORMATS

    if not args.output:
        return
    target = Path(args.output)
    if target.suffix.lower() not in OUTPUT_FORMATS:
        raise PolarityError(f"--output must end in .csv, .tsv or .jsonl, got {target.name}")
    if args.json:
        raise PolarityError("--json prints to the terminal and --output writes a file: choose one")
    if args.file and target.resolve() == Path(args.file).resolve():
        raise PolarityError(f"--output {args.output} is the input file: choose another name, the input is kept as it is")


def _stream_predictions(args: argparse.Namespace, predictor) -> int:
    """--output: read, predict and write a chunk of rows at a time."""
    from polarity.inference.stream import CHUNK_ROWS, predict_file, predict_rows

    warn = Warnings()
    options = dict(threshold=args.threshold, batch_size=args.batch_size, progress=not args.quiet, warn=warn)
    if args.file:
        result = predict_file(predictor, args.file, args.output, text_column=args.text_column, **options)
    else:
        texts, _, where = _input_texts(args)
        result = predict_rows(predictor, ((i, {"text": t}) for i, t in enumerate(texts, 1)), args.output,
                              where=where, text_column="text", **options)
    warn.summary()
    if result.left_out:
        print(f"polarity: warning: {args.output} has the columns of the first {CHUNK_ROWS:,} rows; fields first seen "
              f"later are left out: {', '.join(result.left_out)} (a .jsonl output keeps every field)", file=sys.stderr)
    if result.interrupted:
        print(f"polarity: interrupted: {args.output} holds the first {result.rows:,} rows, complete", file=sys.stderr)
        return 130
    print(f"wrote {result.rows:,} predictions to {args.output}", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if args.engine:
        from polarity.cli.engines import predict_with_engine

        return predict_with_engine(args)
    _check_output(args)
    predictor = load_predictor(args)
    if args.output:
        return _stream_predictions(args, predictor)
    texts, rows, where = _input_texts(args)
    results = predictor.classify(texts, batch_size=args.batch_size, threshold=args.threshold)
    warn = Warnings()
    for number, result in enumerate(results, start=1):
        if result.warning:
            warn(f"{where} {number}: {result.warning}")
    warn.summary()
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        width = max(9, *(len(str(label)) + 2 for label in predictor.labels))
        print(f"{'label':<{width}}{'score':>7}  text")
        for r in results:
            text = " ".join(r.text.split())
            print(f"{r.label!s:<{width}}{r.score:>7.3f}  {text[:70] + ('...' if len(text) > 70 else '')}")
    return 0

"""``polarity predict MODEL --engine spark|ray --file IN --output OUT``: Parquet or CSV in, a folder
of Parquet or CSV part files out, scored on Spark or Ray."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from polarity.errors import PolarityError
from polarity.models.folder import ModelFolder

FORMATS = {".parquet": "parquet", ".csv": "csv"}


def predict_with_engine(args: argparse.Namespace) -> int:
    """Run ``polarity predict --engine``: check the options, score, say what was written."""
    source, output = _check_options(args)
    input_format, output_format = input_format_of(source), output_format_of(output)
    ModelFolder(args.model).config()  # checked before the engine starts
    options = {"text_column": args.text_column, "threads": args.threads or 1, "batch_size": args.batch_size,
               "threshold": args.threshold, "quiet": args.quiet, "verbose": args.debug}
    if args.engine == "ray":
        from polarity.integrations.ray import score_files
    else:
        from polarity.integrations.spark import score_files
    try:
        score_files(source, output, args.model, input_format=input_format, output_format=output_format, **options)
    except PolarityError:
        raise
    except Exception as exc:  # the engine's report of a failed job: many lines, several exception types
        if args.debug:
            raise
        raise engine_error(args.engine, exc) from exc
    rows = parquet_rows(output) if output_format == "parquet" else None
    count = "predictions" if rows is None else f"{rows:,} predictions"
    kind = {"csv": "CSV", "parquet": "Parquet"}[output_format]
    print(f"wrote {count} to {output} ({kind} part files, {args.engine})", file=sys.stderr)
    return 0


def _check_options(args: argparse.Namespace) -> tuple[str, str]:
    """(input, output) of ``--engine``, or a one-line error for an option it does not take."""
    engine = f"--engine {args.engine}"
    if not args.file or not args.output:
        raise PolarityError(f"{engine} scores a file or folder: give --file IN and --output OUT_DIR")
    conflicts = {"TEXT arguments": bool(args.texts), "--json": args.json, "--device": args.device != "cpu",
                 "--precision": args.precision != "float32", "--backend": args.backend != "torch"}
    given = [name for name, clash in conflicts.items() if clash]
    if given:
        raise PolarityError(f"{engine} scores --file with PyTorch on CPU, in float32: drop {', '.join(given)}")
    source, output = Path(args.file), Path(args.output)
    if _local(args.file) and not source.exists():
        raise PolarityError(f"--file {args.file} does not exist")
    if _local(args.output) and output.exists():
        raise PolarityError(f"--output {args.output} exists: name a new folder (the engine writes part files there)")
    return args.file, args.output


def _local(path: str) -> bool:
    """Whether ``path`` names this machine's file system (not ``s3://``, ``hdfs://``, ...)."""
    return "://" not in path


def input_format_of(path: str) -> str:
    """parquet or csv: from the name's extension, else from the files of a local folder."""
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None and _local(path) and Path(path).is_dir():
        kinds = {FORMATS.get(f.suffix.lower()) for f in Path(path).rglob("*")
                 if f.is_file() and not f.name.startswith(("_", "."))} - {None}
        found = kinds.pop() if len(kinds) == 1 else None
    if found is None:
        raise PolarityError(f"--file {path}: name a .parquet or .csv file, or a folder of .parquet or of .csv files")
    return found


def output_format_of(path: str) -> str:
    """csv when the folder's name ends in .csv, else parquet."""
    return "csv" if Path(path).suffix.lower() == ".csv" else "parquet"


def parquet_rows(folder: str) -> int | None:
    """Rows of the Parquet part files in a local folder, from their footers (None elsewhere)."""
    if not _local(folder):
        return None
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(part).num_rows for part in Path(folder).rglob("*.parquet"))


def engine_error(engine: str, exc: Exception) -> PolarityError:
    """One line for a failed job: polarity's own message from a worker when there is one, else the
    first line of the engine's report."""
    text = str(exc)
    ours = re.findall(r"polarity\.errors\.\w+: ([^\n]+)", text)
    if ours:
        return PolarityError(ours[-1].strip())
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return PolarityError(f"the {engine} job failed: {type(exc).__name__}: {first[:300]} (--debug shows the engine's report)")

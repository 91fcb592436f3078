"""Score a Spark DataFrame's text column with a model folder (``pip install "polarity[spark]"``).

>>> from polarity.integrations.spark import score_spark              # doctest: +SKIP
>>> reviews = spark.read.parquet("s3://lake/reviews/")                # doctest: +SKIP
>>> scored = score_spark(reviews, "/shared/models/default")           # doctest: +SKIP
>>> scored.write.parquet("s3://lake/reviews-scored/")                 # doctest: +SKIP

Batches travel as Arrow (``mapInPandas``); each Python worker process loads the folder once, on
its first non-empty batch, and keeps it (Spark reuses its Python workers across tasks).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from polarity.errors import ConfigError, DataError
from polarity.integrations import require
from polarity.integrations.frames import ScoringJob, plan_job, score_frame

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructField


def score_spark(df: DataFrame, model: str | Path, text_column: str | None = None, *, threads: int | None = 1,
                batch_size: int = 256, threshold: float | None = None, ship: bool = False) -> DataFrame:
    """``df`` with ``pred_label``, ``pred_score``, ``prob_<label>`` and ``pred_warning`` added after
    its own columns, as ``polarity predict --output`` writes them. Lazy, like any transformation.

    ``model`` is a folder every executor reads (a shared path), or, with ``ship=True``, a folder on
    the driver that Spark copies to each executor (``SparkContext.addFile``). ``text_column`` is
    found by name (text, review, ...) when not given. ``threads``: PyTorch threads per task
    (default 1: the executors' cores are the parallelism; None leaves PyTorch's own setting).
    ``batch_size``: texts per model call; ``threshold``: as ``polarity predict --threshold``.
    The model folder, the options and the columns are checked here, before any job runs: a
    problem raises one :class:`~polarity.errors.PolarityError`.

    >>> scored = score_spark(spark.createDataFrame([(1, "A wonderful film.")], "id long, text string"),
    ...                      "runs/default")                           # doctest: +SKIP
    >>> scored.columns                                                  # doctest: +SKIP
    ['id', 'text', 'pred_label', 'pred_score', 'prob_negative', 'prob_positive', 'pred_warning']
    """
    types = require("pyspark.sql.types", "spark")
    job = plan_job(model, df.columns, text_column, threads=threads, batch_size=batch_size, threshold=threshold,
                   where="the DataFrame")
    found = df.schema[job.text_column].dataType
    if not isinstance(found, types.StringType):
        raise DataError(f"the text column {job.text_column!r} holds {found.simpleString()}, not text (string)")
    shipped = ship_folder(df.sparkSession, job.model) if ship else None
    schema = types.StructType([*df.schema.fields, *prediction_fields(job)])
    return df.mapInPandas(partial(_score_batches, job, shipped), schema)


def prediction_fields(job: ScoringJob) -> list[StructField]:
    """Spark fields of the columns prediction adds."""
    types = require("pyspark.sql.types", "spark")
    label = types.LongType() if job.integer_labels else types.StringType()
    label_field, score, *probs, warning = job.columns
    return [types.StructField(label_field, label), types.StructField(score, types.DoubleType()),
            *(types.StructField(name, types.DoubleType()) for name in probs),
            types.StructField(warning, types.StringType())]


def ship_folder(spark: SparkSession, folder: str) -> str:
    """Send a model folder to every executor with the job (``SparkContext.addFile``, recursive);
    the name under which executors find it (``SparkFiles.get``): the folder's own name, so folders
    shipped in one session need distinct names."""
    try:
        context = spark.sparkContext
    except Exception as exc:  # Spark Connect sessions have no SparkContext
        raise ConfigError(f"ship=True needs a classic SparkSession ({exc}); put the model folder on a shared path "
                          "instead") from exc
    name = Path(folder).name
    others = [uri for uri in getattr(context, "listFiles", []) if Path(uri.rstrip("/")).name == name
              and Path(uri.removeprefix("file:").rstrip("/")) != Path(folder)]
    if others:
        raise ConfigError(f"another folder named {name!r} was already shipped in this Spark session ({others[0]}): "
                          "give the model folder another name")
    context.addFile(folder, recursive=True)  # adding the same folder again is a no-op
    return name


def _score_batches(job: ScoringJob, shipped: str | None, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The function ``mapInPandas`` runs on each partition (a module-level function, so Spark
    pickles a reference to it, not the code)."""
    folder = None
    if shipped is not None:
        from pyspark import SparkFiles

        folder = SparkFiles.get(shipped)
    for batch in batches:
        yield score_frame(batch, job, folder)


def session(app_name: str = "polarity", quiet: bool = False, verbose: bool = False) -> tuple[SparkSession, bool]:
    """The active SparkSession, else a new one (master from spark-submit or ``PYSPARK_SUBMIT_ARGS``,
    else ``local[*]``; Python workers run this interpreter unless ``PYSPARK_PYTHON`` names
    another); and whether it was created here (the caller stops it then). ``quiet``: no progress
    bar; a new session logs nothing after its start unless ``verbose`` (a failed job is reported
    by the caller, in one line)."""
    sql = require("pyspark.sql", "spark")
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = sql.SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", str(not quiet).lower())
    spark = builder.getOrCreate()
    if not verbose:
        spark.sparkContext.setLogLevel("OFF")
    return spark, True


SPLIT = "spark.sql.files.maxPartitionBytes"  # Spark's default: 128 MB
CSV_READ = {"header": True, "multiLine": True, "escape": '"'}  # RFC 4180, as Python's csv module writes
CSV_WRITE = {"header": True, "escape": '"'}


def score_files(source: str, output: str, model: str | Path, *, input_format: str, output_format: str,
                text_column: str | None = None, quiet: bool = False, verbose: bool = False, **options) -> None:
    """Read Parquet or CSV (a file or a folder of part files), score it, write a folder of part
    files in ``output_format``: what ``polarity predict --engine spark`` runs. ``options`` go to
    :func:`score_spark`. CSV fields are all text, and an empty one is an empty text, as in
    ``polarity predict --file``. A session created here reads in parts of at most 32 MB unless
    ``spark.sql.files.maxPartitionBytes`` is configured."""
    spark, created = session("polarity predict", quiet, verbose)
    if created and not spark.sparkContext.getConf().contains(SPLIT):
        spark.conf.set(SPLIT, "32m")  # scoring costs far more per byte than reading: small tasks share the cores evenly
    try:
        if input_format == "csv":
            df = spark.read.csv(source, **CSV_READ).na.fill("")
        else:
            df = spark.read.parquet(source)
        scored = score_spark(df, model, text_column, **options)
        if output_format == "csv":
            scored.write.csv(output, **CSV_WRITE)
        else:
            scored.write.parquet(output)
    finally:
        if created:
            spark.stop()

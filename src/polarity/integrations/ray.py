"""Score a Ray Dataset's text column with a model folder (``pip install "polarity[ray]"``).

>>> import ray                                                         # doctest: +SKIP
>>> from polarity.integrations.ray import score_ray                    # doctest: +SKIP
>>> reviews = ray.data.read_parquet("s3://lake/reviews/")             # doctest: +SKIP
>>> score_ray(reviews, "/shared/models/default", concurrency=8).write_parquet("s3://lake/scored/")  # doctest: +SKIP

``map_batches`` with an actor class: each actor loads the folder once, when it starts, and
scores every batch it is given after that.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from polarity.errors import DataError
from polarity.inference.stream import CHUNK_ROWS
from polarity.integrations import require
from polarity.integrations.frames import (
    ScoringJob,
    plan_job,
    predictor_for,
    score_frame,
)
from polarity.settings import positive_int

if TYPE_CHECKING:
    import pandas as pd
    import ray.data  # the library: this module is polarity.integrations.ray


class PolarityScorer:
    """The callable class ``map_batches`` runs in its actors: holds one Predictor per actor."""

    def __init__(self, job: ScoringJob) -> None:
        self.job = job
        self.predictor = predictor_for(job.model, job.threads)  # fails early, when the actor starts

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return score_frame(batch, self.job)


def score_ray(dataset: ray.data.Dataset, model: str | Path, text_column: str | None = None, *,
              concurrency: int | None = None, threads: int | None = 1, batch_size: int = 256,
              threshold: float | None = None, rows_per_batch: int = CHUNK_ROWS) -> ray.data.Dataset:
    """``dataset`` with ``pred_label``, ``pred_score``, ``prob_<label>`` and ``pred_warning`` added
    after its own columns, as ``polarity predict --output`` writes them. Lazy, like any Ray Data step.

    ``model`` is a folder every node reads (a shared path). ``concurrency``: how many actors score
    at once, each holding the model (default: the cluster's CPUs less one, divided by ``threads``:
    Ray Data waits forever when actors hold every CPU and no read or write task can start).
    ``threads``: PyTorch threads, and CPUs reserved, per actor (default 1; None leaves PyTorch's
    setting and reserves 1 CPU). ``batch_size``: texts per model call; ``rows_per_batch``: rows per
    call of an actor (blocks are re-cut to that size as they stream by, so the actors share the work
    evenly); ``threshold``: as ``polarity predict --threshold``. Everything that can be is checked
    here, before the job runs: a problem raises one :class:`~polarity.errors.PolarityError`.

    >>> scored = score_ray(ray.data.from_items([{"id": 1, "text": "A wonderful film."}]), "runs/default",
    ...                    concurrency=2)                               # doctest: +SKIP
    >>> scored.take(1)[0]["pred_label"]                                 # doctest: +SKIP
    'positive'
    """
    ray_data = require("ray.data", "ray")
    names, types = _schema(dataset)
    job = plan_job(model, names, text_column, threads=threads, batch_size=batch_size, threshold=threshold,
                   where="the dataset")
    _check_text_type(job.text_column, types[names.index(job.text_column)])
    actors = concurrency if concurrency is not None else default_concurrency(threads)
    for name, value in (("concurrency", actors), ("rows_per_batch", rows_per_batch)):
        positive_int(name, value)
    blocks = dataset.repartition(target_num_rows_per_block=rows_per_batch)
    return blocks.map_batches(PolarityScorer, fn_constructor_kwargs={"job": job}, batch_format="pandas",
                              batch_size=rows_per_batch, compute=ray_data.ActorPoolStrategy(size=actors),
                              num_cpus=threads or 1)


def default_concurrency(threads: int | None) -> int:
    """One actor per ``threads`` CPUs of the cluster, one CPU left for Ray Data's other tasks."""
    import ray

    return max(1, (int(ray.cluster_resources().get("CPU", 1)) - 1) // (threads or 1))


def _schema(dataset: ray.data.Dataset) -> tuple[list[str], list]:
    schema = dataset.schema()
    if schema is None:
        raise DataError("the dataset has no schema (no rows, or not computed yet): nothing to score")
    return list(schema.names), list(schema.types)


def _check_text_type(column: str, found) -> None:
    """A column Ray knows to hold something other than text is refused before the job."""
    import pyarrow as pa

    string_view = getattr(pa.types, "is_string_view", lambda _: False)  # absent from older pyarrow
    if isinstance(found, pa.DataType) and not (pa.types.is_string(found) or pa.types.is_large_string(found)
                                                or pa.types.is_null(found) or string_view(found)):
        raise DataError(f"the text column {column!r} holds {found}, not text (string)")


def score_files(source: str, output: str, model: str | Path, *, input_format: str, output_format: str,
                text_column: str | None = None, quiet: bool = False, verbose: bool = False, **options) -> None:
    """Read Parquet or CSV (a file or a folder of part files), score it, write a folder of part
    files in ``output_format``: what ``polarity predict --engine ray`` runs. ``options`` go to
    :func:`score_ray`. Joins the cluster at ``RAY_ADDRESS`` (or the Ray already initialised in this
    process), else starts a local one on the CPUs this process may use."""
    ray_data = require("ray.data", "ray")
    created = connect(quiet, verbose)
    try:
        if input_format == "csv":
            import pyarrow.csv

            dataset = ray_data.read_csv(source, parse_options=pyarrow.csv.ParseOptions(newlines_in_values=True),
                                        file_extensions=["csv"])
        else:
            dataset = ray_data.read_parquet(source, file_extensions=["parquet"])
        scored = score_ray(dataset, model, text_column, **options)
        if output_format == "csv":
            scored.write_csv(output)
        else:
            scored.write_parquet(output)
    finally:
        if created:
            import ray

            ray.shutdown()


def connect(quiet: bool = False, verbose: bool = False) -> bool:
    """Join the Ray cluster at ``RAY_ADDRESS``, else start a local one on the cores this process may
    use (nothing when Ray is already initialised); whether Ray was initialised here. A local cluster
    counts one CPU more than its cores: the actors take one per core, and Ray Data's list, read and
    write tasks (light next to the model) share the cores with them. ``quiet``: no progress bars;
    ``verbose``: the workers' own logs too."""
    import ray.data

    if ray.is_initialized():
        return False
    options = {"include_dashboard": False, "log_to_driver": verbose, "logging_level": logging.WARNING}
    if not os.environ.get("RAY_ADDRESS"):  # one logical CPU more than the cores, for the list, read and write tasks
        options["num_cpus"] = 1 + (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    ray.init(**options)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = not quiet
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose else logging.CRITICAL)  # the caller reports failures
    return True

"""What Spark and Ray scoring share: the checks made on the driver before a job runs, one
:class:`Predictor` per worker process, and a pandas batch scored into the columns that
``polarity predict --output`` writes (:func:`polarity.inference.stream.prediction_columns`)."""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from polarity import settings
from polarity.data.tables import TEXT_COLUMNS, pick_column
from polarity.errors import ConfigError, DataError
from polarity.inference.predictor import Predictor, check_threshold
from polarity.inference.stream import (
    check_input_columns,
    prediction_columns,
    prediction_values,
)
from polarity.models.folder import ModelFolder

if TYPE_CHECKING:
    import pandas as pd

_PREDICTORS: dict[str, Predictor] = {}
LOADS: Counter = Counter()  # model folder -> times this process loaded it (1 once it has scored)


@dataclass(frozen=True)
class ScoringJob:
    """What a worker needs to score batches: a few picklable values, never the model itself
    (each worker process loads the folder, once)."""

    model: str
    text_column: str
    labels: tuple
    threads: int | None = 1
    batch_size: int = 256
    threshold: float | None = None

    @property
    def columns(self) -> list[str]:
        """The columns added to the input's."""
        return prediction_columns(list(self.labels))

    @property
    def integer_labels(self) -> bool:
        """Whether ``pred_label`` holds integers (every label an int), else strings."""
        return all(isinstance(label, int) for label in self.labels)


def plan_job(model: str | Path, columns: list[str], text_column: str | None, *, threads: int | None,
             batch_size: int, threshold: float | None, where: str) -> ScoringJob:
    """Check everything that can be checked on the driver, so bad input fails there, in one line:
    the model folder, the options, the text column (found by name when not given) and clashes
    with the columns prediction adds. ``where`` names the input in messages."""
    folder = Path(model).expanduser().absolute()
    labels = ModelFolder(folder).config().labels
    settings.optional(settings.positive_int)("threads", threads)
    settings.positive_int("batch_size", batch_size)
    check_threshold(threshold, labels)
    column = pick_column(list(columns), text_column, TEXT_COLUMNS, "text", where)
    check_input_columns(columns, labels)
    return ScoringJob(str(folder), column, tuple(labels), threads, batch_size, threshold)


def predictor_for(folder: str, threads: int | None = 1) -> Predictor:
    """The :class:`Predictor` of ``folder``, loaded on first use in this process and kept for
    every later batch; ``threads`` PyTorch threads (None: leave PyTorch's setting)."""
    import torch

    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    predictor = _PREDICTORS.get(folder)
    if predictor is None:
        try:
            predictor = Predictor.load(folder)
        except (ConfigError, OSError) as exc:
            raise ConfigError(f"worker {socket.gethostname()} cannot load the model folder: {exc} (put it on a "
                              "path every worker reads, or ship it with the job)") from exc
        _PREDICTORS[folder] = predictor
        LOADS[folder] += 1
    return predictor


def score_frame(frame: pd.DataFrame, job: ScoringJob, folder: str | None = None) -> pd.DataFrame:
    """``frame`` with the prediction columns added after its own; ``folder`` is where this worker
    finds the model (default: ``job.model``). An empty frame gets the (empty) columns alone."""
    texts = text_values(frame[job.text_column], job.text_column)
    results = []
    if texts:
        predictor = predictor_for(folder or job.model, job.threads)
        results = predictor.classify(texts, batch_size=job.batch_size, threshold=job.threshold)
    added = prediction_series(results, job)
    return frame.assign(**{name: series.set_axis(frame.index) for name, series in zip(job.columns, added)})


def prediction_series(results: list, job: ScoringJob) -> list[pd.Series]:
    """The prediction columns of ``results``, typed: labels as int64 or text, the rest float64 or text."""
    import pandas as pd

    columns = list(zip(*(prediction_values(result, job.labels) for result in results))) or [()] * len(job.columns)
    label, score, *probs, warning = columns
    labels = pd.Series([int(v) for v in label], dtype="int64") if job.integer_labels else \
        pd.Series([str(v) for v in label], dtype=object)
    return [labels, *(pd.Series(values, dtype="float64") for values in (score, *probs)), pd.Series(warning, dtype=object)]


def text_values(column: pd.Series, name: str) -> list[str]:
    """The texts of a batch, or a :class:`DataError` naming the first value that is not text."""
    texts = column.tolist()
    for value in texts:
        if not isinstance(value, str):
            raise DataError(f"the text column {name!r} holds {value!r}, not text: drop or fill those rows first")
    return texts

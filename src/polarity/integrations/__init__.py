"""Scoring on the engines that already hold the data: Spark and Ray.

- :func:`polarity.integrations.spark.score_spark`: a Spark DataFrame's text column, through Arrow
  batches (``mapInPandas``); needs ``pip install "polarity[spark]"``.
- :func:`polarity.integrations.ray.score_ray`: a Ray Dataset, through ``map_batches`` with an actor
  class that holds the model; needs ``pip install "polarity[ray]"``.

The model folder is the unit that travels: each worker process loads it once (safetensors and
JSON, no pickled model) and keeps it for every batch after. The output columns are those of
``polarity predict --output``: the input's own, then ``pred_label``, ``pred_score``,
``prob_<label>`` and ``pred_warning``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from polarity.errors import ConfigError


def require(module: str, extra: str) -> ModuleType:
    """``module`` imported, or a one-line :class:`ConfigError` that says which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"scoring on {extra.capitalize()} needs {module.split('.')[0]} ({exc}): "
                          f'pip install "polarity[{extra}]"') from exc

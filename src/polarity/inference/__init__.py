"""Using a trained model: prediction on raw text, evaluation, exploration and behavioural checks."""

from polarity.inference.predictor import Prediction, Predictor
from polarity.inference.check import Case, CheckReport, builtin_suite, check, read_suite  # noqa: E402  (after Predictor)

__all__ = ["Case", "CheckReport", "Prediction", "Predictor", "builtin_suite", "check", "read_suite"]

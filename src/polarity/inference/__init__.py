"""Using a trained model: prediction on raw text, evaluation and exploration."""

from polarity.inference.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]

"""Models: the notebooks' classifiers as ``nn.Module``s behind a small registry."""

from polarity.models.classifiers import MeanEmbeddingClassifier, RecurrentClassifier
from polarity.models.registry import build_model, model_types, register

__all__ = ["MeanEmbeddingClassifier", "RecurrentClassifier", "build_model", "model_types", "register"]

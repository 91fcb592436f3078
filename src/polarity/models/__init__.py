"""Models: the notebooks' classifiers as ``nn.Module``s behind a small registry.

Importing this package flushes subnormal floats to zero before PyTorch starts its CPU threads, so
that they inherit the setting (see :mod:`polarity.engine.device`).
"""

from polarity.engine.device import flush_denormals

flush_denormals()

from polarity.models.classifiers import MeanEmbeddingClassifier, RecurrentClassifier
from polarity.models.hybrid import HybridClassifier
from polarity.models.ngrams import NBSVM, TfidfLogisticRegression
from polarity.models.registry import build_model, model_class, model_types, register

__all__ = ["HybridClassifier", "MeanEmbeddingClassifier", "NBSVM", "TfidfLogisticRegression", "RecurrentClassifier", "build_model", "model_class", "model_types", "register"]

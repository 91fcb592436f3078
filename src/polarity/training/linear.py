"""Closed-form fitting of the bag-of-n-grams models with scikit-learn.

The fitted table, scale and weights go back into the module (:mod:`polarity.models.ngrams`), whose
own ``features`` builds the training matrix, so training and prediction read texts the same way.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from polarity.engine import EncodedSet, evaluate_logits, make_batch, predict_logits
from polarity.errors import ConfigError
from polarity.models.hybrid import HybridClassifier
from polarity.models.ngrams import NBSVM, BagOfNgrams, TfidfLogisticRegression, ngram_keys

CHUNK = 512  # texts per batch while reading n-grams


def _chunks(data: EncodedSet):
    for start in range(0, len(data), CHUNK):
        indices = np.arange(start, min(start + CHUNK, len(data)))
        ids, _, _ = make_batch(data, indices, None, torch.device("cpu"))
        yield start, ids


def document_frequencies(model: BagOfNgrams, data: EncodedSet, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted n-gram keys, (classes, keys) number of texts of each label that hold each n-gram)."""
    keys, labels = [], []
    for start, ids in _chunks(data):
        rows, ngrams = ngram_keys(ids, model.vocab_size, model.ngrams)
        distinct = torch.unique(ngrams * CHUNK + rows).numpy()  # each (text, n-gram) once
        keys.append(distinct // CHUNK)
        labels.append(data.labels[start + distinct % CHUNK])
    none = [np.zeros(0, np.int64)]  # no texts: an empty table, refused by the caller
    table, column = np.unique(np.concatenate(keys or none), return_inverse=True)
    cells = np.concatenate(labels or none).astype(np.int64) * len(table) + column
    return table, np.bincount(cells, minlength=classes * len(table)).reshape(classes, len(table))


def feature_matrix(model: BagOfNgrams, data: EncodedSet):
    """The texts' features as a scipy CSR matrix (texts, features), as the module computes them."""
    from scipy.sparse import csr_matrix

    rows, columns, values = [], [], []
    with torch.no_grad():
        for start, ids in _chunks(data):
            r, f, v = model.features(ids)
            rows.append(r.numpy() + start)
            columns.append(f.numpy())
            values.append(v.numpy())
    return csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
                      shape=(len(data), model.num_features), dtype=np.float64)


def naive_bayes_ratio(counts: np.ndarray, alpha: float) -> np.ndarray:
    """log((p / |p|_1) / (q / |q|_1)) with p, q the smoothed binary counts of the second and first label."""
    p, q = counts[1] + alpha, counts[0] + alpha
    return np.log(p / p.sum()) - np.log(q / q.sum())


def select_features(model: BagOfNgrams, data: EncodedSet, classes: int) -> None:
    """Keep the n-grams found in at least ``min_df`` training texts, with their scale (IDF or NB ratio)."""
    keys, counts = document_frequencies(model, data, classes)
    frequency = counts.sum(axis=0)
    kept = frequency >= model.min_df
    keys, counts, frequency = keys[kept], counts[:, kept], frequency[kept]
    if not len(keys):
        raise ConfigError(f"no n-gram occurs in {model.min_df} training texts: lower model.min_df")
    if isinstance(model, NBSVM):
        scale = naive_bayes_ratio(counts, model.alpha)
    else:  # scikit-learn's smoothed IDF
        scale = np.log((1 + len(data)) / (1 + frequency)) + 1.0
    model.set_features(torch.from_numpy(keys), torch.from_numpy(scale.astype(np.float32)))


def _set_linear(model: BagOfNgrams, weight: np.ndarray, bias: np.ndarray) -> None:
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(weight.T, dtype=torch.float32))
        model.bias.copy_(torch.as_tensor(np.ravel(bias), dtype=torch.float32))


def fit_bag_of_ngrams(model: BagOfNgrams, fit: EncodedSet, valid: EncodedSet | None, classes: int, seed: int = 0) -> dict:
    """Fit ``model`` in closed form; returns a history row (training accuracy, seconds)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if classes != 2 and isinstance(model, NBSVM):
        raise ConfigError("nbsvm separates two labels; for more, use tfidf-lr")
    started = time.perf_counter()
    device = model.bias.device
    model.cpu()
    select_features(model, fit, classes)
    x = feature_matrix(model, fit)
    if isinstance(model, TfidfLogisticRegression):
        solver = "liblinear" if classes == 2 else "lbfgs"
        estimator = LogisticRegression(C=model.c, solver=solver, max_iter=1000, random_state=seed).fit(x, fit.labels)
        _set_linear(model, estimator.coef_, estimator.intercept_)
    elif isinstance(model, NBSVM):
        svm = LinearSVC(C=model.c, loss="squared_hinge", max_iter=10000, random_state=seed).fit(x, fit.labels)
        w = svm.coef_.ravel()
        w = (1.0 - model.beta) * np.abs(w).mean() + model.beta * w  # Wang & Manning's interpolation
        _set_linear(model, w[None, :], svm.intercept_)
        calibrate(model, valid)
    else:
        raise ConfigError(f"no closed-form fit for {type(model).__name__}")
    logits = x @ model.weight.detach().numpy().astype(np.float64) + model.bias.detach().numpy()
    train = evaluate_logits(logits[:, 0] if classes == 2 else logits, fit.labels)
    model.to(device)
    return {"epoch": 1, "loss": train["loss"], "accuracy": train["accuracy"], "features": model.num_features,
            "seconds": round(time.perf_counter() - started, 2)}


def calibrate(model: BagOfNgrams, valid: EncodedSet | None) -> None:
    """Platt scaling: a sigmoid of the margin fitted on the validation texts (left as is without them)."""
    from sklearn.linear_model import LogisticRegression

    if valid is None or len(np.unique(valid.labels)) < 2:
        return
    margin = (feature_matrix(model, valid) @ model.weight.detach().numpy().astype(np.float64)).ravel()
    margin += float(model.bias.detach()[0])
    platt = LogisticRegression(C=1e4).fit(margin[:, None], valid.labels)
    a, c = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    with torch.no_grad():
        model.weight.mul_(a)
        model.bias.mul_(a).add_(c)


class _Parts(torch.nn.Module):
    """A hybrid's two logits per text, for batched prediction."""

    num_outputs = 2

    def __init__(self, model: HybridClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids, lengths=None, alone=False):
        return self.model.parts(ids, lengths, alone)


def part_logits(model: HybridClassifier, data: EncodedSet, device: torch.device) -> np.ndarray:
    """(texts, 2): the RNN's and NBSVM's logits."""
    return predict_logits(_Parts(model), data, batching="bucketed", maxlen=None, device=device)


def fit_mix(model: HybridClassifier, labels: np.ndarray, inputs: np.ndarray) -> None:
    """Fit the mixing weights of a hybrid to ``labels``: ``inputs`` are what the mix weighs (the two
    logits of :func:`part_logits`, and more for ``mix = "length"``: ``model.mixed_inputs``)."""
    from sklearn.linear_model import LogisticRegression

    if inputs.shape[1] == 2:
        mix = LogisticRegression(C=1e4, max_iter=1000).fit(inputs, labels)
        weight, bias = mix.coef_, mix.intercept_
    else:
        weight, bias = fit_length_mix(inputs, labels)
    with torch.no_grad():
        model.mix.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        model.mix.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))


def fit_length_mix(inputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on ``[rnn, ngrams, rnn * s, ngrams * s, s]`` in which neither part ever
    counts against its own evidence: each part's weight at length s, ``w + w_short * s``, is at least
    0 for every s in [0, 1]. Fitted as the weights of ``rnn * (1 - s)``, ``ngrams * (1 - s)``,
    ``rnn * s`` and ``ngrams * s`` (each >= 0), ``s`` and a bias (free), by L-BFGS-B. Unconstrained,
    the counterfactual sentences (whose n-grams barely change when their label does) drove the n-gram
    weight of short texts below 0, which cost short reviews of other domains (docs/ROBUSTNESS.md)."""
    from scipy.optimize import minimize

    r, g, rs, gs, s = inputs.astype(np.float64).T
    x = np.column_stack([r - rs, g - gs, rs, gs, s, np.ones_like(s)])
    y = labels.astype(np.float64)

    def loss(u: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ u
        with np.errstate(over="ignore"):  # exp(-z) is inf for z << 0: p is then 0, as it should be
            p = 1.0 / (1.0 + np.exp(-z))
        return float(np.mean(np.logaddexp(0.0, z) - y * z)), x.T @ (p - y) / len(y)

    u = minimize(loss, np.zeros(6), jac=True, method="L-BFGS-B", bounds=[(0, None)] * 4 + [(None, None)] * 2).x
    return np.array([[u[0], u[1], u[2] - u[0], u[3] - u[1], u[4]]]), np.array([u[5]])

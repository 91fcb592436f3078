"""Linear models over bags of n-grams, the classic strong baselines, as ``nn.Module``s.

``tfidf-lr`` is TF-IDF (sublinear term frequency, smoothed IDF, L2 norm) of word 1- and 2-grams
with logistic regression; ``nbsvm`` is Wang & Manning's (2012) NBSVM: binary n-gram features
scaled by their naive-Bayes log-count ratio, a linear SVM and the interpolation of its weights
toward their mean magnitude. Both are fitted in closed form by scikit-learn
(:mod:`polarity.training.linear`); once fitted, the module holds the n-gram table, the per-feature
scale and the weights as tensors, so the model folder, the Predictor, the server and every command
use them as they use an LSTM.

N-grams are read from the token ids of the folder's own text encoder: ids below ``FIRST_WORD``
(padding, start marker, unknown words) are not words, and an n-gram that spans one is dropped,
as scikit-learn drops n-grams with an unknown word. An n-gram of ids ``a, b`` has the key
``a * vocab_size + b`` (one key space for all orders, since ids of words are >= ``FIRST_WORD``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from polarity.errors import ConfigError
from polarity.models.classifiers import squeeze_binary, summary_row
from polarity.models.registry import register

FIRST_WORD = 4  # ids 0-3: padding, start marker, unknown word, unused (Keras's index_from=3)
TERM_FREQUENCIES = ("binary", "raw", "sublinear")


def ngram_keys(ids: torch.Tensor, vocab_size: int, max_n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, key) of every n-gram (n = 1..max_n) of pre- or post-padded ``ids`` (batch, time)."""
    rows, keys = [], []
    width = ids.shape[1]
    ids = ids.long()
    for n in range(1, max_n + 1):
        if width < n:
            break
        key = ids[:, : width - n + 1]
        valid = key >= FIRST_WORD
        for j in range(1, n):
            following = ids[:, j: width - n + 1 + j]
            key = key * vocab_size + following
            valid = valid & (following >= FIRST_WORD)
        row = torch.arange(ids.shape[0], device=ids.device).unsqueeze(1).expand_as(key)
        rows.append(row[valid])
        keys.append(key[valid])
    if not keys:
        empty = torch.zeros(0, dtype=torch.long, device=ids.device)
        return empty, empty
    return torch.cat(rows), torch.cat(keys)


def count_rows(rows: torch.Tensor, features: torch.Tensor, num_features: int) -> tuple[torch.Tensor, ...]:
    """(row, feature, count) of each distinct (row, feature) pair."""
    pairs, counts = torch.unique(rows * num_features + features, return_counts=True)
    return pairs // num_features, pairs % num_features, counts


def term_weight(counts: torch.Tensor, tf: str) -> torch.Tensor:
    """A feature's value from its count in a text: 1, the count, or 1 + log(count)."""
    counts = counts.to(torch.float32)
    if tf == "binary":
        return torch.ones_like(counts)
    if tf == "sublinear":
        return 1.0 + torch.log(counts)
    return counts


class BagOfNgrams(nn.Module):
    """Features of a text: ``term_weight(count) * scale`` per known n-gram, L2-normalised if
    ``norm``; the logit is a linear function of them. Fitting options (``min_df``, ``c``...) are
    kept here as scikit-learn keeps them on the estimator."""

    tf = "sublinear"
    norm = True
    describe = "Bag of"

    def __init__(self, vocab_size: int, ngrams: int = 2, min_df: int = 1, c: float = 1.0, maxlen: int | None = None,
                 num_outputs: int = 1) -> None:
        super().__init__()
        if not 1 <= ngrams <= 3:
            raise ConfigError(f"model.ngrams must be 1, 2 or 3, got {ngrams}")
        if min_df < 1:
            raise ConfigError(f"model.min_df must be >= 1, got {min_df}")
        if not (c > 0 and math.isfinite(c)):
            raise ConfigError(f"model.c must be a positive number, got {c}")
        if vocab_size ** ngrams >= 2 ** 54:  # keys * 512 texts must fit in int64 while fitting
            raise ConfigError(f"a vocabulary of {vocab_size:,} words is too large for {ngrams}-gram keys: "
                              f"limit it with data.num_words (at most {int(2 ** (54 / ngrams)):,}) or lower model.ngrams")
        self.vocab_size, self.ngrams, self.min_df, self.c = vocab_size, ngrams, min_df, c
        self.num_outputs = num_outputs
        # sized by fitting (or by loading a fitted folder: see _load_from_state_dict)
        self.register_buffer("keys", torch.zeros(0, dtype=torch.long))
        self.register_buffer("scale", torch.zeros(0))
        self.weight = nn.Parameter(torch.zeros(0, num_outputs))
        self.bias = nn.Parameter(torch.zeros(num_outputs))

    @property
    def num_features(self) -> int:
        return int(self.keys.numel())

    def set_features(self, keys: torch.Tensor, scale: torch.Tensor) -> None:
        """The fitted n-gram table (sorted keys) and per-feature scale; weights start at zero."""
        if keys.numel() > 1 and not bool((keys[1:] > keys[:-1]).all()):
            raise ValueError("n-gram keys must be sorted and distinct")
        self.keys = keys.to(self.bias.device, torch.long)
        self.scale = scale.to(self.bias.device, torch.float32)
        self.weight = nn.Parameter(torch.zeros(len(keys), self.num_outputs, device=self.bias.device))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the table's size is known only from the fitted weights: take it from them
        for name in ("keys", "scale", "weight"):
            if prefix + name in state_dict:
                saved = state_dict[prefix + name]
                current = getattr(self, name)
                if current.shape != saved.shape:
                    fresh = torch.zeros(saved.shape, dtype=current.dtype, device=current.device)
                    setattr(self, name, nn.Parameter(fresh) if isinstance(current, nn.Parameter) else fresh)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        features = self.num_features
        if self.scale.shape != (features,) or self.weight.shape != (features, self.num_outputs) or (
                features > 1 and not bool((self.keys[1:] > self.keys[:-1]).all())):
            raise ConfigError(f"the n-gram table does not fit together: {features:,} keys (sorted, distinct), "
                              f"scale {tuple(self.scale.shape)}, weight {tuple(self.weight.shape)}")

    def features(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(row, feature, value) of the known n-grams of each row of ``ids``: a sparse matrix."""
        rows, keys = ngram_keys(ids, self.vocab_size, self.ngrams)
        if self.num_features == 0:
            empty = keys[:0]
            return empty, empty, empty.float()
        where = torch.searchsorted(self.keys, keys).clamp(max=self.num_features - 1)
        known = self.keys[where] == keys
        rows, features, counts = count_rows(rows[known], where[known], self.num_features)
        values = term_weight(counts, self.tf) * self.scale[features]
        if self.norm:
            squares = torch.zeros(ids.shape[0], device=ids.device).index_add_(0, rows, values * values)
            values = values / squares.sqrt().clamp(min=1e-12)[rows]
        return rows, features, values

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        """Logits of whole texts (no padding or batch effect: a text's bag is its own)."""
        rows, features, values = self.features(ids)
        contributions = values.unsqueeze(1) * self.weight[features]
        logits = torch.zeros(ids.shape[0], self.num_outputs, device=ids.device).index_add_(0, rows, contributions)
        return squeeze_binary(logits + self.bias)

    def summary(self, maxlen: int | None) -> list[dict]:
        return [
            # the n-gram table (keys, scale) is fitted, not trained: buffers, not parameters
            summary_row("ngrams", f"{self.describe} 1-{self.ngrams}-grams", (None, self.num_features or None), None),
            summary_row("linear", "Linear (sigmoid)" if self.num_outputs == 1 else "Linear (softmax)",
                        (None, self.num_outputs), [self.weight, self.bias]),
        ]


@register("tfidf-lr")
class TfidfLogisticRegression(BagOfNgrams):
    """TF-IDF of 1-2-grams (scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``) + logistic regression."""

    tf, norm = "sublinear", True
    describe = "TF-IDF"


@register("nbsvm")
class NBSVM(BagOfNgrams):
    """NBSVM (Wang & Manning 2012): binary n-grams scaled by naive-Bayes log-count ratios, a linear
    SVM, weights interpolated toward their mean magnitude by ``beta``; its margin is turned into a
    probability by a sigmoid fitted on the validation split (Platt scaling). Two labels only."""

    tf, norm = "binary", False
    describe = "NB-scaled binary"

    def __init__(self, vocab_size: int, ngrams: int = 2, min_df: int = 1, c: float = 1.0, alpha: float = 1.0,
                 beta: float = 0.25, norm: bool = False, maxlen: int | None = None, num_outputs: int = 1) -> None:
        if num_outputs != 1:
            raise ConfigError("nbsvm separates two labels; for more, use tfidf-lr")
        if not alpha > 0:
            raise ConfigError(f"model.alpha must be > 0, got {alpha}")
        if not 0.0 <= beta <= 1.0:
            raise ConfigError(f"model.beta must be in [0, 1], got {beta}")
        super().__init__(vocab_size, ngrams, min_df, c, maxlen, num_outputs)
        self.alpha, self.beta, self.norm = alpha, beta, norm

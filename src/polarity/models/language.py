"""A word-level language model whose embedding and recurrent layer become a classifier's encoder.

One (bi)directional LSTM reads windows of running text: its forward direction predicts each next
word, its backward direction (reading the window reversed) each previous word, as in ELMo's biLM.
Both share the embedding and one adaptive softmax (Grave et al. 2017, PyTorch's
``AdaptiveLogSoftmaxWithLoss``), which costs a fraction of a full softmax over a large vocabulary.
The ``embedding`` and ``rnn`` tensors are named as in :class:`~polarity.models.classifiers.RecurrentClassifier`,
so a one-layer LSTM classifier of the same sizes loads them as they are.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from polarity.errors import ConfigError
from polarity.models.init import use_single_bias

ENCODER_PREFIXES = ("embedding.", "rnn.")


class LanguageModel(nn.Module):
    """Embedding -> (Bi)LSTM -> adaptive softmax over ``words`` ids (ids are ranked by frequency)."""

    def __init__(self, words: int, embedding_dim: int = 50, units: int = 64, bidirectional: bool = True,
                 cutoffs: tuple[int, ...] = (1000, 5000), dropout: float = 0.1) -> None:
        super().__init__()
        cutoffs = tuple(c for c in cutoffs if c < words - 1) or (words // 2,)  # small vocabularies: one split
        if words < 8:
            raise ConfigError(f"a language model needs at least 8 words, got {words}")
        self.embedding = nn.Embedding(words, embedding_dim)
        self.rnn = nn.LSTM(embedding_dim, units, batch_first=True, bidirectional=bidirectional)
        use_single_bias(self.rnn)  # one bias per gate, as the classifiers have
        self.dropout = nn.Dropout(dropout)
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(units, words, cutoffs=list(cutoffs), div_value=4.0)

    @property
    def bidirectional(self) -> bool:
        return self.rnn.bidirectional

    def losses(self, window: torch.Tensor) -> list[torch.Tensor]:
        """Mean negative log-likelihood per predicted word of ``window`` (batch, time): the forward
        direction's (each word from the ones before it) and, if bidirectional, the backward one's."""
        outputs, _ = self.rnn(self.dropout(self.embedding(window)))
        outputs = self.dropout(outputs)
        units = self.rnn.hidden_size
        forward = self.softmax(outputs[:, :-1, :units].reshape(-1, units), window[:, 1:].reshape(-1)).loss
        if not self.bidirectional:
            return [forward]
        backward = self.softmax(outputs[:, 1:, units:].reshape(-1, units), window[:, :-1].reshape(-1)).loss
        return [forward, backward]

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The tensors a classifier takes: ``embedding.*`` and ``rnn.*``."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(ENCODER_PREFIXES)}


def load_encoder_state(model: nn.Module, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Copy ``embedding.*`` and ``rnn.*`` tensors into ``model``; a shape or name that does not match
    the model raises :class:`ConfigError` naming the recipe setting to change."""
    own = model.state_dict()
    for name, tensor in tensors.items():
        if not name.startswith(ENCODER_PREFIXES):
            continue
        if name not in own:
            raise ConfigError(f"{where} has {name}, which this model lacks (bidirectional, layers and cell must "
                              "match the pretrained encoder's)")
        if own[name].shape != tensor.shape:
            words, dim = tensors["embedding.weight"].shape
            units = tensors["rnn.weight_hh_l0"].shape[1]
            raise ConfigError(f"{where}: {name} is {tuple(tensor.shape)}, the model's is {tuple(own[name].shape)}; the "
                              f"encoder is an LSTM of {units} units over {words:,} words of {dim} dimensions: set "
                              "model.cell = \"lstm\", model.units, model.embedding_dim and the words (model.words "
                              "for a hybrid, data.num_words for an rnn) to match")
    missing = [name for name in own if name.startswith(ENCODER_PREFIXES) and name not in tensors]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing[:3])}: the model is larger than the pretrained encoder")
    with torch.no_grad():
        for name, tensor in tensors.items():
            if name.startswith(ENCODER_PREFIXES):
                own[name].copy_(tensor)

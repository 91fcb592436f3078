"""An RNN and NBSVM read the same text; a logistic regression fitted on the validation split mixes
their logits (as Mesnil et al. 2014 combined NBSVM with neural models)."""

from __future__ import annotations

import torch
import torch.nn as nn

from polarity.data.vocab import OOV
from polarity.errors import ConfigError
from polarity.models.classifiers import RecurrentClassifier, summary_row
from polarity.models.ngrams import NBSVM
from polarity.models.registry import register


class Windowed(nn.Module):
    """An RNN classifier that reads the last ``window`` words of a whole text, with the words of id
    ``words`` and above as unknown: a smaller vocabulary and length than the n-gram model's."""

    def __init__(self, rnn: RecurrentClassifier, words: int, window: int) -> None:
        super().__init__()
        self.rnn, self.words, self.window = rnn, words, window
        self.num_outputs = rnn.num_outputs

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return self.rnn.layer_groups()

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        ids = ids[:, -self.window:]  # pre-padded rows: the last columns hold each text's last words
        ids = torch.where(ids >= self.words, torch.full_like(ids, OOV), ids)
        if lengths is not None:
            lengths = lengths.clamp(max=self.window)
        return self.rnn(ids, lengths, alone=alone)


@register("hybrid")
class HybridClassifier(nn.Module):
    """``mix([rnn logit, nbsvm logit])``: the RNN (any ``rnn`` option, e.g. ``bidirectional``,
    ``pooling``) reads ``words``/``window``; NBSVM reads every n-gram, its features L2-normalised by
    default (``norm``: on short out-of-domain sentences the unnormalised NBSVM leans to one label).
    Training fits NBSVM first, then the RNN alone, then the two mixing weights and a bias on the
    validation split."""

    options_from = RecurrentClassifier  # the [model] keys this class passes on to the RNN

    def __init__(self, vocab_size: int, words: int = 20000, window: int = 400, ngrams: int = 2, min_df: int = 1,
                 c: float = 1.0, alpha: float = 1.0, beta: float = 0.25, norm: bool = True, maxlen: int | None = None,
                 num_outputs: int = 1, **rnn_options) -> None:
        super().__init__()
        if num_outputs != 1:
            raise ConfigError("hybrid mixes NBSVM, which separates two labels; for more, use an rnn recipe")
        if words < 5 or window < 1:
            raise ConfigError(f"model.words must be >= 5 and model.window >= 1, got {words} and {window}")
        self.num_outputs = 1
        rnn_words = min(words, vocab_size)
        if rnn_options.get("pretrained") is not None:  # vectors for the whole vocabulary: the RNN's rows
            rnn_options["pretrained"] = rnn_options["pretrained"][:rnn_words]
        self.recurrent = Windowed(RecurrentClassifier(rnn_words, maxlen=window, **rnn_options), rnn_words, window)
        self.ngrams = NBSVM(vocab_size, ngrams=ngrams, min_df=min_df, c=c, alpha=alpha, beta=beta, norm=norm)
        self.mix = nn.Linear(2, 1)
        with torch.no_grad():  # until fitted: the RNN alone
            self.mix.weight.copy_(torch.tensor([[1.0, 0.0]]))
            self.mix.bias.zero_()

    @property
    def embedding(self) -> nn.Embedding:
        """The RNN's word embedding (ids below ``words``)."""
        return self.recurrent.rnn.embedding

    def parts(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        """(batch, 2): the RNN's and NBSVM's logits."""
        return torch.stack([self.recurrent(ids, lengths, alone=alone), self.ngrams(ids)], dim=1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        return self.mix(self.parts(ids, lengths, alone)).squeeze(-1)

    def summary(self, maxlen: int | None) -> list[dict]:
        rows = [dict(row, layer="rnn/" + row["layer"]) for row in self.recurrent.rnn.summary(self.recurrent.window)]
        rows += [dict(row, layer="ngrams/" + row["layer"]) for row in self.ngrams.summary(None)]
        rows.append(summary_row("mix", "Linear(2 logits) (sigmoid)", (None, 1), self.mix))
        return rows

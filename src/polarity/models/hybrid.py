"""An RNN and NBSVM read the same text; a logistic regression fitted on the validation split mixes
their logits (as Mesnil et al. 2014 combined NBSVM with neural models)."""

from __future__ import annotations

import torch
import torch.nn as nn

from polarity.data.vocab import OOV, PAD
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


MIXES = ("plain", "length")
SHORT_TEXT = 30  # words: a text of this length is "short" to one half, s = 1 / (1 + words / SHORT_TEXT)


@register("hybrid")
class HybridClassifier(nn.Module):
    """``mix([rnn logit, nbsvm logit])``: the RNN (any ``rnn`` option, e.g. ``bidirectional``,
    ``pooling``) reads ``words``/``window``; NBSVM reads every n-gram, its features L2-normalised by
    default (``norm``: on short out-of-domain sentences the unnormalised NBSVM leans to one label).
    Training fits NBSVM first, then the RNN alone, then the mix on the validation split.

    ``mix = "plain"``: two weights and a bias. ``mix = "length"``: the weights also depend on how
    short the text is, s = 1 / (1 + words / 30), as ``[rnn, nbsvm, rnn * s, nbsvm * s, s]``: a bag
    of n-grams is at its best on long reviews, an RNN where a few words and their order decide."""

    options_from = RecurrentClassifier  # the [model] keys this class passes on to the RNN

    def __init__(self, vocab_size: int, words: int = 20000, window: int = 400, ngrams: int = 2, min_df: int = 1,
                 c: float = 1.0, alpha: float = 1.0, beta: float = 0.25, norm: bool = True, mix: str = "plain",
                 maxlen: int | None = None, num_outputs: int = 1, **rnn_options) -> None:
        super().__init__()
        if num_outputs != 1:
            raise ConfigError("hybrid mixes NBSVM, which separates two labels; for more, use an rnn recipe")
        if words < 5 or window < 1:
            raise ConfigError(f"model.words must be >= 5 and model.window >= 1, got {words} and {window}")
        if mix not in MIXES:
            raise ConfigError(f"model.mix must be one of {', '.join(map(repr, MIXES))}, got {mix!r}")
        self.num_outputs = 1
        rnn_words = min(words, vocab_size)
        if rnn_options.get("pretrained") is not None:  # vectors for the whole vocabulary: the RNN's rows
            rnn_options["pretrained"] = rnn_options["pretrained"][:rnn_words]
        self.recurrent = Windowed(RecurrentClassifier(rnn_words, maxlen=window, **rnn_options), rnn_words, window)
        self.ngrams = NBSVM(vocab_size, ngrams=ngrams, min_df=min_df, c=c, alpha=alpha, beta=beta, norm=norm)
        self.mix_inputs = ("rnn", "ngrams") + (("rnn_short", "ngrams_short", "short") if mix == "length" else ())
        self.mix = nn.Linear(len(self.mix_inputs), 1)
        with torch.no_grad():  # until fitted: the RNN alone
            self.mix.weight.zero_()
            self.mix.weight[0, 0] = 1.0
            self.mix.bias.zero_()

    @property
    def embedding(self) -> nn.Embedding:
        """The RNN's word embedding (ids below ``words``)."""
        return self.recurrent.rnn.embedding

    def parts(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        """(batch, 2): the RNN's and NBSVM's logits."""
        return torch.stack([self.recurrent(ids, lengths, alone=alone), self.ngrams(ids)], dim=1)

    def mixed_inputs(self, parts: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """What the mix weighs, from the two logits (batch, 2) and each text's ids other than padding."""
        if len(self.mix_inputs) == 2:
            return parts
        short = (1.0 / (1.0 + words.to(parts.dtype) / SHORT_TEXT))[:, None]
        return torch.cat([parts, parts * short, short], dim=1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        parts = self.parts(ids, lengths, alone)
        return self.mix(self.mixed_inputs(parts, (ids != PAD).sum(dim=1))).squeeze(-1)

    def summary(self, maxlen: int | None) -> list[dict]:
        rows = [dict(row, layer="rnn/" + row["layer"]) for row in self.recurrent.rnn.summary(self.recurrent.window)]
        rows += [dict(row, layer="ngrams/" + row["layer"]) for row in self.ngrams.summary(None)]
        inputs = "2 logits" if len(self.mix_inputs) == 2 else "2 logits and text length"
        rows.append(summary_row("mix", f"Linear({inputs}) (sigmoid)", (None, 1), self.mix))
        return rows

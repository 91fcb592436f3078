"""The classifiers of the Keras notebooks, as ``nn.Module``s that output one logit per review.

Inputs are pre-padded id tensors ``(batch, time)`` with 0 as padding (Keras's convention) and the
true lengths ``(batch,)``. With ``num_outputs=1`` (two labels) the output is one logit per review,
whose sigmoid is the probability of the second label (positive); with ``num_outputs=k`` (k labels)
it is k logits per review, for a softmax.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
from torch.func import functional_call

from polarity.errors import ConfigError
from polarity.models.init import keras_dense_, keras_embedding_, keras_recurrent_, use_single_bias
from polarity.models.language import load_encoder_state
from polarity.models.masking import along_time, at_last_step, left_align, reversed_within, row_positions
from polarity.models.registry import register


def make_embedding(
    vocab_size: int, dim: int, pretrained: np.ndarray | None, freeze: bool, keras_init: bool = True
) -> nn.Embedding:
    """An embedding from ``pretrained`` rows, else Keras's uniform(-0.05, 0.05) (or PyTorch's N(0, 1))."""
    embedding = nn.Embedding(vocab_size, dim)
    if pretrained is not None:
        if pretrained.shape != (vocab_size, dim):
            raise ConfigError(f"pretrained embeddings have shape {pretrained.shape}, expected {(vocab_size, dim)}")
        with torch.no_grad():
            embedding.weight.copy_(torch.as_tensor(pretrained, dtype=torch.float32))
    elif keras_init:
        keras_embedding_(embedding)
    embedding.weight.requires_grad_(not freeze)
    return embedding


def summary_row(layer: str, kind: str, shape: tuple, weights: nn.Module | Sequence[nn.Parameter] | None) -> dict:
    """One layer of :func:`polarity.training.summary.summary_table`; ``weights``: a module, or its parameters."""
    params = list(weights.parameters()) if isinstance(weights, nn.Module) else list(weights or [])
    return {
        "layer": layer,
        "type": kind,
        "output_shape": shape,
        "params": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
    }


def squeeze_binary(logits: torch.Tensor) -> torch.Tensor:
    """(batch,) for one output (two labels), else (batch, labels)."""
    return logits.squeeze(-1) if logits.shape[-1] == 1 else logits


def output_row(output: nn.Linear) -> dict:
    kind = "Dense(sigmoid)" if output.out_features == 1 else "Dense(softmax)"
    return summary_row("dense", kind, (None, output.out_features), output)


POOLINGS = ("last", "max", "mean", "max-mean")
_random = threading.local()
# functional_call swaps the module's weights while it runs: threads sharing a model take turns.
_weight_swap = threading.Lock()


@contextmanager
def random_source(generator: torch.Generator | None) -> Iterator[None]:
    """Draw this thread's dropout masks from ``generator`` (None: PyTorch's global generator), so
    that threads training shards of one batch at once stay reproducible."""
    previous = getattr(_random, "generator", None)
    _random.generator = generator
    try:
        yield
    finally:
        _random.generator = previous


def _generator() -> torch.Generator | None:
    return getattr(_random, "generator", None)


@contextmanager
def exporting() -> Iterator[None]:
    """While a model is traced for export: only the traceable paths (no time segments)."""
    previous = getattr(_random, "exporting", False)
    _random.exporting = True
    try:
        yield
    finally:
        _random.exporting = previous


def tracing() -> bool:
    """Whether the model is being traced or exported (Python-level shortcuts would be baked in)."""
    return getattr(_random, "exporting", False) or torch.jit.is_tracing() or torch.compiler.is_compiling()


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU mask comes from uniform noise: the same distribution, about twice
    as fast as ``bernoulli_`` (3.6 -> 1.9 ms forward and backward for one ``lstm-dropout`` batch)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        generator = _generator()
        if not self.training or self.p == 0.0 or (x.device.type != "cpu" and generator is None):
            return super().forward(x)
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        keep = (noise >= self.p).to(x.dtype).mul_(1.0 / (1.0 - self.p))
        return x * keep


@register("mean-embedding")
class MeanEmbeddingClassifier(nn.Module):
    """Embedding -> mean over time -> Dense(sigmoid) (seed 004's first model).

    With ``mask_padding=False`` the mean runs over ``maxlen`` positions, padding included, exactly
    as Keras's ``K.mean(x, axis=1)`` over pre-padded inputs; it is computed from the true lengths,
    so a batch padded only to its own longest review gives the same numbers.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 32,
        maxlen: int | None = None,
        mask_padding: bool = False,
        pretrained: np.ndarray | None = None,
        freeze_embedding: bool = False,
        num_outputs: int = 1,
    ) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        if not mask_padding and maxlen is None:
            raise ConfigError("mean-embedding without mask_padding averages over maxlen positions: set maxlen")
        self.maxlen = maxlen
        self.mask_padding = mask_padding
        self.embedding = make_embedding(vocab_size, embedding_dim, pretrained, freeze_embedding)
        self.output = nn.Linear(embedding_dim, num_outputs)
        keras_dense_(self.output)

    def pool(self, ids: torch.Tensor) -> torch.Tensor:
        """The mean embedding of each row of ``ids`` (batch, embedding_dim)."""
        vectors = self.embedding(ids)
        real = (ids != 0).unsqueeze(-1).to(vectors.dtype)
        total = (vectors * real).sum(dim=1)
        count = real.sum(dim=1)
        if self.mask_padding:
            return total / count.clamp(min=1.0)
        pads = (self.maxlen - count).clamp(min=0.0)
        return (total + pads * self.embedding.weight[0]) / self.maxlen

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        """``alone`` is accepted for symmetry: the mean already ignores how a batch is padded."""
        return squeeze_binary(self.output(self.pool(ids)))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return [list(self.embedding.parameters()), list(self.output.parameters())]

    def summary(self, maxlen: int | None) -> list[dict]:
        dim = self.embedding.embedding_dim
        return [
            summary_row("embedding", "Embedding", (None, maxlen, dim), self.embedding),
            summary_row("mean", "Mean over time", (None, dim), None),
            output_row(self.output),
        ]


@register("rnn")
class RecurrentClassifier(nn.Module):
    """Embedding -> [dropout] -> LSTM/GRU (stacked, bidirectional) -> [dropout] -> Dense(sigmoid).

    Dropouts, in Keras's terms: ``embedding_dropout`` is a ``Dropout`` layer on the embedded
    sequence (seed 001); ``input_dropout`` and ``recurrent_dropout`` are the LSTM's ``dropout`` and
    ``recurrent_dropout``, one mask per sequence on its inputs and one mask over the hidden units
    that feed the recurrence. The recurrent mask is applied to the columns of the recurrent kernel
    (weight-drop), once per batch rather than once per sequence, so the fused cuDNN/oneDNN kernels
    still run; ``recurrent_dropout_mask = "sequence"`` draws Keras's one mask per sequence instead
    (one forward LSTM layer, run as a step loop). ``mask_padding`` ignores padded steps (Keras's ``mask_zero=True``): a forward-only
    RNN reads post-padded batches and returns its output at each review's last word; a
    bidirectional one runs its backward direction on each review reversed within its length.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 32,
        units: int = 100,
        layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        embedding_dropout: float = 0.0,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        output_dropout: float = 0.0,
        mask_padding: bool = False,
        pretrained: np.ndarray | None = None,
        freeze_embedding: bool = False,
        keras_init: bool = True,
        pooling: str = "last",
        recurrent_activation: str = "sigmoid",
        recurrent_dropout_mask: str = "batch",
        encoder: dict | None = None,
        maxlen: int | None = None,
        num_outputs: int = 1,
    ) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        _check_rnn_options(cell, pooling, recurrent_activation, recurrent_dropout_mask, bidirectional, layers,
                           {"embedding_dropout": embedding_dropout, "input_dropout": input_dropout,
                            "recurrent_dropout": recurrent_dropout, "output_dropout": output_dropout})
        self.pooling, self.recurrent_dropout_mask = pooling, recurrent_dropout_mask
        self.cell = cell
        self.mask_padding = mask_padding
        self.input_dropout = input_dropout
        self.recurrent_dropout = recurrent_dropout
        self.embedding = make_embedding(vocab_size, embedding_dim, pretrained, freeze_embedding, keras_init)
        self.embedding_dropout = Dropout(embedding_dropout)
        self.rnn = _make_rnn(embedding_dim, units, layers, cell, bidirectional, recurrent_activation,
                             recurrent_dropout_mask, keras_init)
        self.output_dropout = Dropout(output_dropout)
        width = units * (2 if bidirectional else 1) * (2 if pooling == "max-mean" else 1)
        self.output = nn.Linear(width, num_outputs)
        if keras_init:
            keras_dense_(self.output)
        else:
            self.output.reset_parameters()
        if encoder is not None:  # a pretrained language model's embedding and RNN (polarity pretrain)
            if pretrained is not None:
                raise ConfigError("model.encoder brings its own embedding: drop model.pretrained")
            load_encoder_state(self, encoder, "the pretrained encoder")

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters from the bottom layer to the top: embedding, RNN, output (for discriminative
        learning rates and gradual unfreezing)."""
        return [list(self.embedding.parameters()), list(self.rnn.parameters()), list(self.output.parameters())]

    def _recurrent_weights(self) -> dict[str, torch.Tensor]:
        """Recurrent kernels with dropped hidden units (one mask per layer and direction)."""
        dropped = {}
        keep = 1.0 - self.recurrent_dropout
        for name, weight in self.rnn.named_parameters():
            if name.startswith("weight_hh"):
                mask = torch.bernoulli(torch.full((1, weight.shape[1]), keep, device=weight.device), generator=_generator())
                dropped[name] = weight * (mask / keep)
        return dropped

    def _run_rnn(self, inputs: torch.Tensor):
        if self.training and self.recurrent_dropout > 0 and self.recurrent_dropout_mask == "sequence":
            keep = 1.0 - self.recurrent_dropout
            mask = torch.bernoulli(torch.full((inputs.shape[0], self.rnn.hidden_size), keep, device=inputs.device,
                                              dtype=inputs.dtype), generator=_generator())
            return self.rnn(inputs, recurrent_mask=mask / keep)
        if self.training and self.recurrent_dropout > 0:
            with _weight_swap:  # named_parameters() would see another thread's swapped-in weights
                return functional_call(self.rnn, self._recurrent_weights(), (inputs,))
        return self.rnn(inputs)

    def _bidirectional(self, x: torch.Tensor, positions: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """Outputs ``(batch, time, 2 * units)`` of the bidirectional RNN on left-aligned ``x``, exactly
        masked: each direction runs on the fused dense kernel, the backward one on every row reversed
        within its length (packed sequences: 5x slower on CPU, docs/PERFORMANCE.md experiment 3)."""
        rnn = self.rnn
        with _weight_swap:  # another thread's functional_call may have swapped weights into self.rnn
            weights = {name: getattr(rnn, name) for name in rnn._flat_weights_names}
            if self.training and self.recurrent_dropout > 0:
                weights.update(self._recurrent_weights())
        reverse = reversed_within(positions, ends)
        for layer in range(rnn.num_layers):
            forward_out = self._run_direction(_direction_weights(weights, layer, ""), x)
            backward_out = self._run_direction(_direction_weights(weights, layer, "_reverse"), along_time(x, reverse))
            x = torch.cat([forward_out, along_time(backward_out, reverse)], dim=-1)
        return x

    def _run_direction(self, weights: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """One layer and direction of the RNN (``weights``: input, recurrent, biases) on batch-first ``x``:
        the fused kernel ``nn.LSTM``/``nn.GRU`` call, with no module state (threads and traces share it)."""
        h = x.new_zeros(1, x.shape[0], self.rnn.hidden_size)
        if self.cell == "lstm":
            return torch.lstm(x, (h, h), weights, True, 1, 0.0, self.training, False, True)[0]
        return torch.gru(x, h, weights, True, 1, 0.0, self.training, False, True)[0]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None, alone: bool = False) -> torch.Tensor:
        """Logits for pre-padded ``ids``. ``alone`` gives each review the output it gets without
        padding, whatever the batch (the masked computation), also for a model trained reading padding.
        Written in tensor operations only: ``polarity export`` traces this method."""
        masked = (self.mask_padding or alone) and lengths is not None
        if masked:
            positions, ends = row_positions(ids, lengths)
            ids = left_align(ids, positions, ends)
        elif self.pooling != "last":  # every step is read
            positions, ends = row_positions(ids, torch.full_like(ids[:, 0], ids.shape[1]))
        x = self.embedding_dropout(self.embedding(ids))
        if self.training and self.input_dropout > 0:
            keep = 1.0 - self.input_dropout
            mask = torch.bernoulli(torch.full((x.shape[0], 1, x.shape[2]), keep, device=x.device, dtype=x.dtype),
                                   generator=_generator())
            x = x * (mask / keep)
        if self.pooling != "last":
            last = self._pool(x, positions, ends, masked)
        elif masked:
            last = self._masked_last(x, positions, ends)
        else:
            _, state = self._run_rnn(x)
            hidden = state[0] if self.cell == "lstm" else state
            last = torch.cat([hidden[-2], hidden[-1]], dim=-1) if self.rnn.bidirectional else hidden[-1]
        return squeeze_binary(self.output(self.output_dropout(last)))

    def _masked_last(self, x: torch.Tensor, positions: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """The RNN's final output of each left-aligned row, as packed sequences give it."""
        if self.rnn.bidirectional:
            outputs = self._bidirectional(x, positions, ends)
            half = self.rnn.hidden_size
            return torch.cat([at_last_step(outputs[..., :half], ends), outputs[:, 0, half:]], dim=-1)
        if not self.training and x.device.type == "cpu" and not hard_sigmoid_gates(self.rnn) and not tracing():
            return self._last_outputs(x, ends.squeeze(1))
        # Post-padded, a forward-only RNN's output at each review's last word has not seen the
        # padding: exact masking with the fused dense kernel (packing measured 5x slower on CPU).
        outputs, _ = self._run_rnn(x)
        return at_last_step(outputs, ends)

    def _last_outputs(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """A forward-only RNN's output at each post-padded row's last word, without running rows far
        over their padding: rows sorted longest first, the fused kernel runs segments of time on the
        rows still reading, each segment from the state the previous one left (:func:`segment_ends`)."""
        if not len(lengths):
            return x.new_empty(0, self.rnn.hidden_size)
        order = torch.argsort(lengths, descending=True)
        lengths = lengths[order]
        ordered = lengths.tolist()
        x = x[order]
        pieces, state, start, active = [], None, 0, len(ordered)
        for end in segment_ends(ordered):
            while ordered[active - 1] <= start:
                active -= 1
            outputs, state = self.rnn(x[:active, start:end], _first_rows(state, active))
            done = active
            while done > 0 and ordered[done - 1] <= end:
                done -= 1
            if done < active:  # rows done..active-1 read their last word in this segment
                rows = torch.arange(done, active, device=x.device)
                pieces.append(outputs[rows, lengths[done:active] - 1 - start])
            start = end
        ordered_last = torch.cat(pieces[::-1])  # the shortest rows ended first
        last = torch.empty_like(ordered_last)
        last[order] = ordered_last
        return last

    def _pool(self, x: torch.Tensor, positions: torch.Tensor, ends: torch.Tensor, masked: bool) -> torch.Tensor:
        """Max and/or mean of the RNN's outputs over each review's steps (every step unless ``masked``)."""
        if masked and self.rnn.bidirectional:
            outputs = self._bidirectional(x, positions, ends)
        else:
            outputs, _ = self._run_rnn(x)  # forward-only on post-padded input: steps before the padding are exact
        real = (positions < ends).unsqueeze(-1)
        pooled = []
        if self.pooling in ("max", "max-mean"):
            pooled.append(outputs.masked_fill(~real, float("-inf")).amax(dim=1))
        if self.pooling in ("mean", "max-mean"):
            pooled.append((outputs * real).sum(dim=1) / ends.to(outputs.dtype))
        return torch.cat(pooled, dim=-1)

    def summary(self, maxlen: int | None) -> list[dict]:
        dim = self.embedding.embedding_dim
        width = self.output.in_features
        name = self.cell.upper() + (" (bidirectional)" if self.rnn.bidirectional else "")
        rows = [summary_row("embedding", "Embedding", (None, maxlen, dim), self.embedding)]
        if self.embedding_dropout.p > 0:
            rows.append(summary_row("dropout", "Dropout", (None, maxlen, dim), None))
        rnn_width = width // 2 if self.pooling == "max-mean" else width
        rows.append(summary_row(self.cell, name + (f" x{self.rnn.num_layers}" if self.rnn.num_layers > 1 else ""),
                                (None, maxlen, rnn_width) if self.pooling != "last" else (None, rnn_width), self.rnn))
        if self.pooling != "last":
            rows.append(summary_row("pooling", f"{self.pooling.capitalize()} over time", (None, width), None))
        if self.output_dropout.p > 0:
            rows.append(summary_row("dropout_1", "Dropout", (None, width), None))
        rows.append(output_row(self.output))
        return rows


def _check_rnn_options(cell: str, pooling: str, recurrent_activation: str, recurrent_dropout_mask: str,
                       bidirectional: bool, layers: int, dropouts: dict[str, float]) -> None:
    if cell not in ("lstm", "gru"):
        raise ConfigError(f"cell must be 'lstm' or 'gru', got {cell!r}")
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if recurrent_activation not in ("sigmoid", "hard_sigmoid"):
        raise ConfigError(f"recurrent_activation must be 'sigmoid' or 'hard_sigmoid', got {recurrent_activation!r}")
    if recurrent_activation == "hard_sigmoid" and (cell != "lstm" or bidirectional or layers != 1):
        raise ConfigError("recurrent_activation = 'hard_sigmoid' is for one forward LSTM layer")
    if recurrent_dropout_mask not in ("batch", "sequence"):
        raise ConfigError(f"recurrent_dropout_mask must be 'batch' or 'sequence', got {recurrent_dropout_mask!r}")
    if recurrent_dropout_mask == "sequence" and (cell != "lstm" or bidirectional or layers != 1):
        raise ConfigError("recurrent_dropout_mask = 'sequence' is for one forward LSTM layer")
    for name, p in dropouts.items():
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {p}")


def _make_rnn(inputs: int, units: int, layers: int, cell: str, bidirectional: bool, recurrent_activation: str,
              recurrent_dropout_mask: str, keras_init: bool) -> nn.RNNBase:
    """The fused LSTM/GRU, or a step-loop LSTM for what the fused kernels cannot do; Keras's
    initialisers, and one bias vector per LSTM layer and direction as Keras has."""
    if recurrent_activation == "hard_sigmoid" or recurrent_dropout_mask == "sequence":
        rnn = StepLSTM(inputs, units, batch_first=True, gate=recurrent_activation)
    else:
        rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(inputs, units, num_layers=layers, batch_first=True,
                                                      bidirectional=bidirectional)
    if keras_init:
        keras_recurrent_(rnn)
    if cell == "lstm":
        use_single_bias(rnn)  # Keras's GRU (reset_after=True) has two biases, like PyTorch's
    return rnn


SEGMENT_STEPS = 32  # a row runs fewer than this many steps past its last word


def segment_ends(lengths: list[int], steps: int | None = None) -> list[int]:
    """Where the time segments of :meth:`RecurrentClassifier._last_outputs` end, for rows of ``lengths``
    (longest first): every row's last word falls fewer than ``steps`` steps before the end of its
    segment, and segments are ``steps`` long or more, but the last (fewer, larger kernel calls);
    ``steps`` defaults to :data:`SEGMENT_STEPS`."""
    steps = SEGMENT_STEPS if steps is None else steps
    ends: list[int] = []
    for length in reversed(lengths):
        if not ends or length > ends[-1]:
            ends.append(min(length + steps - 1, lengths[0]))
    return ends


def _first_rows(state, rows: int):
    """The RNN state (``h`` or ``(h, c)``) of its first ``rows`` rows."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(part[:, :rows].contiguous() for part in state)
    return state[:, :rows].contiguous()


def _direction_weights(weights: dict[str, torch.Tensor], layer: int, suffix: str) -> list[torch.Tensor]:
    """One layer and direction's tensors of a bidirectional RNN, in the fused kernel's order."""
    return [weights[f"{name}_l{layer}{suffix}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 2's ``hard_sigmoid``: clip(0.2 x + 0.5, 0, 1)."""
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


class StepLSTM(nn.LSTM):
    """One forward LSTM layer on dense (post-padded) input as a step loop over the same parameters as
    ``nn.LSTM`` (no fused kernel), for what the fused kernels cannot do: Keras 2.2's default gates,
    ``gate="hard_sigmoid"``, and Keras's recurrent dropout, one mask per sequence over the hidden
    state that feeds each step (``recurrent_mask``, already scaled)."""

    def __init__(self, *args, gate: str = "sigmoid", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate

    def forward(self, x, hx=None, recurrent_mask: torch.Tensor | None = None):
        if self.gate == "sigmoid" and recurrent_mask is None:
            return super().forward(x, hx)  # the same function on the fused kernel
        if not isinstance(x, torch.Tensor) or hx is not None:
            raise ConfigError("a step-loop LSTM reads dense batches from a zero state only (no packed sequences)")
        gate = hard_sigmoid if self.gate == "hard_sigmoid" else torch.sigmoid
        projected = x @ self.weight_ih_l0.T + self.bias_ih_l0 + self.bias_hh_l0
        h = c = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for step in range(x.shape[1]):
            fed = h if recurrent_mask is None else h * recurrent_mask
            i, f, g, o = (projected[:, step] + fed @ self.weight_hh_l0.T).chunk(4, dim=1)
            c = gate(f) * c + gate(i) * torch.tanh(g)
            h = gate(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))


def hard_sigmoid_gates(rnn: nn.Module) -> bool:
    """Whether ``rnn`` runs Keras 2's hard_sigmoid gates (a step loop, also at prediction time)."""
    return getattr(rnn, "gate", "sigmoid") == "hard_sigmoid"

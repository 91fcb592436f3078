"""Keras's default initialisers, so that a recipe is the same experiment as its notebook."""

from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def keras_embedding_(embedding: nn.Embedding) -> None:
    """``RandomUniform(-0.05, 0.05)``, Keras's ``embeddings_initializer`` default."""
    nn.init.uniform_(embedding.weight, -0.05, 0.05)


@torch.no_grad()
def keras_dense_(linear: nn.Linear) -> None:
    """Glorot-uniform kernel and zero bias."""
    nn.init.xavier_uniform_(linear.weight)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)


@torch.no_grad()
def keras_recurrent_(rnn: nn.RNNBase) -> None:
    """Glorot-uniform input kernels, orthogonal recurrent kernels, zero biases; LSTM forget bias 1.

    PyTorch stacks gates as (i, f, g, o) for LSTM, like Keras's (i, f, c, o); per-gate kernels are
    initialised as one matrix, as Keras does. Keras's ``(input, 4*units)`` kernel is the transpose of
    PyTorch's ``(4*units, input)`` weight, and Glorot's limit is symmetric in the two dimensions.
    """
    hidden = rnn.hidden_size
    for name, tensor in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(tensor)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(tensor)
        elif name.startswith("bias"):
            nn.init.zeros_(tensor)
            if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                tensor[hidden : 2 * hidden] = 1.0  # unit_forget_bias=True


def use_single_bias(rnn: nn.LSTM) -> None:
    """Keep one bias vector per LSTM layer and direction, as Keras does.

    PyTorch's LSTM adds ``bias_ih + bias_hh``; two trainable vectors are one too many. Each
    ``bias_hh`` becomes a constant zero buffer (not saved, not trained, not counted), so the
    parameter count equals Keras's and the fused kernels still get all the tensors they expect.
    """
    for name in [n for n in rnn._flat_weights_names if n.startswith("bias_hh")]:
        reference = getattr(rnn, name)
        del rnn._parameters[name]
        rnn.register_buffer(name, torch.zeros_like(reference, requires_grad=False), persistent=False)
    rnn._init_flat_weights()

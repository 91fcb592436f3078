"""Batched prediction, probabilities from logits, and loss and accuracy for one or many labels.

A model with two labels outputs one logit per review (sigmoid: the probability of the second
label); a model with more outputs one logit per label (softmax).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from polarity.engine.batches import EncodedSet, deal_by_length, make_batch, plan_batches
from polarity.engine.device import autocast, flush_denormals
from polarity.engine.threads import ShardPool


def padded_width(batching: str, maxlen: int | None) -> int | None:
    """How wide a prediction batch is: ``maxlen`` with ``exact`` batching, else (None) its longest text."""
    return maxlen if batching == "exact" else None


def reads_alone(batching: str, maxlen: int | None) -> bool:
    """Whether each text is computed as if alone (the masked computation): wherever a batch is padded
    only to its longest text, so that a text's result never depends on the texts beside it."""
    return padded_width(batching, maxlen) is None


def predict_logits(model: nn.Module, data: EncodedSet, *, batching: str, maxlen: int | None,
                   device: torch.device, batch_size: int = 256, precision: str = "float32",
                   workers: int | None = None, parts: int | None = None, pool: ShardPool | None = None) -> np.ndarray:
    """Logits for every review, in the order of ``data``: shape (n,) for two labels, (n, labels) else.

    ``bucketed`` batches pad each batch to its longest review, and an RNN trained without masking
    reads padding: each review is then computed as if alone (the masked computation), so its
    result never depends on the reviews it shares a batch with. ``exact`` pads every review to
    ``maxlen``, as in training, which is just as independent of the batch.

    The reviews go in batches of ``batch_size``, or with ``parts`` as that many batches of equal
    work (:func:`~polarity.engine.batches.deal_by_length`; a server's model call). On CPU the
    batches run side by side on single-threaded workers (``pool``, else a pool made for the call),
    by default one per intra-op thread (1.5x the reviews per second of one batch at a time on all
    threads in float32, 2x in bfloat16: docs/PERFORMANCE.md, experiment 13); ``workers=1`` runs
    them in turn on the calling thread.
    """
    flush_denormals()
    model.eval()
    outputs = getattr(model, "num_outputs", 1)
    out = np.zeros((len(data),) if outputs == 1 else (len(data), outputs), dtype=np.float32)
    width = padded_width(batching, maxlen)

    @torch.inference_mode()
    def run(indices: np.ndarray) -> None:
        ids, lengths, _ = make_batch(data, indices, width, device)
        with autocast(device, precision):
            logits = model(ids, lengths, alone=width is None)
        out[indices] = logits.float().cpu().numpy()

    if parts:
        batches = [part for part in deal_by_length(data.lengths, parts) if len(part)]
    else:
        batches = plan_batches(data, batching, batch_size, seed=None)
    side_by_side = pool.shards if pool is not None else (workers or torch.get_num_threads())
    side_by_side = min(side_by_side, len(batches)) if device.type == "cpu" else 1
    if side_by_side > 1 and pool is not None:
        pool.map(run, batches)
    elif side_by_side > 1:
        with ShardPool(side_by_side) as own:
            own.map(run, batches)
    else:
        for indices in batches:
            run(indices)
    return out


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(n, labels) probabilities from :func:`predict_logits`'s output."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        positive = 1.0 / (1.0 + np.exp(-logits))
        return np.stack([1.0 - positive, positive], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def loss_and_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss (binary or categorical cross-entropy) and the number of right answers."""
    if logits.ndim == 1:
        loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        predicted = (logits.detach() > 0).long()
    else:
        loss = F.cross_entropy(logits, labels)
        predicted = logits.detach().argmax(dim=1)
    return loss, (predicted == labels).sum()


def evaluate_logits(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Loss and accuracy of logits against label indices."""
    if not len(labels):
        return {"loss": float("nan"), "accuracy": float("nan")}
    loss, correct = loss_and_correct(torch.as_tensor(logits), torch.as_tensor(np.asarray(labels, dtype=np.int64)))
    return {"loss": loss.item(), "accuracy": correct.item() / len(labels)}

"""Masked reading of pre-padded batches, in tensor operations only (no Python numbers taken from
tensors): what a masked RNN computes in the model and, traced, in the exported graphs (both axes
stay dynamic in ``torch.jit.trace`` and ``torch.export``).

A pre-padded row's ids move to its start (post-padding): a forward RNN's output at the row's last
word has then not read any padding, and its backward direction reads the row reversed within its
length (a gather), which is what packed sequences compute, on the fused dense kernel.
"""

from __future__ import annotations

import torch


def row_positions(ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions 0..time-1 per row, lengths clamped to 1..time as ``(batch, 1)``)."""
    positions = torch.cumsum(torch.ones_like(ids), dim=1) - 1
    width = positions[:, -1:] + 1
    return positions, torch.minimum(lengths.to(ids.device).unsqueeze(1).clamp(min=1), width)


def left_align(ids: torch.Tensor, positions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each pre-padded row's last ``length`` ids moved to its start, zeros after."""
    width = positions[:, -1:] + 1
    source = positions + (width - lengths)
    return ids.gather(1, torch.minimum(source, width - 1)).masked_fill(source >= width, 0)


def reversed_within(positions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The time index that reverses each left-aligned row within its length (padding stays in place)."""
    return torch.where(positions < lengths, lengths - 1 - positions, positions)


def along_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[b, index[b, t]]`` for a ``(batch, time, features)`` tensor."""
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


def at_last_step(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``outputs[b, lengths[b] - 1]`` (``lengths`` as ``(batch, 1)``)."""
    return along_time(outputs, lengths - 1).squeeze(1)

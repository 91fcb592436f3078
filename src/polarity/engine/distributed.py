"""Data parallelism across processes on PyTorch's own engine: ``torchrun`` starts the processes,
``torch.distributed`` (gloo on CPU, NCCL on GPUs) connects them.

Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment) every helper here acts as for a
single process, so the same code trains on one process or many.
"""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from polarity.errors import ConfigError


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "auto") -> str:
    """Join the process group torchrun describes in the environment; returns the device to use
    (``cuda:LOCAL_RANK`` on GPUs). A no-op, returning ``device``, outside torchrun."""
    if not launched_by_torchrun() or dist.is_initialized():
        return device
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    try:
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=30))
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"could not join the torchrun process group: {exc}") from exc
    return device


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """True on the process that prints and writes files (rank 0, or the only process)."""
    return rank() == 0


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every process when ``flag`` is true on any (e.g. a stop request)."""
    if world_size() == 1:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def share(total: int) -> np.ndarray:
    """This process's share of ``total`` rows: every ``world_size()``-th one from its rank."""
    return np.arange(rank(), total, world_size())


def gather_rows(part: np.ndarray, total: int, device: torch.device) -> np.ndarray:
    """Every process's rows, put back in place: each process computed ``part`` for its
    :func:`share` of ``total`` rows; every process receives the whole array."""
    if world_size() == 1:
        return part
    width = part.shape[1:] if part.ndim > 1 else ()
    counts = [int(len(range(r, total, world_size()))) for r in range(world_size())]
    padded = torch.zeros((max(counts), *width), dtype=torch.float32, device=device)
    padded[: len(part)] = torch.as_tensor(part, device=device)
    pieces = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(pieces, padded)
    out = np.zeros((total, *width), dtype=np.float32)
    for r, (piece, count) in enumerate(zip(pieces, counts)):
        out[np.arange(r, total, world_size())] = piece[:count].cpu().numpy()
    return out


def sum_all(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The sum of ``tensor`` over the processes (on CPU)."""
    if world_size() == 1:
        return tensor
    moved = tensor.to(device)
    dist.all_reduce(moved, op=dist.ReduceOp.SUM)
    return moved.cpu()


def gather_tensors(tensor: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
    """The same-shaped ``tensor`` of every process (e.g. random generator states), in rank order, on CPU."""
    if world_size() == 1:
        return [tensor]
    moved = tensor.to(device)
    pieces = [torch.empty_like(moved) for _ in range(world_size())]
    dist.all_gather(pieces, moved)
    return [piece.cpu() for piece in pieces]


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group, together: no process tears it down while another still uses it."""
    if dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()

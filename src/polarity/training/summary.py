"""Keras-style model summary: layers, output shapes and parameter counts."""

from __future__ import annotations

import torch.nn as nn


def summary_table(model: nn.Module, maxlen: int | None, name: str) -> tuple[str, dict]:
    rows = model.summary(maxlen)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines = [f'Model: "{name}"', f"{'Layer (type)':<36}{'Output Shape':<22}{'Param #':>12}", "=" * 70]
    for row in rows:
        label = f"{row['layer']} ({row['type']})"
        lines.append(f"{label:<36}{str(row['output_shape']):<22}{row['params']:>12,}")
    lines += ["=" * 70, f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}"]
    return "\n".join(lines), {"layers": rows, "total": total, "trainable": trainable}

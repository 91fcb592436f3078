"""Keras-style model summary: layers, output shapes and parameter counts."""

from __future__ import annotations

import torch.nn as nn


def summary_table(model: nn.Module, maxlen: int | None, name: str) -> tuple[str, dict]:
    rows = model.summary(maxlen)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    labels = [f"{row['layer']} ({row['type']})" for row in rows]
    width = max([36, *(len(label) + 1 for label in labels)])  # Keras's 36, wider for a longer name
    rule = "=" * (width + 34)
    lines = [f'Model: "{name}"', f"{'Layer (type)':<{width}}{'Output Shape':<22}{'Param #':>12}", rule]
    for label, row in zip(labels, rows):
        lines.append(f"{label:<{width}}{str(row['output_shape']):<22}{row['params']:>12,}")
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}"]
    return "\n".join(lines), {"layers": rows, "total": total, "trainable": trainable}

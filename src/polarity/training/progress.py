"""A Keras-like progress line: batches done, elapsed time, loss and accuracy; validation at epoch end."""

from __future__ import annotations

import sys
import time


def format_metrics(metrics: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in metrics.items())


class ProgressLine:
    def __init__(self, epochs: int, stream=None, enabled: bool = True) -> None:
        self.epochs = epochs
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def start_epoch(self, epoch: int, total_batches: int) -> None:
        self.total = total_batches
        self.started = time.perf_counter()
        if self.enabled:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=self.stream, flush=True)

    def _bar(self, done: int) -> str:
        width = 30
        filled = int(width * done / max(self.total, 1))
        arrow = ">" if filled < width else ""
        return "[" + "=" * filled + arrow + "." * (width - filled - len(arrow)) + "]"

    def update(self, done: int, metrics: dict) -> None:
        now = time.perf_counter()
        if not self.live or (now - self._last < 0.2 and done < self.total):
            return
        self._last = now
        line = f"\r{done}/{self.total} {self._bar(done)} - {now - self.started:.0f}s - {format_metrics(metrics)}"
        self.stream.write(line)
        self.stream.flush()

    def end_epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        metrics = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
        elapsed = time.perf_counter() - self.started
        per_step = 1000 * elapsed / max(self.total, 1)
        prefix = "\r" if self.live else ""
        line = f"{prefix}{self.total}/{self.total} {self._bar(self.total)} - {elapsed:.0f}s {per_step:.0f}ms/step - {format_metrics(metrics)}"
        print(line, file=self.stream, flush=True)

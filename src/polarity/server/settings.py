"""What ``polarity serve`` runs, checked: model folders and server options, and the environment
variables that hand them to uvicorn's worker processes (no FastAPI import here)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from polarity.settings import check_fields, choice, integer, number, optional, positive_int, rule, string

CONFIG_ENV = "POLARITY_SERVE_CONFIG"  # settings handed to uvicorn's worker processes
API_KEY_ENV = "POLARITY_API_KEY"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass
class ServeSettings:
    """What `polarity serve` runs: model folders (absolute paths) and server options, checked
    (messages name the command-line flag)."""

    models: list[str]
    host: str = rule("127.0.0.1", string)
    port: int = rule(8000, integer(0, "between 0 and 65535", 65535))
    workers: int = rule(1, integer(1, "at least 1"))
    api_key: str | None = rule(None, optional(string))
    max_batch: int = rule(256, integer(1, "between 1 and 4096", 4096))
    batch_window_ms: float = rule(5.0, number("between 0 and 1000", lambda v: 0 <= v <= 1000))
    threads: int | None = rule(None, optional(positive_int))  # PyTorch threads per worker (None: all cores)
    backend: str = rule("torch", choice("torch", "onnxruntime"))
    log_level: str = "info"
    access_log: bool = True

    def __post_init__(self) -> None:
        check_fields(self, _flag)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def worker_config(self) -> str:
        """The JSON in $POLARITY_SERVE_CONFIG (no API key: that travels in $POLARITY_API_KEY)."""
        return json.dumps({"models": self.models, "max_batch": self.max_batch, "batch_window": self.batch_window_ms / 1000,
                           "threads": self.threads, "backend": self.backend})

"""A server in a child process on a free loopback port: for tests, the load tester and scripts.

>>> with ServerProcess(["runs/default"]) as server:          # doctest: +SKIP
...     httpx.post(server.url + "v1/predict", json={"texts": ["Superb!"]}).json()
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python -m polarity.server MODEL_DIR ... --port P`` on 127.0.0.1, ready (models loaded) on enter,
    stopped with SIGTERM on exit. Its output goes to ``log`` (a file path) or is discarded."""

    def __init__(self, model_dirs: Sequence[str | os.PathLike], *, args: Sequence[str] = (),
                 env: dict[str, str] | None = None, log: str | os.PathLike | None = None,
                 timeout: float = 120.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.command = [sys.executable, "-m", "polarity.server", *map(str, model_dirs), "--host", "127.0.0.1",
                        "--port", str(self.port), *args]
        self.env = {**os.environ, **(env or {})}
        self.log, self.timeout = log, timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._out = out
        self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Poll /readyz until 200; an error with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.process.returncode}{self._tail()}")
            try:
                with urllib.request.urlopen(self.url + "readyz", timeout=2) as response:
                    if response.status == 200 and json.load(response).get("status") == "ready":
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server was not ready within {self.timeout:.0f} s{self._tail()}")

    def _tail(self) -> str:
        if not self.log or not Path(self.log).exists():
            return ""
        return ":\n" + Path(self.log).read_text(errors="replace")[-3000:]

    def terminate(self) -> None:
        """SIGTERM: uvicorn finishes the requests in flight, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, SIGKILL if still running; the exit code."""
        if self.process is None:
            return None
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._out is not subprocess.DEVNULL:
            self._out.close()
        return self.process.returncode

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

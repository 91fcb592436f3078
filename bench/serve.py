"""Load test of `polarity serve`: it starts the server, runs N concurrent clients for T seconds, stops.

    python -m bench.serve runs/default                     # 50 clients, 60 s, one review per request
    python -m bench.serve runs/default --texts 32          # 32 reviews per request
    python -m bench.serve runs/default --sequential        # the baseline: one request at a time
    python -m bench.serve runs/default --compare           # the baseline, then 50 clients: ratio and targets
    python -m bench.serve runs/default --compare --texts 32

Reviews are IMDB's 25,000 test reviews (``polarity.data.load_imdb()``: --data, $POLARITY_DATA, the
cache or the download) or the lines of ``--file``; each client walks through them from its own
start. Each run starts its own server (`python -m polarity.server`, a free 127.0.0.1 port, no access
log; batch window 5 ms, or none for one request at a time, which a window would only delay) and
stops it. The clients (asyncio, one connection each: a minimal HTTP/1.1 client as wrk's, or httpx with
``--client httpx``) run in this process, on the same cores. Every request is checked: status 200 and
one result per review, else it counts as an error.

Targets: 0 errors; with single-review requests and 50 clients, p99 latency under 100 ms; at least 5x
the reviews per second of serving one single-review request at a time (`--compare` also prints the
ratio to one request of --texts reviews at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from polarity.server.process import ServerProcess

TARGET_P99_MS = 100.0
REQUEST_TIMEOUT = 30.0  # seconds before a request counts as an error
TARGET_SPEEDUP = 5.0


@dataclass
class Phase:
    """What one run of clients measured."""

    clients: int
    texts: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    errors: Counter = field(default_factory=Counter)
    reviews: int = 0
    rss_mb: float | None = None
    peak_rss_mb: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def summary(self) -> dict:
        return {"clients": self.clients, "texts_per_request": self.texts, "seconds": round(self.seconds, 2),
                "requests": self.requests, "requests_per_s": round(self.requests / self.seconds, 1),
                "reviews_per_s": round(self.reviews / self.seconds, 1), "errors": sum(self.errors.values()),
                "error_kinds": dict(self.errors),
                **{f"p{q}_ms": round(self.percentile_ms(q), 1) for q in (50, 95, 99)},
                "mean_ms": round(1000 * statistics.fmean(self.latencies), 1) if self.latencies else None,
                "max_ms": round(1000 * max(self.latencies), 1) if self.latencies else None,
                "server_rss_mb": self.rss_mb, "server_peak_rss_mb": self.peak_rss_mb}


def load_reviews(file: str | None, data: str | None) -> tuple[list[str], str]:
    """Texts to send: the lines of ``file``, or IMDB's test reviews."""
    if file:
        lines = [line.strip() for line in Path(file).read_text(encoding="utf-8").splitlines()]
        texts = [line for line in lines if line]
        if not texts:
            raise SystemExit(f"{file} has no non-empty lines")
        return texts, f"{len(texts):,} lines of {file}"
    from polarity.data import load_imdb

    return list(load_imdb(data).test.texts), "IMDB's 25,000 test reviews"


def server_memory(pid: int) -> tuple[float | None, float | None]:
    """(RSS, peak RSS) in MB of the server and its children (uvicorn's workers)."""
    try:
        import psutil

        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in processes)
        peaks = [_proc_status(p.pid, "VmHWM") for p in processes]
        peak = sum(peaks) if all(v is not None for v in peaks) else None
        return round(rss / 2**20, 1), round(peak / 2**20, 1) if peak else None
    except ImportError:
        rss, peak = _proc_status(pid, "VmRSS"), _proc_status(pid, "VmHWM")
        return (round(rss / 2**20, 1) if rss else None), (round(peak / 2**20, 1) if peak else None)
    except Exception:  # the process is gone
        return None, None


def _proc_status(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RawConnection:
    """One keep-alive HTTP/1.1 connection that speaks just enough HTTP for the load test, as wrk does:
    a request is one write of prepared bytes, a response is read by its Content-Length. It costs the
    shared cores a fraction of an HTTP library's CPU per request (docs/PERFORMANCE.md). After any
    error the connection is dropped and the next request opens a new one."""

    def __init__(self, url: str, timeout: float = REQUEST_TIMEOUT) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of ``POST path`` with a JSON ``body``."""
        try:
            async with asyncio.timeout(self.timeout):
                if self.writer is None:
                    await self.connect()
                return await self._exchange(path, body)
        except BaseException:
            await self.close()  # a half-read response would put the next one out of step
            raise

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(b"POST /%s HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
                          b"content-length: %d\r\n\r\n%s" % (path.encode(), self.host.encode(), self.port,
                                                                 len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.lower().split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line[15:])
        if length is None:
            raise ValueError("a response without Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class RequestFailed(OSError):
    """A request the HTTP library gave up on; its message names the library's error."""


class HttpxConnection:
    """The same interface on an ``httpx.AsyncClient`` of one connection (``--client httpx``)."""

    def __init__(self, url: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(REQUEST_TIMEOUT),
                                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    async def connect(self) -> None:
        await self.client.get("healthz")

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        import httpx

        try:
            response = await self.client.post(path, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise RequestFailed(type(exc).__name__) from exc
        return response.status_code, response.content

    async def close(self) -> None:
        await self.client.aclose()


CONNECTIONS = {"raw": RawConnection, "httpx": HttpxConnection}
# A request that fails in any of these ways counts as an error (ValueError: a response that is not
# HTTP or not JSON; KeyError: JSON without "results"); other exceptions are the load tester's bugs.
CONNECTION_ERRORS = (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                     ValueError, KeyError)


async def one_client(connection, reviews: list[str], start: int, step: int, texts: int,
                     deadline: float, phase: Phase | None, budget: list[int]) -> None:
    """Send requests back to back until ``deadline`` or the shared request ``budget`` runs out."""
    position = start
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        body = json.dumps({"texts": [reviews[(position + k) % len(reviews)] for k in range(texts)]}).encode()
        position += step
        started = time.perf_counter()
        try:
            status, content = await connection.post("v1/predict", body)
            error = None if status == 200 else f"HTTP {status}"
            if error is None and len(json.loads(content)["results"]) != texts:
                error = "wrong number of results"
        except CONNECTION_ERRORS as exc:
            error = str(exc) if isinstance(exc, RequestFailed) else type(exc).__name__
        elapsed = time.perf_counter() - started
        if error:
            await asyncio.sleep(0.01)  # a server that refuses at once must not starve the other clients
        if phase is not None:
            if error:
                phase.errors[error] += 1
            else:
                phase.latencies.append(elapsed)
                phase.reviews += texts


async def run_clients(url: str, reviews: list[str], clients: int, texts: int, seconds: float, warmup: float,
                      max_requests: int, client: str = "raw") -> Phase:
    """``clients`` clients for ``warmup`` seconds (not counted), then ``seconds`` measured.

    Each client has its own connection, made before the clock starts (one shared pool of 50
    connections cost httpx about 5x the CPU per request, time this process takes from the server).
    """
    phase = Phase(clients, texts)
    step = max(1, len(reviews) // clients)
    connections = [CONNECTIONS[client](url) for _ in range(clients)]
    try:
        await asyncio.gather(*(connection.connect() for connection in connections))
        for measured, duration in ((None, warmup), (phase, seconds)):
            if duration <= 0:
                continue
            budget = [max_requests]
            started = time.perf_counter()
            deadline = started + duration
            tasks = [one_client(connection, reviews, i * step, texts * clients, texts, deadline, measured, budget)
                     for i, connection in enumerate(connections)]
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration + 60)
            if measured is not None:
                phase.seconds = time.perf_counter() - started
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    return phase


def print_phase(name: str, phase: Phase) -> None:
    s = phase.summary()
    errors = f"{s['errors']:,}" + (f" ({', '.join(f'{k}: {v}' for k, v in s['error_kinds'].items())})" if s["errors"] else "")
    print(f"{name}: {s['clients']} client(s), {s['texts_per_request']} review(s) per request, {s['seconds']:.1f} s")
    print(f"  requests   {s['requests']:>9,}  {s['requests_per_s']:>9,.1f}/s    errors {errors}")
    print(f"  reviews    {phase.reviews:>9,}  {s['reviews_per_s']:>9,.1f}/s")
    print(f"  latency    p50 {s['p50_ms']:.1f} ms   p95 {s['p95_ms']:.1f} ms   p99 {s['p99_ms']:.1f} ms   "
          f"max {s['max_ms']} ms")
    print(f"  server RSS {s['server_rss_mb']} MB (peak {s['server_peak_rss_mb']} MB)", flush=True)


def check_targets(results: dict[str, Phase]) -> bool:
    """The issue's targets: no errors, p99 under 100 ms (single-review requests), and at least 5x the
    reviews per second of serving one single-review request at a time."""
    loaded, baseline = results["concurrent"], results["sequential"]
    rate = loaded.reviews / loaded.seconds
    speedup = rate / max(baseline.reviews / baseline.seconds, 1e-9)
    errors = sum(sum(phase.errors.values()) for phase in results.values())
    checks = [(f"errors 0 (got {errors})", errors == 0)]
    if loaded.texts == 1:
        p99 = loaded.percentile_ms(99)
        checks.append((f"p99 < {TARGET_P99_MS:.0f} ms with {loaded.clients} clients (got {p99:.1f} ms)", p99 < TARGET_P99_MS))
    checks.append((f">= {TARGET_SPEEDUP:.0f}x the reviews/s of one single-review request at a time "
                   f"(got {speedup:.2f}x)", speedup >= TARGET_SPEEDUP))
    for text, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    same = results.get(f"sequential-{loaded.texts}")
    if same is not None:
        print(f"  (and {rate / max(same.reviews / same.seconds, 1e-9):.2f}x the reviews/s of one "
              f"{loaded.texts}-review request at a time)")
    return all(ok for _, ok in checks)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", metavar="MODEL_DIR")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per run (default 60)")
    parser.add_argument("--texts", type=int, default=1, help="reviews per request, e.g. 1 or 32 (default 1)")
    parser.add_argument("--sequential", action="store_true", help="one request at a time (1 client): the baseline")
    parser.add_argument("--compare", action="store_true", help="one single-review request at a time (the baseline; "
                        "also --texts reviews per request when more than 1), then --clients clients; check the targets")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--max-requests", type=int, default=10_000_000, help="stop a run after this many requests")
    parser.add_argument("--file", help="texts to send, one per line (default: IMDB's test reviews)")
    parser.add_argument("--data", help="the IMDB archive (default: $POLARITY_DATA, the cache or the download)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--window-ms", type=float, default=None, help="the server's batch window (default: 5 ms, "
                        "0 for --sequential and the baseline of --compare)")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"], help="the server's "
                        "--backend (default torch)")
    parser.add_argument("--client", default="raw", choices=sorted(CONNECTIONS), help="raw: a minimal HTTP/1.1 "
                        "client, as wrk (default); httpx: the httpx library, which takes more of the shared cores")
    parser.add_argument("--server-log", help="write the server's output to this file")
    parser.add_argument("--server-log-level", default="warning", choices=["warning", "info", "debug"],
                        help="the server's --log-level (debug: a line per model call, its size and time)")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args(argv)
    if args.clients < 1 or not 1 <= args.texts <= 256 or args.seconds <= 0:
        parser.error("--clients >= 1, --texts between 1 and 256 and --seconds > 0")
    return args


def run_phase(name: str, clients: int, texts: int, window_ms: float, reviews: list[str],
              args: argparse.Namespace) -> Phase:
    """Start a server, load it with ``clients`` clients, stop it; print and return what was measured."""
    server_args = ["--no-access-log", "--log-level", args.server_log_level, "--workers", str(args.workers),
                   "--batch-window-ms", str(window_ms), "--backend", args.backend]
    with ServerProcess([args.model], args=server_args, log=args.server_log) as server:
        print(f"{name}: server {server.url} (pid {server.process.pid}, {args.workers} worker(s), "
              f"batch window {window_ms:g} ms)", flush=True)
        phase = run_event_loop(run_clients(server.url, reviews, clients, texts, args.seconds, args.warmup,
                                           args.max_requests, args.client))
        phase.rss_mb, phase.peak_rss_mb = server_memory(server.process.pid)
    print_phase(name, phase)
    return phase


def run_event_loop(coroutine):
    """``asyncio.run`` on uvloop where it is installed (the server's loop), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reviews, source = load_reviews(args.file, args.data)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}; "
          f"model {args.model}; texts: {source}", flush=True)
    # One request at a time gains nothing from a batching window: its baselines run without one.
    window = args.window_ms
    plan = []  # (name, clients, reviews per request, window in ms)
    if args.sequential:
        plan.append(("sequential", 1, args.texts, 0.0 if window is None else window))
    else:
        if args.compare:
            plan.append(("sequential", 1, 1, 0.0 if window is None else window))
            if args.texts > 1:
                plan.append((f"sequential-{args.texts}", 1, args.texts, 0.0 if window is None else window))
        plan.append(("concurrent", args.clients, args.texts, 5.0 if window is None else window))
    gc.collect()
    gc.freeze()  # this process's own collections would show as latency: the reviews and imports stay out of them
    results = {name: run_phase(name, clients, texts, ms, reviews, args) for name, clients, texts, ms in plan}
    ok = not any(phase.errors for phase in results.values())
    if args.compare:
        ok = check_targets(results) and ok
    if args.json:
        print(json.dumps({name: phase.summary() for name, phase in results.items()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

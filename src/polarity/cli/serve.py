"""``polarity serve MODEL_DIR [MODEL_DIR ...]`` (and ``python -m polarity.server``): the server's
command line. Nothing here imports FastAPI or uvicorn until the command runs, so ``polarity --help``
works without the ``serve`` extra."""

from __future__ import annotations

import argparse
import copy
import ipaddress
import os
import sys
from collections.abc import Sequence

from polarity.cli.common import command
from polarity.engine.threads import available_cores
from polarity.errors import PolarityError
from polarity.server.settings import API_KEY_ENV, CONFIG_ENV, ServeSettings

def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of `polarity serve` (shared with ``python -m polarity.server``)."""
    parser.add_argument("models", nargs="+", metavar="MODEL_DIR",
                        help="model folders; each is served under its folder name, the first is the default")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes, each with its own copy of the models (default 1)")
    parser.add_argument("--api-key", default=None, metavar="KEY",
                        help=f"require Authorization: Bearer KEY under /v1/ (default: ${API_KEY_ENV}, else none)")
    parser.add_argument("--max-batch", type=int, default=256, metavar="N",
                        help="most texts in one model call (default 256)")
    parser.add_argument("--batch-window-ms", type=float, default=5.0, metavar="MS",
                        help="how long a request waits for others to share its model call (default 5)")
    parser.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                        help="onnxruntime: run the networks on ONNX Runtime (rnn models without pooling and "
                             "mean-embedding models; needs the export extra)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn's log level (default info)")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="no line per request")


def register(commands: argparse._SubParsersAction, data_opts: argparse.ArgumentParser) -> None:
    """Add ``serve`` (and its handler) to the main CLI's subcommands."""
    serve = command(commands, "serve", "serve models over HTTP: JSON API, a page to try them, /docs",
                    "polarity serve runs/default --port 8000")
    serve.description = ("Serve model folders over HTTP (needs the serve extra: pip install 'polarity[serve]'). "
                         "SIGTERM or Ctrl-C finish the requests in flight, then stop.")
    configure_parser(serve)
    serve.set_defaults(handler=cmd_serve)


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """Checked settings: ports, workers and batching in range, model folders readable, the API key."""
    from polarity.server.registry import read_entries  # checks every folder, and that names differ

    settings = ServeSettings(models=list(args.models), host=args.host, port=args.port, workers=args.workers,
                             api_key=args.api_key or os.environ.get(API_KEY_ENV) or None, max_batch=args.max_batch,
                             batch_window_ms=args.batch_window_ms, backend=args.backend, log_level=args.log_level,
                             access_log=args.access_log)
    settings.models = [str(e.folder) for e in read_entries(args.models)]
    settings.threads = max(1, available_cores() // settings.workers) if settings.workers > 1 else None
    return settings


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _log_config(level: str) -> dict:
    """uvicorn's logging, with polarity's server messages (model loading, errors) in the same stream."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["polarity.server"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM or Ctrl-C (requests in flight finish first)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise PolarityError(f"polarity serve needs FastAPI and uvicorn ({exc.name} is missing): "
                            "pip install 'polarity[serve]'") from None
    settings = settings_from_args(args)
    os.environ[CONFIG_ENV] = settings.worker_config()
    if settings.api_key:
        os.environ[API_KEY_ENV] = settings.api_key
    else:
        os.environ.pop(API_KEY_ENV, None)
    names = ", ".join(os.path.basename(m) for m in settings.models)
    auth = "API key required under /v1/" if settings.api_key else "no API key"
    print(f"polarity: serving {names} at {settings.url} (page /, API /v1/, docs /docs; {auth})", flush=True)
    if not _loopback(settings.host) and not settings.api_key:
        print(f"polarity: warning: {settings.host} is reachable from other machines and no API key is set",
              file=sys.stderr, flush=True)
    uvicorn.run("polarity.server.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level, access_log=settings.access_log,
                log_config=_log_config(settings.log_level), timeout_graceful_shutdown=30)
    return 0


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``python -m polarity.server``: the serve command on its own."""
    parser = argparse.ArgumentParser(prog="python -m polarity.server", description="Serve model folders over HTTP.")
    configure_parser(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_serve(args)
    except PolarityError as exc:
        print(f"polarity: error: {exc}", file=sys.stderr)
        return 1

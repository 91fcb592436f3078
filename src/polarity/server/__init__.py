"""Serve models over HTTP: a JSON API (FastAPI), a page to try them, health and readiness probes.

Needs the ``serve`` extra (``pip install "polarity[serve]"``). ``polarity serve MODEL_DIR`` runs it;
:func:`create_app` gives the ASGI application itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polarity.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # imported on use: FastAPI is optional
        from polarity.server.app import create_app

        return create_app
    raise AttributeError(name)

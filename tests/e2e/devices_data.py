"""Helpers for end-to-end tests: running services, and Python bus peers connecting to them.

A :class:`BusPeer` is a router joined by a real websocket to a running service: a
device (``peek-mobile``, anonymous) on a client service's mobile site, or a service
name with the platform token on the server's platform site.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred

from peek_platform.vortex.bridge import BusBridge
from peek_platform.vortex.transport import Backoff, VortexClientService
from peek_plugin_base.vortex import PayloadRouter
from tests.support import ServiceProcess, free_port


def server_config(enabled: list[str], dbUrl: Optional[str] = None) -> dict[str, Any]:
    """A server config on free ports with ``enabled`` plugins, using the database at
    ``dbUrl`` (default: the embedded SQLite database in its home)."""
    config: dict[str, Any] = {
        "plugin": {"enabled": enabled},
        "logging": {"level": "DEBUG"},
        "httpServer": {"admin": {"sitePort": free_port()},
                       "platform": {"sitePort": free_port()}},
    }
    if dbUrl is not None:
        config["sqlalchemy"] = {"connectUrl": dbUrl}
    return config


def client_config(enabled: list[str], server_home: Path, server: dict[str, Any]) -> dict[str, Any]:
    """A client service config on free ports, connecting to the server of ``server``."""
    return {
        "plugin": {"enabled": enabled},
        "logging": {"level": "DEBUG"},
        "peekServer": {"httpPort": server["httpServer"]["platform"]["sitePort"],
                       "tokenFile": str(server_home / "platform.token"),
                       "reconnectInitialSeconds": 0.2, "reconnectMaxSeconds": 1},
        "httpServer": {"mobile": {"sitePort": free_port()},
                       "desktop": {"sitePort": free_port()}},
    }


def start_service(service: str, home: Path, config: dict[str, Any],
                  cleanups: Callable[..., Any],
                  pythonpath: Optional[Path] = None) -> ServiceProcess:
    """Start ``run_peek_<service>``, wait until it is running, stop it at cleanup.

    ``pythonpath``: a folder of fixture plugins to import (the repository is added too).
    """
    process = ServiceProcess(service, home, config, pythonpath)
    cleanups(process.stop)
    process.wait_log(f"Peek {service} is running", timeout=60)
    return process


class BusPeer:
    """A Python peer on the bus: its own router, joined to a service by a real websocket."""

    def __init__(self, port: int, vortexName: str, token: Optional[str] = None) -> None:
        self.router = PayloadRouter()
        self.bridge = BusBridge(self.router, vortexName)
        self.service = VortexClientService(
            f"test-{vortexName}", f"ws://127.0.0.1:{port}/vortexws", vortexName,
            token=lambda: token, handler=self.bridge,
            backoff=Backoff(initial=0.1, maximum=0.5),
        )

    def connect(self) -> "Deferred[None]":
        """Fires once the service accepted the hello."""
        return self.service.startService()

    def close(self) -> "Deferred[Any]":
        return self.service.stopService()

"""Helpers for end-to-end tests: running services, and Python bus peers connecting to them.

A :class:`VortexPeer` is a router joined by a real websocket to a running service: a
device (``peek-mobile``, anonymous) on a client service's mobile site, or a service
name with the platform token on the server's platform site.
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred

from peek_plugin_base.vortex import PayloadRouter
from peek_vortex.transport import Backoff, VortexBridge, VortexClientService
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


class VortexPeer:
    """A Python peer on the bus: its own router, joined to a service by a real websocket."""

    def __init__(self, port: int, vortexName: str, token: Optional[str] = None,
                 headers: Optional[dict[str, str]] = None) -> None:
        self.router = PayloadRouter()
        self.bridge = VortexBridge(self.router, vortexName)
        self.service = VortexClientService(
            f"test-{vortexName}", f"ws://127.0.0.1:{port}/vortexws", vortexName,
            token=lambda: token, handler=self.bridge,
            backoff=Backoff(initial=0.1, maximum=0.5), headers=headers,
        )

    def connect(self) -> "Deferred[None]":
        """Fires once the service accepted the hello."""
        return self.service.startService()

    def close(self) -> "Deferred[Any]":
        return self.service.stopService()


class ServerAndClient:
    """A trial TestCase mixin: a real server and client service, and bus peers joined to them.

    Call :meth:`start_services` from ``setUp``; it sets ``server``, ``client``,
    ``server_home``, ``mobile_port``, ``desktop_port``, ``platform_port`` and ``token``.
    """

    addCleanup: Callable[..., Any]

    def start_services(self, plugins: list[str], prefix: str, dbUrl: Optional[str] = None,
                       pythonpath: Optional[Path] = None) -> Path:
        """Start both services in a new temporary folder (removed last) and return it."""
        home = Path(tempfile.mkdtemp(prefix=prefix))
        # Removed last: cleanups run newest first, so the services have stopped by then.
        self.addCleanup(shutil.rmtree, home, True)
        self.server_home = home / "server"
        server = server_config(plugins, dbUrl)
        self.server = start_service("server", self.server_home, server, self.addCleanup,
                                    pythonpath)
        client = client_config(plugins, self.server_home, server)
        self.client = start_service("client", home / "client", client, self.addCleanup,
                                    pythonpath)
        self.mobile_port = client["httpServer"]["mobile"]["sitePort"]
        self.desktop_port = client["httpServer"]["desktop"]["sitePort"]
        self.platform_port = server["httpServer"]["platform"]["sitePort"]
        self.token = (self.server_home / "platform.token").read_text(encoding="ascii").strip()
        return home

    async def peer(self, port: int, name: str, token: Any = None) -> VortexPeer:
        """A bus peer connected to ``port`` as ``name``, closed at cleanup."""
        peer = VortexPeer(port, name, token)
        self.addCleanup(peer.close)
        await peer.connect()
        return peer

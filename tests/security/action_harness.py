"""A real server running the ``fx_actions`` fixture plugin, and a Python service peer on it."""

import json
from pathlib import Path
from typing import Any, Optional

from peek_plugin_base.PeekVortexUtil import peekClientName, peekServerName
from peek_plugin_base.vortex import TupleActionPushClient
from tests.e2e.devices_data import VortexPeer, server_config
from tests.security.action_fixture import FILT, PLUGIN, PLUGIN_SOURCE, PROCESSOR, lines_of
from tests.support import ServiceProcess, write_plugin

TIMEOUT = 20.0


class ActionServer:
    """``run_peek_server`` with ``fx_actions`` on its own home, free ports and database."""

    def __init__(self, root: Path, db_url: Optional[str] = None,
                 settings: Optional[dict[str, Any]] = None) -> None:
        self.plugins = root / "plugins"
        write_plugin(self.plugins, PLUGIN, services=("server",), init_source=PLUGIN_SOURCE)
        self.home = root / "peek-server.home"
        self.config = server_config([PLUGIN], db_url)
        self.config.update(settings or {})
        self.port = self.config["httpServer"]["platform"]["sitePort"]
        self.data = self.home / "plugin-data" / PLUGIN
        self.process: Optional[ServiceProcess] = None

    def start(self) -> ServiceProcess:
        """Start (or restart on the same home) and wait until it runs."""
        self.process = ServiceProcess("server", self.home, self.config, pythonpath=self.plugins)
        self.process.wait_log("Peek server is running", timeout=60)
        return self.process

    def set(self, section: str, key: str, value: Any) -> None:
        """Change one setting of config.json for the next start."""
        self.config.setdefault(section, {})[key] = value

    def kill(self) -> None:
        """kill -9, as a crash would."""
        assert self.process is not None
        self.process.proc.kill()
        self.process.proc.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            self.process.stop(timeout=20)
        if self.process is not None and self.process.proc.stderr is not None:
            self.process.proc.stderr.close()

    @property
    def token(self) -> str:
        return (self.home / "platform.token").read_text(encoding="ascii").strip()

    def attempts(self, action_id: str) -> int:
        """How many times the delegate ran for ``action_id`` (across restarts)."""
        return lines_of(self.data / "attempts.log").count(action_id)

    def effects(self, action_id: str) -> int:
        """How many times ``action_id``'s effect was applied (across restarts)."""
        return lines_of(self.data / "effects.log").count(action_id)

    def saved_config(self) -> dict[str, Any]:
        return json.loads((self.home / "config.json").read_text())


async def connect_pusher(server: ActionServer, cleanups: Any) -> TupleActionPushClient:
    """A ``peek-client`` peer on the server's platform site, and a push client through it."""
    peer = VortexPeer(server.port, peekClientName, server.token)
    cleanups(peer.close)
    await peer.connect()
    return TupleActionPushClient(PROCESSOR, peekServerName, FILT, router=peer.router,
                                 timeoutSeconds=TIMEOUT)

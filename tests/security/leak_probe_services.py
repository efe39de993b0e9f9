"""A real server and client service running the ``fx_sec_leak_probe`` fixture plugin, and a Python
device connected to the client (for the notify-thread and error-leak tests)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.devices_data import client_config, server_config
from tests.e2e.processes_rpc import Device, wait_log
from tests.support import ServiceProcess, write_plugin

PLUGIN = "fx_sec_leak_probe"
PLUGIN_SOURCE = '''
"""Fixture plugin of the notify-thread and error-leak tests."""
from tests.security.leak_probe import (peekClientEntryHook as peekClientEntryHook,
    peekServerEntryHook as peekServerEntryHook)
'''

#: Heartbeats far apart: nothing but the plugin's own thread wakes the server's reactor.
QUIET_BUS = {"heartbeatSeconds": 60, "heartbeatTimeoutSeconds": 120}


class Services:
    """Homes and processes of one test's server and client, and its device."""

    def __init__(self, root: Path, cleanups: Callable[..., Any]) -> None:
        self.cleanups = cleanups
        self.plugins = root / "plugins"
        self.plugins.mkdir(parents=True)
        write_plugin(self.plugins, PLUGIN, services=("server", "client"),
                     init_source=PLUGIN_SOURCE)
        self.server_home = root / "peek-server.home"
        self.client_home = root / "peek-client.home"
        self.server_config = server_config([PLUGIN])
        self.server_config["vortex"] = dict(QUIET_BUS)
        self.client_config = client_config([PLUGIN], self.server_home, self.server_config)
        self.client_config["vortex"] = dict(QUIET_BUS)

    async def start(self) -> Device:
        """Start the server, then the client, then connect and return a device."""
        self.server = self._process("server", self.server_home, self.server_config)
        await wait_log(self.server, "Peek server is running", timeout=60)
        self.client = self._process("client", self.client_home, self.client_config)
        await wait_log(self.client, "Peek client is running", timeout=60)
        device = Device(self.client_config["httpServer"]["mobile"]["sitePort"])
        await device.connect()
        self.cleanups(device.close)
        return device

    def _process(self, service: str, home: Path, config: dict[str, Any]) -> ServiceProcess:
        process = ServiceProcess(service, home, config, pythonpath=self.plugins)
        if process.proc.stderr is not None:
            self.cleanups(process.proc.stderr.close)
        self.cleanups(process.stop)  # cleanups run last-in first: stop, then close
        return process

    @property
    def token(self) -> str:
        return (self.server_home / "platform.token").read_text().strip()

    @property
    def platform_port(self) -> int:
        return int(self.server_config["httpServer"]["platform"]["sitePort"])

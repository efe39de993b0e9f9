"""Helpers of the reconnect end-to-end test: service configs, the fixture plugin, log waits, a
Python device on a client service."""

import time
from pathlib import Path
from typing import Any, Optional

from twisted.internet import reactor
from twisted.internet.defer import Deferred

from peek_plugin_base.PeekVortexUtil import peekMobileName
from peek_plugin_base.vortex import PayloadRouter
from peek_vortex.transport import Backoff, VortexBridge, VortexClientService
from tests.support import ServiceProcess, free_port, write_plugin

FIXTURE_PLUGIN = "fx_e2e_rpc"
FIXTURE_SOURCE = '''
"""Fixture plugin of the reconnect end-to-end test."""
from tests.e2e.rpc_fixture import (peekAgentEntryHook as peekAgentEntryHook,
    peekClientEntryHook as peekClientEntryHook, peekServerEntryHook as peekServerEntryHook)
'''


class Platform:
    """Homes, ports and processes of one test's server, client and agent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.plugins = root / "plugins"
        self.plugins.mkdir(parents=True)
        write_plugin(self.plugins, FIXTURE_PLUGIN, services=("server", "client", "agent"),
                     init_source=FIXTURE_SOURCE)
        self.platform_port = free_port()
        self.admin_port = free_port()
        self.mobile_port = free_port()
        self.desktop_port = free_port()
        self.processes: list[ServiceProcess] = []

    def home(self, service: str) -> Path:
        return self.root / f"peek-{service}.home"

    def config(self, service: str, enabled: list[str]) -> dict[str, Any]:
        """The service's config.json: free ports, fast reconnects, INFO logs."""
        config: dict[str, Any] = {"plugin": {"enabled": enabled}, "logging": {"level": "INFO"}}
        if service == "server":
            config["httpServer"] = {
                "admin": {"sitePort": self.admin_port},
                "platform": {"sitePort": self.platform_port, "bindAddress": "127.0.0.1"}}
        else:
            config["peekServer"] = {
                "httpPort": self.platform_port,
                "tokenFile": str(self.home("server") / "platform.token"),
                "reconnectInitialSeconds": 0.1, "reconnectMaxSeconds": 0.5}
        if service == "client":
            config["httpServer"] = {"mobile": {"sitePort": self.mobile_port},
                                    "desktop": {"sitePort": self.desktop_port}}
        return config

    def start(self, service: str, enabled: list[str]) -> ServiceProcess:
        """Start ``run_peek_<service>``; a restart reuses the home and its config."""
        home = self.home(service)
        config = None if (home / "config.json").exists() else self.config(service, enabled)
        proc = ServiceProcess(service, home, config, pythonpath=self.plugins)
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        """SIGTERM whatever still runs (newest first); kill what does not stop."""
        for proc in reversed(self.processes):
            if proc.proc.poll() is None:
                try:
                    proc.stop(timeout=15)
                except AssertionError:
                    pass  # killed by stop(); the test has its verdict already
            if proc.proc.stderr is not None:
                proc.proc.stderr.close()


def wait_log(proc: ServiceProcess, text: str, count: int = 1,
             timeout: float = 30.0) -> "Deferred[str]":
    """Fires with the run's log once ``text`` occurs ``count`` times; fails with the log
    after ``timeout`` seconds or when the process exits first. Keeps the reactor running."""
    deadline = time.monotonic() + timeout
    result: Deferred[str] = Deferred()

    def poll() -> None:
        log = proc.log()
        if log.count(text) >= count:
            result.callback(log)
        elif proc.proc.poll() is not None or time.monotonic() > deadline:
            why = "exited" if proc.proc.poll() is not None else f"timed out after {timeout}s"
            result.errback(AssertionError(
                f"{proc.service} {why} before logging {text!r} x{count}:\n{log[-6000:]}"))
        else:
            reactor.callLater(0.05, poll)

    poll()
    return result


class Device:
    """A Python mobile device connected to a client service's ``/vortexws``."""

    def __init__(self, mobile_port: int) -> None:
        self.router = PayloadRouter()
        self.bridge = VortexBridge(self.router, peekMobileName)
        self.service = VortexClientService(
            "device", f"ws://127.0.0.1:{mobile_port}/vortexws", peekMobileName,
            token=lambda: None, handler=self.bridge, backoff=Backoff(initial=0.1, maximum=0.5))
        self._started: Optional[Deferred[None]] = None

    def connect(self) -> "Deferred[None]":
        """Fires once the client service accepted the device."""
        self._started = self.service.startService()
        return self._started

    def close(self) -> "Deferred[Any]":
        return self.service.stopService()

"""A real server, client and agent running the events fixture plugins, the monitoring example
plugin and the RPC fixture, plus a local HTTP server the asyncio plugins fetch from."""

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from tests.e2e.processes_rpc import FIXTURE_PLUGIN as RPC_PLUGIN
from tests.e2e.processes_rpc import Platform
from tests.support import ServiceProcess, wait_for, write_plugin

TARGET_BODY = "hello-from-the-test-http-server"

SOURCES = {
    "fx_ev_async": (("server", "client", "agent", "worker"), '''
"""Fixture: asyncio background plugin."""
from tests.events.events_fixture import async_hook
def peekServerEntryHook(): return async_hook("server")
def peekClientEntryHook(): return async_hook("client")
def peekAgentEntryHook(): return async_hook("agent")
def peekWorkerEntryHook(): return async_hook("worker")
'''),
    "fx_ev_slow": (("server",), '''
"""Fixture: a slow event plugin."""
from peek_plugin_base.base_plugins import entryHookFor
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from tests.events.events_fixture import SlowEventPlugin
def peekServerEntryHook(): return entryHookFor(SlowEventPlugin, PluginServerEntryHookABC)
'''),
    "fx_ev_fail": (("server",), '''
"""Fixture: a failing event plugin."""
from peek_plugin_base.base_plugins import entryHookFor
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from tests.events.events_fixture import FailingEventPlugin
def peekServerEntryHook(): return entryHookFor(FailingEventPlugin, PluginServerEntryHookABC)
'''),
    "fx_ev_watch": (("server",), '''
"""Fixture: records plugin state and connection events."""
from tests.events.events_fixture import WatchServerHook
def peekServerEntryHook(): return WatchServerHook
'''),
}

#: The fixture plugins that use asyncio, so declare ``"asyncio": true``.
ASYNCIO_PLUGINS = frozenset({"fx_ev_async", "fx_ev_slow"})

SERVER_PLUGINS = ["fx_ev_slow", "fx_ev_fail", "peek_plugin_monitoring", "fx_ev_watch",
                  "fx_ev_async", RPC_PLUGIN]
CLIENT_PLUGINS = ["peek_plugin_monitoring", "fx_ev_async"]
AGENT_PLUGINS = ["fx_ev_async", RPC_PLUGIN]


class _Target(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        data = TARGET_BODY.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class Running:
    """The processes of one run, and how to reach them."""

    def __init__(self, root: Path) -> None:
        self.platform = Platform(root)
        for name, (services, source) in SOURCES.items():
            write_plugin(self.platform.plugins, name, services=services, init_source=source,
                         asyncio=name in ASYNCIO_PLUGINS)
        self.target = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
        self.target_url = f"http://127.0.0.1:{self.target.server_address[1]}/"
        threading.Thread(target=self.target.serve_forever, daemon=True).start()
        self.server: Optional[ServiceProcess] = None
        self.client: Optional[ServiceProcess] = None
        self.agent: Optional[ServiceProcess] = None

    def plugin_dir(self, service: str, plugin: str) -> Path:
        path = self.platform.home(service) / "plugin-data" / plugin
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, with_agent: bool = True, with_client: bool = True) -> None:
        for service in ("server", "client", "agent", "worker"):
            (self.plugin_dir(service, "fx_ev_async") / "target_url").write_text(self.target_url)
        self.server = self.platform.start("server", SERVER_PLUGINS)
        self.server.wait_log("Peek server is running", timeout=90)
        if with_client:
            self.client = self.platform.start("client", CLIENT_PLUGINS)
            self.client.wait_log("Peek client is running", timeout=90)
        if with_agent:
            self.agent = self.platform.start("agent", AGENT_PLUGINS)
            self.agent.wait_log("Peek agent is running", timeout=90)

    def stop(self) -> None:
        self.platform.stop_all()
        self.target.shutdown()
        self.target.server_close()

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                port: Optional[int] = None,
                headers: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
        """One raw HTTP request (the path is sent exactly as given) to the platform site."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.platform.platform_port,
                                          timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def points(self, service: str = "server") -> list[dict[str, Any]]:
        path = self.plugin_dir(service, "peek_plugin_monitoring") / "points.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def watched(self) -> list[dict[str, Any]]:
        path = self.plugin_dir("server", "fx_ev_watch") / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def running_platform(root: Path, **kwargs: Any) -> Iterator[Running]:
    """Start the platform for a module fixture; stop everything afterwards."""
    run = Running(root)
    try:
        run.start(**kwargs)
        yield run
    finally:
        run.stop()


def wait_points(run: Running, predicate: Any, what: str, service: str = "server",
                timeout: float = 60) -> list[dict[str, Any]]:
    """Wait until the monitoring points of ``service`` satisfy ``predicate``."""
    return wait_for(lambda: predicate(run.points(service)) and run.points(service),
                    timeout, what)

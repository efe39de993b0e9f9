"""A real server running a fixture endpoint plugin (and the sysinfo example), the API keys it
accepts, and an HTTP client that sends requests byte for byte over a real socket."""

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from peek_platform.web.api_keys import new_entry
from tests.e2e.devices_data import server_config
from tests.security.web_sites import _unchunk
from tests.support import ServiceProcess

PLUGIN = "fx_endpoints"
OTHER = "fx_endpoints_other"
ALLOWED_ORIGIN = "http://app.example.test:8000"

PLUGIN_SOURCE = '''
"""Fixture plugin: JSON routes of every kind a handler can be."""
import logging

from twisted.internet import reactor, task

from peek_plugin_base.endpoints import EndpointError
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class ServerHook(PluginServerEntryHookABC):
    def load(self):
        self.calls = []

    def start(self):
        add = self.platform.addJsonEndpoint
        add("/fx/sync", self.sync)
        add("/fx/coro", self.coro, methods=("POST",))
        add("/fx/deferred", self.deferred)
        add("/fx/echo/{name}", self.echo)
        add("/fx/echo/{name}/items/{item}", self.echo, methods=("GET", "DELETE"))
        add("/fx/fail", self.fail)
        add("/fx/refuse", self.refuse)
        add("/fx/notjson", self.notjson)
        add("/fx/params", self.params)
        add("/fx/headers", self.headers)
        add("/fx/open", self.sync, requireApiKey=False)
        add("/fx/calls", self.count)
        add("/fx/slow", self.slow)

    def stop(self):
        seconds = self.platform.pluginParams.get("slowStopSeconds", 0)
        logging.getLogger(__name__).info("fx stop begun")
        return task.deferLater(reactor, seconds, lambda: None)

    async def slow(self, request):
        log = logging.getLogger(__name__)
        log.info("fx slow entered")
        await task.deferLater(reactor, 1.0, lambda: None)
        log.info("fx slow leaving")
        return {"slow": True}

    def unload(self): return None

    def sync(self, request):
        self.calls.append(request.path)
        return {"kind": "sync", "query": request.query}

    async def coro(self, request):
        self.calls.append(request.path)
        await task.deferLater(reactor, 0.01, lambda: None)
        return 201, {"kind": "coroutine", "json": request.json, "form": request.form,
                     "data": {k: v for k, v in request.data.items() if k != "request_headers"}}

    def deferred(self, request):
        self.calls.append(request.path)
        return task.deferLater(reactor, 0.01, lambda: (202, {"kind": "deferred"}))

    def echo(self, request):
        self.calls.append(request.path)
        return {"params": request.params, "method": request.method}

    def fail(self, request):
        raise RuntimeError("db password is hunter2 at /srv/secret")

    def refuse(self, request):
        raise EndpointError(409, "that item already exists")

    def notjson(self, request):
        return {"x": object()}

    def params(self, request):
        return dict(self.platform.pluginParams)

    def headers(self, request):
        return request.headers

    def count(self, request):
        return {"calls": list(self.calls)}


def peekServerEntryHook(): return ServerHook
'''

OTHER_SOURCE = '''
"""Fixture plugin: one route, so a key limited to it can be tested against the other."""
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class ServerHook(PluginServerEntryHookABC):
    def load(self): return None
    def start(self): self.platform.addJsonEndpoint("/other", lambda request: {"other": True})
    def stop(self): return None
    def unload(self): return None


def peekServerEntryHook(): return ServerHook
'''


CLASH = "fx_endpoints_clash"
#: What the clash plugins ask for: the bus, a control route, another plugin's route.
CLASH_PATHS = ("/vortexws", "/plugins", "/fx/mine")

CLASH_SOURCE = '''
"""Fixture plugin: asks for paths the platform or another plugin already serves."""
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class ServerHook(PluginServerEntryHookABC):
    def load(self): return None
    def start(self): self.platform.addJsonEndpoint(PATH, lambda request: {})
    def stop(self): return None
    def unload(self): return None


def peekServerEntryHook(): return ServerHook
'''


def package_json(name: str) -> str:
    return json.dumps({"plugin": {"title": name, "version": "1.0.0"},
                       "requiresServices": ["server"]})


@dataclass
class Response:
    """One HTTP response, its body parsed as JSON when it is JSON."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class EndpointServer:
    """The running server, its platform port and its keys by name."""

    server: ServiceProcess
    port: int
    keys: dict[str, str]
    config: dict[str, Any]

    def request(self, target: str, method: str = "GET", headers: Any = (),
                body: Optional[bytes] = None, key: Optional[str] = None) -> Response:
        """Send one request byte for byte; ``key``: the name of a key to send."""
        sent = list(headers)
        if key is not None:
            sent.append(("X-Api-Key", self.keys[key]))
        return http_request(self.port, target, method, sent, body)


def http_request(port: int, target: str, method: str = "GET", headers: Any = (),
                 body: Optional[bytes] = None) -> Response:
    """One HTTP/1.1 request (``Connection: close``), read to the end."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers)]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        payload = _unchunk(payload)
    return Response(int(status_line.split(" ")[1]), parsed, payload)


def write_plugins(root: Path) -> None:
    sources = [(PLUGIN, PLUGIN_SOURCE), (OTHER, OTHER_SOURCE)]
    sources += [(f"{CLASH}_{i}", f"PATH = {path!r}\n" + CLASH_SOURCE)
                for i, path in enumerate(CLASH_PATHS)]
    for name, source in sources:
        package = root / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(source)
        (package / "plugin_package.json").write_text(package_json(name))


def start_endpoint_server(tmp: Path, extra: Optional[dict[str, Any]] = None,
                          more_plugins: tuple[str, ...] = (),
                          ) -> Iterator[EndpointServer]:
    """A server with the fixture plugins and sysinfo, four keys (all, fixture only, other
    only, control) and one allowed CORS origin; stopped afterwards."""
    plugins = tmp / "plugins"
    write_plugins(plugins)
    keys: dict[str, str] = {}
    entries = []
    for name, plugin_names, control in (("all", ["*"], False), ("fixture", [PLUGIN], False),
                                        ("other", [OTHER], False), ("control", ["*"], True)):
        key, entry = new_entry(name, ["*"], plugin_names, control)
        keys[name] = key
        entries.append(entry)
    config = server_config([PLUGIN, OTHER, "peek_plugin_sysinfo", *more_plugins])
    config["httpServer"].update({"apiKeys": entries, "corsOrigins": [ALLOWED_ORIGIN],
                                 "endpointMaxBodyBytes": 64 * 1024})
    config["plugin"]["params"] = {PLUGIN: {"greeting": "hello", "limits": {"max": 3}},
                                  "peek_plugin_sysinfo": {"intervalSeconds": 0.2}}
    for key, value in (extra or {}).items():
        config.setdefault(key, {}).update(value)
    server = ServiceProcess("server", tmp / "server", config, pythonpath=plugins)
    try:
        server.wait_log("Peek server is running", timeout=60)
        yield EndpointServer(server, config["httpServer"]["platform"]["sitePort"], keys, config)
    finally:
        server.stop()

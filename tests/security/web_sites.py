"""A real server and client whose fixture plugin serves a static folder on all four sites,
and a raw HTTP client that sends request paths exactly as written."""

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.devices_data import client_config, server_config
from tests.support import ServiceProcess

PLUGIN = "fx_static_sites"

PLUGIN_SOURCE = '''
"""Fixture plugin: serves its ``static`` folder on the admin, platform, mobile and desktop sites."""
from pathlib import Path

from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC

STATIC = str(Path(__file__).parent / "static")


class _Steps:
    def start(self): return None
    def stop(self): return None
    def unload(self): return None


class ServerHook(_Steps, PluginServerEntryHookABC):
    def load(self):
        self.platform.addAdminStaticResourceDir(STATIC)
        self.platform.addServerStaticResourceDir(STATIC)


class ClientHook(_Steps, PluginClientEntryHookABC):
    def load(self):
        self.platform.addMobileStaticResourceDir(STATIC)
        self.platform.addDesktopStaticResourceDir(STATIC)


def peekServerEntryHook(): return ServerHook
def peekClientEntryHook(): return ClientHook
'''

PACKAGE_JSON = (
    '{"plugin": {"title": "static sites", "version": "1.0.0"},'
    ' "requiresServices": ["server", "client"], "requiresPlugins": []}'
)


@dataclass
class Sites:
    """The running services: each site's port, the plugin's folders and the secrets."""

    ports: dict[str, int]
    static: Path
    #: Text that must never be served: a file beside the static folder, the platform token.
    secret: str
    secret_file: Path
    token: str
    token_file: Path
    server: ServiceProcess
    client: ServiceProcess
    #: Headers that authenticate a request per site: the admin site's session cookie.
    auth_headers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def request(self, site: str, target: str, method: str = "GET") -> "RawResponse":
        """``raw_request`` on ``site``, logged in on the admin site."""
        return raw_request(self.ports[site], target, self.auth_headers.get(site, ()),
                           method=method)


def write_static_plugin(root: Path) -> tuple[Path, Path, str]:
    """The fixture plugin package; returns (static folder, secret file, secret text)."""
    package = root / PLUGIN
    static = package / "static"
    (static / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN_SOURCE)
    (package / "plugin_package.json").write_text(PACKAGE_JSON)
    (static / "index.html").write_text("<p>fixture index page</p>")
    (static / "app.js").write_text("console.log('fixture app');")
    (static / "sub" / "inner.js").write_text("console.log('fixture inner');")
    secret = f"SECRET-{secrets.token_hex(8)}"
    secret_file = package / "secret.txt"
    secret_file.write_text(secret)
    # Symlinks: one that stays inside (served), two that point out (refused).
    (static / "alias.js").symlink_to("app.js")
    (static / "link.txt").symlink_to(os.path.relpath(secret_file, static))
    (static / "up").symlink_to("..")
    return static, secret_file, secret


def start_sites(tmp: Path, server_plugins: tuple[str, ...] = (),
                umask: int = 0o022) -> Iterator[Sites]:
    """Start a server (with ``server_plugins`` too) and a client with the fixture plugin,
    both under ``umask`` (the usual 022, so file modes are the services' own doing); stop
    both afterwards."""
    plugins = tmp / "plugins"
    static, secret_file, secret = write_static_plugin(plugins)
    server_home, client_home = tmp / "server", tmp / "client"
    server_cfg = server_config([PLUGIN, *server_plugins])
    client_cfg = client_config([PLUGIN], server_home, server_cfg)
    server = _spawn("server", server_home, server_cfg, plugins, umask)
    client = None
    try:
        server.wait_log("Peek server is running", timeout=60)
        client = _spawn("client", client_home, client_cfg, plugins, umask)
        client.wait_log("Peek client is running", timeout=60)
        assert f"Plugin {PLUGIN} started" in client.log(), client.log()
        token_file = server_home / "platform.token"
        from tests.security.admin_session import first_password, login

        admin_port = server_cfg["httpServer"]["admin"]["sitePort"]
        admin = login(admin_port, first_password(server_home))
        yield Sites(
            ports={
                "admin": server_cfg["httpServer"]["admin"]["sitePort"],
                "platform": server_cfg["httpServer"]["platform"]["sitePort"],
                "mobile": client_cfg["httpServer"]["mobile"]["sitePort"],
                "desktop": client_cfg["httpServer"]["desktop"]["sitePort"],
            },
            static=static, secret=secret, secret_file=secret_file,
            token=token_file.read_text().strip(), token_file=token_file,
            server=server, client=client, auth_headers={"admin": admin.headers()},
        )
    finally:
        if client is not None:
            client.stop()
        server.stop()


def _spawn(service: str, home: Path, config: dict[str, Any], plugins: Path,
           umask: int) -> ServiceProcess:
    previous = os.umask(umask)  # inherited by the child; ours is restored at once
    try:
        return ServiceProcess(service, home, config, pythonpath=plugins)
    finally:
        os.umask(previous)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, target: str, headers: Any = (), method: str = "GET",
                body: bytes = b"") -> RawResponse:
    """Send one HTTP/1.1 request with ``target`` byte for byte (no client-side normalising
    of ``..``, ``%2F`` or ``//``) and read the whole response (``Connection: close``)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers)]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        # Repeated headers (Set-Cookie) are joined, as HTTP allows for lists.
        key = name.strip().lower()
        parsed[key] = f"{parsed[key]}, {value.strip()}" if key in parsed else value.strip()
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return RawResponse(int(status_line.split(" ")[1]), parsed, body)


def _unchunk(body: bytes) -> bytes:
    out = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        body = rest[size + 2:]
    return b"".join(out)

"""Finding 9 (what the services give away): no software names or versions in HTTP answers,
and the databases and logs only their owner may read."""

import base64
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import autobahn
import pytest
import twisted

from peek_platform.celery_glue.sqlite_store import SqliteFile
from tests.security.web_sites import PLUGIN, Sites, raw_request, start_sites

SITES = ("admin", "platform", "mobile", "desktop")
#: Sites with a bus websocket endpoint.
BUS_SITES = ("platform", "mobile", "desktop")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    # The tutorial gives the server a plugin schema: a second, attached SQLite file.
    yield from start_sites(tmp_path_factory.mktemp("leak-sites"),
                           server_plugins=("peek_plugin_tutorial",))


def upgrade_response_head(port: int) -> tuple[int, dict[str, str]]:
    """Open a websocket upgrade on ``/vortexws`` and return the response status and headers
    (the socket is closed without sending a hello)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /vortexws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed during the upgrade: {head!r}"
            head += chunk
    status_line, *lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    return int(status_line.split(" ")[1]), headers


def mentions_software(text: str) -> list[str]:
    """The software names and versions ``text`` gives away."""
    needles = ("twisted", "autobahn", twisted.__version__, autobahn.__version__)
    return [n for n in needles if n.lower() in text.lower()]


@pytest.mark.parametrize("site", SITES)
def test_no_server_header_on_any_answer(sites: Sites, site: str) -> None:
    """Pages, files, redirects, 404s, refused paths and malformed requests on every site
    carry no ``Server`` header, and no header names the software."""
    targets = {"/": 200, "/nothing-here": 404, f"/{PLUGIN}/app.js": 200,
               f"/{PLUGIN}/sub": 302, f"/{PLUGIN}/..%2Fsecret.txt": 404}
    for target, status in targets.items():
        response = sites.request(site, target)
        assert response.status == status, (target, response)
        assert "server" not in response.headers, (target, response.headers)
        assert mentions_software(repr(response.headers)) == [], (target, response.headers)
    bad = sites.request(site, "/", method="NOT A METHOD")
    assert "server" not in bad.headers and mentions_software(repr(bad.headers)) == []


@pytest.mark.parametrize("site", BUS_SITES)
def test_bus_endpoint_names_no_software(sites: Sites, site: str) -> None:
    """A plain GET on ``/vortexws`` gets a neutral 426 (no autobahn status page or version),
    and the websocket upgrade answer has no ``Server`` header."""
    port = sites.ports[site]
    plain = raw_request(port, "/vortexws")
    text = plain.body.decode("utf-8", "replace") + repr(plain.headers)
    assert plain.status == 426, plain
    assert plain.headers.get("upgrade", "").lower() == "websocket", plain.headers
    assert mentions_software(text) == [], text
    status, headers = upgrade_response_head(port)
    assert status == 101, headers
    assert "server" not in headers and mentions_software(repr(headers)) == [], headers


def test_databases_and_logs_are_private(sites: Sites) -> None:
    """After a real start under umask 022, every SQLite file of the server (the main
    database, the plugin schema's attached file and SQLite's own journals) and both
    services' logs are mode 0600, like platform.token."""
    server_home = sites.token_file.parent
    logs = [server_home / "peek-server.log", sites.client.log_path]
    modes = {}
    for path in [*server_home.glob("peek*.sqlite*"), *logs, sites.token_file]:
        try:
            modes[path.name] = oct(stat.S_IMODE(path.stat().st_mode))
        except FileNotFoundError:
            continue  # a rollback journal that SQLite removed as its transaction ended
    assert {"peek.sqlite", "peek.pl_tutorial.sqlite"} <= set(modes), modes
    assert set(modes.values()) == {"0o600"}, modes


def test_log_rotations_are_private(tmp_path: Path) -> None:
    """Each rotated log file (created when the log reaches its size) is also 0600."""
    script = (
        "import logging, os, sys\n"
        "from pathlib import Path\n"
        "from peek_platform.log_setup import setup_logging\n"
        "os.umask(0o022)\n"
        "setup_logging('agent', Path(sys.argv[1]), 'INFO', 1, 2, False)\n"
        "for i in range(1300):\n"
        "    logging.getLogger('x').info('%05d %s', i, 'x' * 1000)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.glob("peek-agent.log*"))
    assert [p.name for p in files] == ["peek-agent.log", "peek-agent.log.1"]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o600"}


def test_embedded_broker_files_are_private(tmp_path: Path) -> None:
    """The embedded Celery broker's and result backend's SQLite files (and their WAL files)
    are created 0600 under umask 022."""
    previous = os.umask(0o022)
    try:
        store = SqliteFile(tmp_path / "broker.sqlite", "CREATE TABLE IF NOT EXISTS t (x);")
        store.connection().execute("INSERT INTO t VALUES (1)")
    finally:
        os.umask(previous)
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode))
             for p in sorted(tmp_path.glob("broker.sqlite*"))}
    store.close()
    assert modes == dict.fromkeys(
        ["broker.sqlite", "broker.sqlite-shm", "broker.sqlite-wal"], "0o600")

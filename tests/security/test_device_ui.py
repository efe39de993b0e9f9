"""The device sites' plugin UIs: files only from the declared folder, a declaration pointing
outside its package refused, and only enabled, running plugins listed (real processes)."""

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.devices_data import client_config, server_config
from tests.security.web_sites import raw_request
from tests.support import ServiceProcess

GOOD = "fx_ui_good"
ESCAPE = "fx_ui_escape"
LINKED = "fx_ui_linked"
FAILS = "fx_ui_fails"
DISABLED = "fx_ui_disabled"
ENABLED = [GOOD, ESCAPE, LINKED, FAILS]

HOOK = '''
"""Fixture plugin with a device UI."""
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC


class ClientHook(PluginClientEntryHookABC):
    def load(self): return None
    def start(self):
        if {fail!r}:
            raise RuntimeError("this fixture fails to start")
    def stop(self): return None
    def unload(self): return None


def peekClientEntryHook(): return ClientHook
'''


def write_plugin(root: Path, name: str, section: dict[str, Any], fail: bool = False) -> Path:
    """A client plugin package with ``web/app.js``, ``web/icon.svg`` and a secret beside."""
    package = root / name
    (package / "web" / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(HOOK.format(fail=fail)))
    (package / "plugin_package.json").write_text(json.dumps({
        "plugin": {"title": f"Title of {name}", "version": "1.0.0"},
        "requiresServices": ["client"], "mobile": section, "desktop": section,
    }))
    (package / "web" / "app.js").write_text(f"export function mount() {{}} // {name}-app")
    (package / "web" / "icon.svg").write_text("<svg/>")
    (package / "web" / "sub" / "inner.js").write_text(f"// {name}-inner")
    (package / "secret.txt").write_text(f"SECRET-{name}")
    return package


@dataclass
class Running:
    ports: dict[str, int]
    client: ServiceProcess


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("device-ui")
    plugins = tmp / "plugins"
    plugins.mkdir()
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "app.js").write_text("// OUTSIDE-app")
    section = {"webDir": "web", "entry": "app.js", "icon": "icon.svg"}
    write_plugin(plugins, GOOD, section)
    write_plugin(plugins, DISABLED, section)
    write_plugin(plugins, FAILS, section, fail=True)
    # Declares its UI one folder up: the good plugin's folder (outside its own package).
    write_plugin(plugins, ESCAPE, {"webDir": f"../{GOOD}/web", "entry": "app.js"})
    linked = write_plugin(plugins, LINKED, {"webDir": "ui", "entry": "app.js"})
    (linked / "ui").symlink_to(outside)
    server_home = tmp / "server"
    server_cfg = server_config([])
    server = ServiceProcess("server", server_home, server_cfg)
    client = None
    try:
        server.wait_log("Peek server is running", timeout=60)
        client_cfg = client_config(ENABLED, server_home, server_cfg)
        client = ServiceProcess("client", tmp / "client", client_cfg, pythonpath=plugins)
        client.wait_log("Peek client is running", timeout=60)
        yield Running({site: client_cfg["httpServer"][site]["sitePort"]
                       for site in ("mobile", "desktop")}, client)
    finally:
        if client is not None:
            client.stop()
        server.stop()


SITES = ("mobile", "desktop")


@pytest.mark.parametrize("site", SITES)
def test_listing_shows_only_enabled_running_plugins(running: Running, site: str) -> None:
    """/peek/plugins.json lists the good plugin only: not the installed-but-disabled one,
    not the one whose start() failed, not the two whose declaration was refused."""
    response = raw_request(running.ports[site], "/peek/plugins.json")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    listing = json.loads(response.body)
    assert listing["site"] == site
    assert [p["name"] for p in listing["plugins"]] == [GOOD]
    assert listing["plugins"][0]["title"] == f"Title of {GOOD}"
    sw = raw_request(running.ports[site], "/sw.js").body.decode()
    for name in (DISABLED, FAILS, ESCAPE, LINKED):
        assert f"/{name}/" not in sw, name


def test_a_declaration_outside_the_package_fails_the_plugin(running: Running) -> None:
    """A webDir reaching another package (``..``) or a symlink pointing out of the package
    fails that plugin with an error naming it and the key; the service runs the others."""
    log = running.client.log()
    assert (f'Plugin {ESCAPE} failed: plugin_package.json "mobile.webDir": '
            f"'../{GOOD}/web' must be a relative path inside the plugin package") in log, log
    assert f'Plugin {LINKED} failed: plugin_package.json "mobile.webDir": \'ui\' resolves ' \
           "outside" in log, log
    assert f"Plugin {GOOD} started" in log


@pytest.mark.parametrize("site", SITES)
def test_refused_disabled_and_failed_plugins_serve_nothing(running: Running, site: str) -> None:
    """Nothing of a refused, disabled or failed plugin is served: not its page, not its
    files (the file the symlink points to either)."""
    port = running.ports[site]
    for name in (ESCAPE, LINKED, FAILS, DISABLED):
        for target in (f"/{name}/", f"/{name}/app.js", f"/{name}/web/app.js",
                       f"/{name}/secret.txt", f"/{name}/ui/app.js"):
            response = raw_request(port, target)
            assert response.status == 404, (target, response.status)
            assert b"OUTSIDE" not in response.body and b"SECRET" not in response.body


@pytest.mark.parametrize("site", SITES)
def test_ui_files_come_only_from_the_declared_folder(running: Running, site: str) -> None:
    """The good plugin's page is the shell, its declared folder's files are served, and no
    path reaches the package beside the folder (its secret, its Python code, its config)."""
    port = running.ports[site]
    page = raw_request(port, f"/{GOOD}/")
    assert page.status == 200 and b'src="/peek/shell/shell.js"' in page.body
    assert raw_request(port, f"/{GOOD}").status == 200
    app = raw_request(port, f"/{GOOD}/app.js")
    assert app.status == 200 and f"{GOOD}-app".encode() in app.body
    assert raw_request(port, f"/{GOOD}/sub/inner.js").status == 200
    for target in (
        f"/{GOOD}/secret.txt", f"/{GOOD}/__init__.py", f"/{GOOD}/plugin_package.json",
        f"/{GOOD}/..%2Fsecret.txt", f"/{GOOD}/%2e%2e/secret.txt", f"/{GOOD}/sub/..%2F..%2F"
        "secret.txt", f"/{GOOD}/web/app.js", f"/{GOOD}/..%5Csecret.txt",
        f"/{GOOD}/app.js%00", f"/{GOOD}/sub/", f"/{GOOD}//etc/passwd",
    ):
        response = raw_request(port, target)
        assert response.status in (400, 404), (target, response.status)
        assert b"SECRET" not in response.body and b"ClientHook" not in response.body, target
        assert b"root:" not in response.body, target


@pytest.mark.parametrize("site", SITES)
def test_shell_files_are_served_read_only(running: Running, site: str) -> None:
    """The shell's folder serves its files only: no listing, no escape to the platform's
    Python sources beside it, and the listing and worker are not cached by the browser."""
    port = running.ports[site]
    assert raw_request(port, "/peek/shell/shell.js").status == 200
    for target in ("/peek/shell/", "/peek/shell/..%2Fdevice_shell.py",
                   "/peek/shell/%2e%2e/device_shell.py", "/peek/device_shell.py",
                   "/peek/shell/../device_shell.py"):
        response = raw_request(port, target)
        assert response.status in (400, 404), (target, response.status)
        assert b"DeviceShell" not in response.body
    for target in ("/peek/plugins.json", "/sw.js", "/"):
        assert raw_request(port, target).headers["cache-control"] == "no-cache"
    post = raw_request(port, "/peek/plugins.json", method="POST")
    assert post.status == 405

"""The admin pages' doors against a real ``run_peek_server``: every page, the listing of
plugin admin pages and a plugin's admin page files need a session; pages take no writes;
a plugin's ``admin`` page declaration cannot reach outside its package."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.devices_data import server_config
from tests.security.admin_session import AdminLogin, first_password, login, origin
from tests.security.web_sites import raw_request
from tests.support import ServiceProcess, write_plugin

GOOD = "fx_admin_page"
#: Declares its admin page in a folder outside its own package.
OUTSIDE = "fx_admin_page_outside"
#: Its admin page folder is a symlink that points out of the package.
LINKED = "fx_admin_page_linked"
PAGE_JS = "export function mount(root) { root.textContent = 'fx admin page'; }\n"
SECRET = "fx package secret"
PAGES = ("/", "/plugins", "/settings", "/logs", "/data", "/plugin-pages")


def _package_json(name: str, admin: dict) -> str:
    return json.dumps({"plugin": {"title": name, "version": "1.0.0"},
                       "requiresServices": ["server"], "admin": admin})


@dataclass
class Server:
    port: int
    home: Path
    process: ServiceProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("admin-pages")
    plugins = tmp / "plugins"
    good = write_plugin(plugins, GOOD, services=("server",), package_json=_package_json(
        GOOD, {"webDir": "admin-app", "entry": "page.js", "title": "Fx page"}))
    (good / "admin-app").mkdir()
    (good / "admin-app" / "page.js").write_text(PAGE_JS)
    (good / "secret.txt").write_text(SECRET)
    write_plugin(plugins, OUTSIDE, services=("server",), package_json=_package_json(
        OUTSIDE, {"webDir": f"../{GOOD}", "entry": "secret.txt"}))
    linked = write_plugin(plugins, LINKED, services=("server",), package_json=_package_json(
        LINKED, {"webDir": "ui", "entry": "page.js"}))
    (linked / "ui").symlink_to(good / "admin-app")
    config = server_config([GOOD, OUTSIDE, LINKED])
    home = tmp / "server"
    process = ServiceProcess("server", home, config, pythonpath=plugins)
    try:
        process.wait_log("Peek server is running", timeout=60)
        yield Server(config["httpServer"]["admin"]["sitePort"], home, process)
    finally:
        process.stop()


@pytest.fixture
def admin(server: Server) -> AdminLogin:
    return login(server.port, first_password(server.home))


def test_pages_and_plugin_pages_refuse_without_a_session(server: Server,
                                                         admin: AdminLogin) -> None:
    """Every page, ``/plugin-pages.json`` and a plugin's admin page files answer a
    logged-in admin; without a session a browser is sent to /login and anything else gets
    401 with nothing of the page in it."""
    routes = {**{page: b"<script type=\"module\"" for page in PAGES},
              "/plugin-pages.json": b'"plugins"', f"/{GOOD}/page.js": b"fx admin page",
              "/admin-ui/dashboard.js": b"peek-admin-dashboard"}
    wrong = []
    for route, marker in routes.items():
        answer = admin.request(route)
        if answer.status != 200 or marker not in answer.body:
            wrong.append(f"{route} logged in: {answer.status} {answer.body[:80]!r}")
        for accept, expected in (("text/html", 303), ("*/*", 401)):
            refused = raw_request(server.port, route, [("Accept", accept)])
            if refused.status != expected or marker in refused.body:
                wrong.append(f"{route} ({accept}) without session: {refused.status}")
        if route != "/admin-ui/dashboard.js":
            posted = raw_request(server.port, route, [("Origin", origin(server.port))],
                                 method="POST")
            if posted.status != 401:
                wrong.append(f"POST {route} without session: {posted.status}")
    assert not wrong, "\n".join(wrong)


def test_pages_take_no_writes(server: Server, admin: AdminLogin) -> None:
    """The pages and the listing are read-only: a logged-in POST with the CSRF token is
    refused with 405 (every change goes over the admin bus), and without the token 403."""
    for route in (*PAGES, "/plugin-pages.json"):
        assert admin.request(route, "POST").status == 405, route
        no_token = raw_request(server.port, route,
                               [admin.headers()[0], ("Origin", origin(server.port))],
                               method="POST")
        assert no_token.status == 403, route


def test_admin_page_declaration_cannot_leave_the_package(server: Server,
                                                         admin: AdminLogin) -> None:
    """A plugin whose ``admin`` page folder lies outside its package (``..`` or a symlink
    pointing out) fails at load naming the key; only the good plugin is listed, and no
    path reaches the good plugin's files outside its admin folder."""
    log = server.process.log()
    assert f'Plugin {OUTSIDE}' in log and '"admin.webDir"' in log, log[-3000:]
    assert f'Plugin {LINKED}' in log
    listing = json.loads(admin.request("/plugin-pages.json").body)
    assert [p["name"] for p in listing["plugins"]] == [GOOD]
    assert listing["plugins"][0]["entry"] == f"/{GOOD}/page.js"
    for target in (f"/{GOOD}/../{GOOD}/secret.txt", f"/{GOOD}/..%2fsecret.txt",
                   f"/{GOOD}/%2e%2e/secret.txt", f"/{GOOD}/secret.txt",
                   f"/{OUTSIDE}/secret.txt", f"/{LINKED}/page.js"):
        answer = admin.request(target)
        assert SECRET.encode() not in answer.body, (target, answer.status)
        assert answer.status in (400, 404), (target, answer.status, answer.body[:80])

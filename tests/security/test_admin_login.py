"""The admin site's door against a real ``run_peek_server``: every route and the admin bus
need a session; CSRF, cookie flags, logout, fixation, throttling, the first password and
``--admin-password``."""

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from peek_platform.admin.sessions import ADDRESS_ATTEMPTS
from peek_plugin_base.vortex import PayloadEnvelope
from peek_vortex.wire import Originator
from tests.e2e.devices_data import server_config
from tests.security.admin_session import (
    COOKIE,
    AdminLogin,
    RawWebSocket,
    first_password,
    login,
    origin,
    post_login,
    session_cookie,
)
from tests.security.web_sites import raw_request
from tests.support import BIN, REPO, ServiceProcess, wait_for

PLUGIN = "fx_admin_mounts"
PLUGIN_SOURCE = '''
"""Fixture plugin: an admin resource that counts POSTs, and an admin static folder."""
from pathlib import Path

from twisted.web.resource import Resource

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import Payload, PayloadEndpoint

STATIC = str(Path(__file__).parent / "static")
CHANGES = []


class Page(Resource):
    isLeaf = True

    def render_GET(self, request):
        return f"fx admin page, {len(CHANGES)} changes".encode()

    def render_POST(self, request):
        CHANGES.append(1)
        return f"changed, {len(CHANGES)} changes".encode()


class ServerHook(PluginServerEntryHookABC):
    def load(self):
        self.platform.addAdminResource(b"page", Page())
        self.platform.addAdminStaticResourceDir(STATIC)

    def start(self):
        # Answers with who the router says sent the message.
        def whoami(payloadEnvelope, vortexName, vortexUuid, sendResponse, **_):
            sendResponse(Payload(filt=payloadEnvelope.filt, result=[vortexName, vortexUuid]))

        self.endpoint = PayloadEndpoint({"key": "fx.whoami"}, whoami)

    def stop(self):
        self.endpoint.shutdown()

    def unload(self): return None


def peekServerEntryHook(): return ServerHook
'''
STATIC_TEXT = "fx static admin index"

#: Every route of the admin site with what a logged-in GET answers (proves the route is
#: real); without a session each must be refused. Public ones are listed apart.
ROUTES = {
    "/": 200,
    "/logout": 405,
    "/admin-ui/admin.js": 200,
    "/vortexws": 403,  # a logged-in GET without the Origin of an upgrade
    f"/{PLUGIN}": 200,
    f"/{PLUGIN}/": 200,
    f"/{PLUGIN}/page": 200,
    f"/{PLUGIN}/index.html": 200,
    f"/{PLUGIN}/app.js": 200,
    "/no-such-plugin/x": 404,
}
PUBLIC = ("/login", "/admin-ui/admin.css")


@dataclass
class AdminServer:
    port: int
    home: Path
    process: ServiceProcess
    pythonpath: Path

    def password_command(self, user: str, stdin: str,
                         *extra: str) -> subprocess.CompletedProcess[str]:
        """``run_peek_server --admin-password`` on this server's home."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(self.pythonpath), str(REPO)]))
        return subprocess.run(
            [str(BIN / "run_peek_server"), "--home", str(self.home), "--admin-password",
             "--admin-user", user, *extra],
            input=stdin, capture_output=True, text=True, env=env, timeout=60)


def _start(tmp: Path, extra: dict | None = None) -> Iterator[AdminServer]:
    plugins = tmp / "plugins"
    package = plugins / PLUGIN
    (package / "static").mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN_SOURCE)
    (package / "plugin_package.json").write_text(json.dumps({
        "plugin": {"title": PLUGIN, "version": "1.0.0"},
        "requiresServices": ["server"], "requiresPlugins": []}))
    (package / "static" / "index.html").write_text(STATIC_TEXT)
    (package / "static" / "app.js").write_text("console.log('fx admin app');")
    config = server_config([PLUGIN])
    for key, value in (extra or {}).items():
        config["httpServer"]["admin"][key] = value
    home = tmp / "server"
    process = ServiceProcess("server", home, config, pythonpath=plugins)
    try:
        process.wait_log("Peek server is running", timeout=60)
        yield AdminServer(config["httpServer"]["admin"]["sitePort"], home, process, plugins)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from _start(tmp_path_factory.mktemp("admin-login"))


@pytest.fixture
def admin(server: AdminServer) -> AdminLogin:
    return login(server.port, first_password(server.home))


def _refused(answer_status: int, location: str, html: bool) -> bool:
    if html:
        return answer_status == 303 and location.startswith("/login?next=")
    return answer_status == 401


def test_every_admin_route_refuses_without_a_session(server: AdminServer,
                                                     admin: AdminLogin) -> None:
    """Each admin route (the site's own pages, the bus websocket, a plugin's mounted
    resource and static files, unknown paths) answers a logged-in admin, and without a
    session sends a browser to /login and answers anything else 401, revealing nothing."""
    wrong = []
    for route, expected in ROUTES.items():
        with_session = admin.request(route)
        if with_session.status != expected:
            wrong.append(f"{route} logged in: {with_session.status}, expected {expected}")
        for method, html in (("GET", True), ("GET", False), ("HEAD", True), ("POST", False),
                             ("PUT", False), ("DELETE", False)):
            headers = [("Accept", "text/html")] if html else [("Accept", "*/*")]
            if method != "GET":
                headers.append(("Origin", origin(server.port)))
            answer = raw_request(server.port, route, headers, method=method)
            body = answer.body.decode("utf-8", "replace")
            if not _refused(answer.status, answer.headers.get("location", ""), html) or \
                    "fx admin" in body or STATIC_TEXT in body or "csrf" in body.lower():
                wrong.append(f"{method} {route} (html={html}) without session: "
                             f"{answer.status} {body[:80]!r}")
    assert not wrong, "\n".join(wrong)


def test_only_the_login_page_and_its_stylesheet_are_public(server: AdminServer) -> None:
    """/login and /admin-ui/admin.css are served without a session; nothing else under
    /admin-ui/ is, and POSTing the stylesheet path is refused."""
    for route in PUBLIC:
        assert raw_request(server.port, route).status == 200, route
    assert raw_request(server.port, "/admin-ui/admin.js").status == 401
    assert raw_request(server.port, "/admin-ui/").status == 401
    assert raw_request(server.port, "/admin-ui/admin.css", [("Origin", origin(server.port))],
                       method="POST").status == 401


def test_a_redirect_to_login_never_leaves_the_site(server: AdminServer) -> None:
    """After login, ``next`` sends the browser only to a path on this site: absolute URLs,
    ``//host`` and backslash tricks go to /."""
    password = first_password(server.home)
    for target, expected in (("/fx_admin_mounts/page", "/fx_admin_mounts/page"),
                             ("https://evil.example/", "/"), ("//evil.example/", "/"),
                             ("/\\evil.example", "/")):
        answer = post_login(server.port, "admin", password, next_path=target)
        assert answer.status == 303 and answer.headers["location"] == expected, target


def test_admin_bus_admits_only_logged_in_sessions_from_the_site(server: AdminServer,
                                                                admin: AdminLogin) -> None:
    """The admin bus websocket upgrades only with a live session cookie and the site's own
    Origin; once upgraded, only the name peek-admin is accepted."""
    own = ("Origin", origin(server.port))
    cookie = admin.headers()[0]
    for headers, expected in (
        ((own,), 401),                                                   # no session
        ((own, ("Cookie", f"{COOKIE}=made-up-session-id")), 401),        # unknown session
        ((cookie,), 403),                                                # no Origin
        ((cookie, ("Origin", "http://evil.example")), 403),              # foreign Origin
        ((cookie, ("Origin", f"http://localhost.evil.example:{server.port}")), 403),
    ):
        socket = RawWebSocket(server.port, headers=headers)
        try:
            assert socket.status == expected, (headers, socket.status)
        finally:
            socket.close()
    socket = RawWebSocket(server.port, headers=(cookie, own))
    try:
        assert socket.status == 101
        socket.send_binary(json.dumps({"vortex": "hello", "version": 1,
                                       "name": "peek-admin"}).encode())
        opcode, payload = socket.read_frame()
        assert opcode == 2 and b"welcome" in payload, payload
    finally:
        socket.close()
    impostor = RawWebSocket(server.port, headers=(cookie, own))
    try:
        assert impostor.status == 101
        impostor.send_binary(json.dumps({"vortex": "hello", "version": 1,
                                         "name": "peek-client"}).encode())
        assert impostor.read_until_close() == 4403
    finally:
        impostor.close()


def _admin_bus(server: AdminServer, admin: AdminLogin) -> tuple[RawWebSocket, str]:
    """An admin bus socket past its hello; returns it and its connection uuid."""
    socket = RawWebSocket(server.port, headers=(*admin.headers(),
                                                ("Origin", origin(server.port))))
    assert socket.status == 101
    socket.send_binary(json.dumps({"vortex": "hello", "version": 1,
                                   "name": "peek-admin"}).encode())
    opcode, payload = socket.read_frame()
    assert opcode == 2, payload
    return socket, json.loads(payload)["uuid"]


def _reply(socket: RawWebSocket) -> PayloadEnvelope:
    while True:
        opcode, payload = socket.read_frame()
        if opcode == 2:
            return PayloadEnvelope.fromVortexMsg(payload)
        assert opcode in (9, 10), (opcode, payload)  # heartbeats


def test_admin_bus_reaches_the_server_only_and_as_peek_admin(server: AdminServer,
                                                             admin: AdminLogin) -> None:
    """An admin connection reaches the server's endpoints stamped as peek-admin with its
    own uuid even when it claims to be a service; a message addressed to another service
    or to one connection is refused with AccessDeniedError, nothing forwarded."""
    socket, uuid = _admin_bus(server, admin)
    try:
        forged = Originator("peek-client", "forged-uuid", False)
        socket.send_binary(PayloadEnvelope(filt={"key": "fx.whoami"}, messageId="m1",
                                           originator=forged).toVortexMsg())
        reply = _reply(socket)
        assert reply.replyToId == "m1" and reply.error is None, reply.error
        assert reply.decodePayload().result == ["peek-admin", uuid]
        for n, target in enumerate(({"destVortexName": "peek-client"},
                                    {"destVortexName": "peek-agent"},
                                    {"destVortexUuid": "some-connection"})):
            socket.send_binary(PayloadEnvelope(filt={"key": "fx.whoami"},
                                               messageId=f"d{n}", **target).toVortexMsg())
            refused = _reply(socket)
            assert refused.replyToId == f"d{n}"
            assert refused.error is not None and refused.error[0] == "AccessDeniedError"
    finally:
        socket.close()


def test_logout_ends_the_session_and_its_bus_connection(server: AdminServer) -> None:
    """After logout the old cookie opens nothing (pages, plugin resources, the bus), and
    the session's open admin bus socket is closed with 4401."""
    session = login(server.port, first_password(server.home))
    socket = RawWebSocket(server.port, headers=(*session.headers(),
                                                ("Origin", origin(server.port))))
    try:
        assert socket.status == 101
        socket.send_binary(json.dumps({"vortex": "hello", "version": 1,
                                       "name": "peek-admin"}).encode())
        assert socket.read_frame()[0] == 2
        answer = session.logout()
        assert answer.status == 303 and answer.headers["location"] == "/login"
        assert "Max-Age=0" in answer.headers["set-cookie"]
        assert socket.read_until_close() == 4401
    finally:
        socket.close()
    for route in ("/", f"/{PLUGIN}/page", f"/{PLUGIN}/index.html"):
        assert session.request(route).status == 401, route
    assert session.request(f"/{PLUGIN}/page", "POST").status == 401
    assert session.logout().status == 401
    again = RawWebSocket(server.port, headers=(*session.headers(),
                                               ("Origin", origin(server.port))))
    try:
        assert again.status == 401
    finally:
        again.close()


def test_state_changes_need_the_site_origin_and_the_csrf_token(server: AdminServer,
                                                               admin: AdminLogin) -> None:
    """A logged-in POST without the CSRF token, with a wrong one, with a foreign Origin or
    with neither Origin nor Referer is refused (403) and changes nothing; with the site's
    Origin (or Referer) and the token it reaches the plugin."""
    page = f"/{PLUGIN}/page"
    before = admin.request(page).body.decode()
    cookie = admin.headers()[0]
    own, token = ("Origin", origin(server.port)), ("X-Peek-CSRF", admin.csrf_token)
    for headers in (
        (cookie, own),                                                   # no token
        (cookie, own, ("X-Peek-CSRF", admin.csrf_token[:-2] + "xx")),    # wrong token
        (cookie, ("Origin", "http://evil.example"), token),              # foreign Origin
        (cookie, ("Origin", "null"), token),
        (cookie, ("Referer", "http://evil.example/page"), token),        # foreign Referer
        (cookie, token),                                                 # neither
    ):
        answer = raw_request(server.port, page, headers, method="POST")
        assert answer.status == 403, (headers, answer.status, answer.body)
    # Logging out is a state change too: without the token it is refused.
    assert raw_request(server.port, "/logout", (cookie, own), method="POST").status == 403
    assert admin.request(page).body.decode() == before
    assert admin.request("/").status == 200
    ok = raw_request(server.port, page, (cookie, own, token), method="POST")
    assert ok.status == 200 and b"changed" in ok.body
    by_referer = raw_request(server.port, page,
                             (cookie, ("Referer", origin(server.port) + "/"), token),
                             method="POST")
    assert by_referer.status == 200
    form = raw_request(server.port, page,
                       (cookie, own, ("Content-Type", "application/x-www-form-urlencoded")),
                       method="POST", body=f"csrf_token={admin.csrf_token}".encode())
    assert form.status == 200


def test_login_from_a_foreign_origin_is_refused(server: AdminServer) -> None:
    """A login posted by another site (or with no Origin or Referer) gets no session,
    even with the right password."""
    password = first_password(server.home)
    for headers, send_origin in (((("Origin", "http://evil.example"),), False),
                                 ((), False)):
        answer = post_login(server.port, "admin", password, headers, send_origin=send_origin)
        assert answer.status == 403 and session_cookie(answer) is None, answer.status


def test_session_cookie_flags(server: AdminServer, admin: AdminLogin) -> None:
    """The session cookie is HttpOnly, SameSite=Strict, for the whole site, and not Secure
    over plain HTTP (a browser would drop it); pages are not cached or framed."""
    flags = [part.strip().lower() for part in admin.set_cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags
    assert len(admin.session_id) >= 40
    page = admin.request("/")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


def test_a_session_id_chosen_by_the_client_is_never_accepted(server: AdminServer) -> None:
    """A cookie the server did not issue opens nothing, and logging in while holding one
    issues a fresh id, the chosen one staying refused (no session fixation)."""
    chosen = "attacker-chosen-session-id-0123456789abcdef"
    fixed = [("Cookie", f"{COOKIE}={chosen}")]
    assert raw_request(server.port, "/", fixed).status == 401
    answer = post_login(server.port, "admin", first_password(server.home), tuple(fixed))
    issued = session_cookie(answer)
    assert answer.status == 303 and issued and issued != chosen
    assert raw_request(server.port, "/", fixed).status == 401
    assert raw_request(server.port, "/", [("Cookie", f"{COOKIE}={issued}")]).status == 200


def test_first_password_file_is_private_and_not_logged(server: AdminServer) -> None:
    """The first admin's random password is in a 0600 file in the home; the log says
    where, never what."""
    path = server.home / "admin-password.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = first_password(server.home)
    assert len(password) >= 20
    log = server.process.log()
    assert password not in log
    assert str(path) in log


def test_the_admin_site_listens_on_loopback_only(server: AdminServer) -> None:
    """With the default bind address the admin site listens on 127.0.0.1 only."""
    assert f"admin-site listening on http://127.0.0.1:{server.port}/" in server.process.log()


def test_admin_password_command_sets_and_resets(server: AdminServer) -> None:
    """``--admin-password`` reads the password from stdin (never argv), refuses a short
    one, creates or resets an account, ends the running server's sessions of the old
    password, and deletes the first password's file once admin has its own."""
    old = first_password(server.home)
    session = login(server.port, old)
    as_argument = subprocess.run(
        [str(BIN / "run_peek_server"), "--home", str(server.home), "--admin-password",
         "secret-on-the-command-line"], capture_output=True, text=True, timeout=60)
    assert as_argument.returncode == 2
    short = server.password_command("admin", "short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    new = "a new admin password 1"
    done = server.password_command("admin", new + "\n")
    assert done.returncode == 0, done.stderr
    assert not (server.home / "admin-password.txt").exists()
    assert new not in server.process.log()
    wait_for(lambda: session.request("/").status == 401, 20,
             "the old password's session to end")
    assert post_login(server.port, "admin", old).status == 401
    assert login(server.port, new).request("/").status == 200
    created = server.password_command("bob", "bob's password 12\n")
    assert created.returncode == 0 and "created" in created.stdout
    assert login(server.port, "bob's password 12", user="bob").request("/").status == 200


def test_wrong_passwords_are_refused_then_throttled(server: AdminServer) -> None:
    """A wrong password gets 401 and no cookie; five for one account block that account
    (429, even with the right password) but not another account from the same address;
    twenty from one address block the address for every account. (Runs last: it blocks
    this test module's address.)"""
    carol, dave = "carol's password 1", "dave's password 12"
    assert server.password_command("carol", carol + "\n").returncode == 0
    assert server.password_command("dave", dave + "\n").returncode == 0
    refused = post_login(server.port, "carol", "wrong password")
    assert refused.status == 401 and session_cookie(refused) is None
    assert b"Wrong user name or password" in refused.body
    for _ in range(4):
        assert post_login(server.port, "carol", "wrong password").status == 401
    blocked = post_login(server.port, "carol", carol)
    assert blocked.status == 429 and session_cookie(blocked) is None
    assert b"too many failed logins for this account" in blocked.body.lower()
    assert int(blocked.headers["retry-after"]) >= 1
    assert login(server.port, dave, user="dave").request("/").status == 200
    # Earlier tests of this module may have failed a login or two from this address.
    statuses = [post_login(server.port, f"nobody{n}", "wrong password").status
                for n in range(ADDRESS_ATTEMPTS)]
    assert statuses[:ADDRESS_ATTEMPTS - 6] == [401] * (ADDRESS_ATTEMPTS - 6)
    assert statuses[-1] == 429
    by_address = post_login(server.port, "dave", dave)
    assert by_address.status == 429
    assert b"from your address" in by_address.body
    assert "admin logins from 127.0.0.1 refused" in server.process.log()


def test_an_idle_session_expires_and_its_bus_closes(tmp_path: Path) -> None:
    """A session unused for sessionIdleSeconds ends by itself: its bus socket is closed
    (4401) and its cookie is refused. Behind an https public origin the cookie is Secure."""
    for running in _start(tmp_path, {"sessionIdleSeconds": 2,
                                     "publicOrigins": ["https://admin.example.test"]}):
        session = login(running.port, first_password(running.home))
        assert "secure" in [p.strip().lower() for p in session.set_cookie.split(";")]
        socket = RawWebSocket(running.port, headers=(*session.headers(),
                                                     ("Origin", origin(running.port))))
        try:
            assert socket.status == 101
            assert socket.read_until_close() == 4401
        finally:
            socket.close()
        assert session.request("/").status == 401
        assert "admin session of admin ended: session expired" in running.process.log()

"""The admin site's door: login, logout, sessions, CSRF, and the gate in front of every page.

URL map (server, ``httpServer.admin.sitePort``, 127.0.0.1 by default):

========================  =========  ====================================================
path                      session    what
========================  =========  ====================================================
``/login``                no         GET: the login form; POST ``username``, ``password``,
                                     ``next`` (a local path): a new session cookie and a
                                     redirect (303), or the form again (401 / 429)
``/admin-ui/admin.css``   no         the shared stylesheet (the login page needs it)
``/``                     yes        the landing page (layout, nav, content area)
``/logout``               yes        POST with the CSRF token: ends the session
``/admin-ui/...``         yes        the admin pages' ES modules (``admin.js``)
``/vortexws``             yes        the admin bus websocket (name ``peek-admin``)
``/plugin-upload...``     yes        install a plugin by upload
                                     (:mod:`peek_platform.admin.plugin_upload`)
``/<name>/...``           yes        pages the platform adds with ``putChild`` (e.g. the
                                     browser bus client at ``/peek/``)
``/<pluginName>/...``     yes        plugin admin resources and static folders
anything else             yes        404 once logged in
========================  =========  ====================================================

Without a session, a browser asking for a page (GET/HEAD accepting ``text/html``) is
redirected to ``/login?next=<path>``; every other request gets ``401``. Every request
that is not GET, HEAD or OPTIONS must come from the admin site's own origin (``Origin``,
or ``Referer`` when there is none) and, once logged in, carry the session's CSRF token
in the ``X-Peek-CSRF`` header or a ``csrf_token`` form field; otherwise ``403``.
Request bodies are bounded when their headers arrive (``AdminSiteRoot.body_limit``, which
:class:`~peek_platform.web.site.QuietRequest` applies): 64 KiB without a session, the
root's ``max_body_bytes`` with one.
"""

import hmac
import html
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request

from peek_platform.admin import accounts
from peek_platform.admin.sessions import LoginThrottle, Session, SessionStore
from peek_platform.web.plugin_site import StaticFolder
from peek_platform.web.site import BodyLimit
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_vortex.transport import VortexResource, VortexServerProtocol

logger = logging.getLogger(__name__)

COOKIE_NAME = b"peek_admin_session"
CSRF_HEADER = b"x-peek-csrf"
CSRF_FIELD = b"csrf_token"
#: Methods that must not change state: no CSRF token needed.
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
#: The admin pages' own files (stylesheet, ES modules).
WEB_DIR = Path(__file__).resolve().parent / "web"
#: Public (no session): the login page and the stylesheet it uses.
PUBLIC_CSS = b"admin.css"
UI_PATH = b"admin-ui"
_MAX_USER_CHARS = 64
#: Largest request body without a session (the login form is far smaller).
MAX_ANONYMOUS_BODY_BYTES = 64 * 1024
#: Largest request body in a session unless a page (the plugin upload) raises it.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_MAX_PASSWORD_CHARS = 1024

#: The pages in the nav, in order: (path, title). Later pages add themselves here.
NAV: list[tuple[str, str]] = [("/", "Dashboard")]


class AdminAuth:
    """Everything the gate decides with: sessions, throttle, accounts, allowed origins."""

    def __init__(
        self,
        sessions: SessionStore,
        throttle: LoginThrottle,
        platform_db: Callable[[], Optional[DbConnection]],
        run_in_thread: Callable[..., "Deferred[Any]"],
        origins: frozenset[str],
        public_origins: tuple[str, ...] = (),
    ) -> None:
        self.sessions = sessions
        self.throttle = throttle
        self._platform_db = platform_db
        self.run_in_thread = run_in_thread
        #: ``scheme://host[:port]`` values a state-changing request may come from.
        self.origins = origins
        #: A TLS proxy in front (an https origin listed): cookies are Secure.
        self.secure_behind_proxy = any(o.startswith("https://") for o in public_origins)

    @classmethod
    def allowed_origins(cls, port: int, bind_address: str,
                        public_origins: list[str]) -> frozenset[str]:
        """The loopback origins of the admin port, the bind address's, and those listed."""
        hosts = {"127.0.0.1", "localhost", "[::1]"}
        if bind_address not in ("0.0.0.0", "::", ""):
            hosts.add(f"[{bind_address}]" if ":" in bind_address else bind_address)
        origins = {f"{scheme}://{host}:{port}" for host in hosts for scheme in ("http", "https")}
        origins.update(o.rstrip("/").lower() for o in public_origins)
        return frozenset(origins)

    def db(self) -> DbConnection:
        db = self._platform_db()
        if db is None:
            raise RuntimeError("the platform schema is not open")
        return db

    def session_of(self, request: Request) -> Optional[Session]:
        """The request's live session (from its cookie), else None."""
        cookie = request.getCookie(COOKIE_NAME)
        if cookie is None:
            return None
        return self.sessions.get(cookie.decode("ascii", "replace"))

    def origin_ok(self, request: Request) -> bool:
        """Whether the request names the admin site as its origin (``Origin``, else the
        ``Referer``'s scheme and host); a request naming neither is refused."""
        origin = request.getHeader(b"origin")
        if origin is None:
            referer = request.getHeader(b"referer")
            if referer is None:
                return False
            parts = urllib.parse.urlsplit(referer.decode("latin-1"))
            origin_text = f"{parts.scheme}://{parts.netloc}"
        else:
            origin_text = origin.decode("latin-1")
        return origin_text.lower() in self.origins

    def secure(self, request: Request) -> bool:
        return bool(request.isSecure()) or self.secure_behind_proxy

    def set_cookie(self, request: Request, value: str, max_age: Optional[int] = None) -> None:
        request.addCookie(COOKIE_NAME, value.encode("ascii"), path=b"/", httpOnly=True,
                          sameSite="strict", secure=self.secure(request),
                          max_age=None if max_age is None else str(max_age).encode())


def _protect(request: Request) -> None:
    """Headers on every admin response: never framed, never cached, no referrer leaks."""
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"content-security-policy", b"frame-ancestors 'none'")
    request.setHeader(b"referrer-policy", b"same-origin")
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"cache-control", b"no-store")


def _local_path(value: Optional[bytes]) -> str:
    """``value`` when it is a path on this site (``/x``, not ``//host`` or ``/\\host``),
    else ``/``: a login never redirects elsewhere."""
    if not value:
        return "/"
    text = value.decode("utf-8", "replace")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or \
            any(ord(c) < 32 for c in text):
        return "/"
    return text


class _Text(Resource):
    """A short plain-text answer with a status."""

    isLeaf = True

    def __init__(self, status: int, text: str) -> None:
        super().__init__()
        self.status = status
        self.text = text

    def render(self, request: Request) -> bytes:
        request.setResponseCode(self.status)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return (self.text + "\n").encode()


class _LoginRequired(Resource):
    """No session: browsers asking for a page go to the login form, the rest get 401."""

    isLeaf = True

    def render(self, request: Request) -> bytes:
        accept = (request.getHeader(b"accept") or b"").lower()
        if request.method in (b"GET", b"HEAD") and b"text/html" in accept:
            target = urllib.parse.quote(request.uri.decode("latin-1"), safe="/")
            request.setResponseCode(303)
            request.setHeader(b"location", f"/login?next={target}".encode())
            return b""
        request.setResponseCode(401)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"Login required: log in at /login first.\n"


def layout(title: str, main: str, session: Optional[Session] = None) -> bytes:
    """The shared page: head, header with the nav (when logged in), the main content."""
    meta = nav = ""
    if session is not None:
        meta = f'<meta name="peek-csrf-token" content="{html.escape(session.csrf_token)}">'
        links = "".join(f'<a href="{html.escape(path)}">{html.escape(name)}</a>'
                        for path, name in NAV)
        nav = (
            f'<nav>{links}</nav>'
            f'<form class="logout" method="post" action="/logout">'
            f'<span>{html.escape(session.user)}</span>'
            f'<input type="hidden" name="csrf_token" value="{html.escape(session.csrf_token)}">'
            f'<button type="submit">Log out</button></form>'
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta}<title>{html.escape(title)} - Peek admin</title>
<link rel="stylesheet" href="/admin-ui/admin.css">
</head><body>
<header><strong>Peek admin</strong>{nav}</header>
<main id="content">{main}</main>
{'<script type="module" src="/admin-ui/admin.js"></script>' if session else ''}
</body></html>
"""
    return page.encode()


class LoginPage(Resource):
    """``/login``: the form, and the check of what it posts."""

    isLeaf = True

    def __init__(self, auth: AdminAuth) -> None:
        super().__init__()
        self.auth = auth

    def _form(self, request: Request, status: int, message: str = "") -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        next_path = _local_path((request.args or {}).get(b"next", [b""])[0])
        error = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        return layout("Log in", f"""<h1>Log in</h1>{error}
<form method="post" action="/login" class="login">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>User name <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
required></label>
<button type="submit">Log in</button></form>""")

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        return self._form(request, 200)

    def render_POST(self, request: Request) -> Any:  # noqa: N802 - twisted API
        if not self.auth.origin_ok(request):
            return self._form(request, 403, "This login did not come from the admin site's "
                              "own page (Origin or Referer missing or foreign).")
        args = request.args or {}
        try:
            user = args.get(b"username", [b""])[0].decode("utf-8").strip()
            password = args.get(b"password", [b""])[0].decode("utf-8")
        except UnicodeDecodeError:
            return self._form(request, 400, "User name and password must be UTF-8 text.")
        if not user or not password:
            return self._form(request, 400, "Enter a user name and a password.")
        address = str(getattr(request.getClientAddress(), "host", "unknown"))
        refusal = self.auth.throttle.refusal(user[:_MAX_USER_CHARS], address)
        if refusal is not None:
            request.setHeader(b"retry-after", refusal.rsplit(" in ", 1)[-1].split()[0].encode())
            return self._form(request, 429, refusal[0].upper() + refusal[1:] + ".")
        Deferred.fromCoroutine(self._check(request, user, password, address))
        return NOT_DONE_YET

    async def _check(self, request: Request, user: str, password: str, address: str) -> None:
        try:
            if len(user) > _MAX_USER_CHARS or len(password) > _MAX_PASSWORD_CHARS:
                set_at = None
            else:
                set_at = await self.auth.run_in_thread(
                    accounts.check_password, self.auth.db(), user, password)
        except Exception:
            logger.exception("checking the admin login of %r failed", user)
            body = self._form(request, 503, "The login could not be checked; see the "
                              "server log.")
        else:
            if set_at is None:
                self.auth.throttle.failed(user[:_MAX_USER_CHARS], address)
                logger.warning("admin login for %r from %s refused: wrong user name or "
                               "password", user[:_MAX_USER_CHARS], address)
                body = self._form(request, 401, "Wrong user name or password.")
            else:
                self.auth.throttle.succeeded(user)
                body = self._open_session(request, user, set_at, address)
        if not request._disconnected:
            request.write(body)
            request.finish()

    def _open_session(self, request: Request, user: str, set_at: float,
                      address: str) -> bytes:
        # Whatever session id the browser held is ended, never reused (no fixation).
        old = request.getCookie(COOKIE_NAME)
        if old is not None:
            self.auth.sessions.end(old.decode("ascii", "replace"), "replaced by a new login")
        session = self.auth.sessions.open(user, set_at)
        self.auth.set_cookie(request, session.id)
        logger.info("admin %s logged in from %s", user, address)
        request.setResponseCode(303)
        request.setHeader(b"location", _local_path(
            (request.args or {}).get(b"next", [b""])[0]).encode())
        return b""


class LogoutPage(Resource):
    """``/logout`` (POST): ends the session server-side and clears the cookie."""

    isLeaf = True

    def __init__(self, auth: AdminAuth) -> None:
        super().__init__()
        self.auth = auth

    def render_POST(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        session: Session = request.peek_admin_session  # type: ignore[attr-defined]
        self.auth.sessions.end(session.id, "logged out")
        self.auth.set_cookie(request, "", max_age=0)
        request.setResponseCode(303)
        request.setHeader(b"location", b"/login")
        return b""


class LandingPage(Resource):
    """``/``: the page an admin lands on after login."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        session: Session = request.peek_admin_session  # type: ignore[attr-defined]
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return layout("Dashboard", f"""<h1>Dashboard</h1>
<p>Logged in as <strong>{html.escape(session.user)}</strong>.</p>
<section id="services" aria-live="polite"><p>Live service state appears here.</p></section>""",
                      session)


class AdminVortexResource(VortexResource):
    """The admin bus websocket: the gate already found a session; the upgrade must also
    come from the admin site's origin. The socket is tied to the session and closed
    when it ends."""

    def __init__(self, factory: Any, auth: AdminAuth) -> None:
        super().__init__(factory)
        self.auth = auth

    def render(self, request: Request) -> Any:
        if not self.auth.origin_ok(request):
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Forbidden: the admin bus accepts only the admin site's own pages.\n"
        session: Session = request.peek_admin_session  # type: ignore[attr-defined]
        transport = request.channel.transport
        result = super().render(request)
        protocol = getattr(transport, "protocol", None)
        if isinstance(protocol, VortexServerProtocol):
            protocol.admin_session_id = session.id  # type: ignore[attr-defined]
            session.sockets.add(protocol)
        return result


class AdminSiteRoot(Resource):
    """The admin site's root: public login, everything else behind a session."""

    #: Largest body of a request in a session (the plugin upload raises it).
    max_body_bytes = DEFAULT_MAX_BODY_BYTES

    def __init__(self, auth: AdminAuth, plugins: Resource,
                 vortex: Optional[Resource] = None) -> None:
        super().__init__()
        self.auth = auth
        #: The site root plugins mount on (``/<pluginName>/``).
        self.plugins = plugins
        self.vortex = vortex
        self.login = LoginPage(auth)
        self.logout = LogoutPage(auth)
        self.landing = LandingPage()
        self.ui = StaticFolder(str(WEB_DIR))
        self.ui.indexNames = []

    def body_limit(self, request: Request) -> BodyLimit:
        """(largest body, status, message) for a request whose headers just arrived
        (QuietRequest applies it, with the site's own cap)."""
        if self.auth.session_of(request) is None:
            return (MAX_ANONYMOUS_BODY_BYTES, 401, "Login required: without a session the "
                    f"admin site accepts request bodies of at most "
                    f"{MAX_ANONYMOUS_BODY_BYTES} bytes; log in at /login first.")
        return (self.max_body_bytes, 413, f"Request body too large: the admin site accepts "
                f"at most {self.max_body_bytes} bytes (httpServer.admin."
                "pluginUploadMaxBytes plus the form's framing).")

    def getChildWithDefault(self, path: bytes, request: Request) -> IResource:  # noqa: N802
        _protect(request)
        if path == b"login":
            return self.login
        if path == UI_PATH and request.postpath == [PUBLIC_CSS] and \
                request.method in (b"GET", b"HEAD"):
            return self.ui
        session = self.auth.session_of(request)
        if session is None:
            return _LoginRequired()
        if request.method not in SAFE_METHODS:
            if not self.auth.origin_ok(request):
                return _Text(403, "Forbidden: this request did not come from the admin "
                             "site's own pages (Origin or Referer missing or foreign).")
            token = request.getHeader(CSRF_HEADER)
            if token is None:
                token = (request.args or {}).get(CSRF_FIELD, [None])[0]
            if token is None or not hmac.compare_digest(token, session.csrf_token.encode()):
                return _Text(403, "Forbidden: the CSRF token is missing or wrong (send the "
                             "page's token in the X-Peek-CSRF header or a csrf_token field).")
        request.peek_admin_session = session  # type: ignore[attr-defined]
        if path == b"":
            return self.landing
        if path == b"logout":
            return self.logout
        if path == UI_PATH:
            return self.ui
        if path == b"vortexws" and self.vortex is not None:
            return self.vortex
        # Platform pages added later (``putChild``) sit behind the same session check.
        if path in self.children:
            return self.children[path]
        return self.plugins.getChildWithDefault(path, request)

    def render(self, request: Request) -> bytes:
        # Only reached for an empty request path, which twisted.web never produces.
        return _LoginRequired().render(request)

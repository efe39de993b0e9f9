"""The twisted.web site every service listens with: it does not announce its software, and
its access log never holds a credential sent in a URL; each request it answers becomes a
monitoring point (:mod:`peek_platform.events`)."""

import logging
import time
from typing import Any, Optional
from urllib.parse import parse_qsl, quote

from twisted.web.http import RESPONSES, combinedLogFormatter
from twisted.web.server import Request, Site

from peek_platform.events.sources import emit_http_request
from peek_vortex import LogThrottle

logger = logging.getLogger(__name__)
#: Refused bodies are hostile input: one line per site and status a minute, then a count.
_body_refusals = LogThrottle(logger)

#: A request body's bound: (largest body in bytes, HTTP status, message naming the limit).
BodyLimit = tuple[int, int, str]

#: Query argument names that look like a credential. The endpoint routes refuse them (a key
#: never belongs in a URL); the access log shows their values as ``REDACTED`` regardless.
KEY_LIKE_QUERY_NAMES = frozenset({"apikey", "api_key", "api-key", "x-api-key", "x_api_key",
                                  "key", "token", "access_token", "password"})


def redact_uri(uri: bytes) -> bytes:
    """``uri`` with the values of credential-like query arguments replaced by REDACTED."""
    path, sep, query = uri.partition(b"?")
    if not sep:
        return uri
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if not any(name.lower() in KEY_LIKE_QUERY_NAMES for name, _ in pairs):
        return uri
    redacted = "&".join(
        f"{quote(name)}={'REDACTED' if name.lower() in KEY_LIKE_QUERY_NAMES else quote(value)}"
        for name, value in pairs)
    return path + b"?" + redacted.encode("latin-1")


def redacting_log_formatter(timestamp: str, request: Any) -> str:
    """Twisted's combined log line, with :func:`redact_uri` applied to the request's URI."""
    uri = request.uri
    redacted = redact_uri(uri)
    if redacted is uri:
        return combinedLogFormatter(timestamp, request)  # type: ignore[no-any-return]
    # The line is written once the request is finished: nothing else reads uri meanwhile.
    request.uri = redacted
    try:
        return combinedLogFormatter(timestamp, request)  # type: ignore[no-any-return]
    finally:
        request.uri = uri


class QuietRequest(Request):
    """A request whose response carries no ``Server: TwistedWeb/<version>`` header, and
    whose body is bounded as soon as its headers are in.

    twisted.web sets that header before any resource runs; it is dropped just before the
    headers go out (the first write, which ``finish`` also makes for empty bodies), so
    errors, redirects and resources' own responses are all covered.

    twisted.web stores a whole body (and parses a form in it) before any resource runs,
    so a resource's own check comes too late for a huge body. Two bounds apply: the site's
    cap (the channel's ``max_body_bytes``: ``httpServer.maxRequestBodyBytes``, 413) and
    what the site root's ``body_limit(request)`` says, when it has one (the admin site: 64
    KiB without a session, 401). A declared length over either is refused before one byte
    of the body is read; a chunked body as soon as it passes one. The answer is
    written and the connection closed; the request never reaches a resource.
    """

    _body_limits: tuple[BodyLimit, ...] = ()
    _body_seen = 0
    _body_refused = False

    def body_limits(self) -> tuple[BodyLimit, ...]:
        """This request's bounds, decided once its headers are in: the site's cap, then
        the root's (a body over both is refused naming the site's cap)."""
        bounds: list[BodyLimit] = []
        cap = getattr(self.channel, "max_body_bytes", None)
        if cap is not None:
            bounds.append((cap, 413, f"request body over the limit of {cap} bytes "
                                     "(httpServer.maxRequestBodyBytes)"))
        root = getattr(getattr(self.channel, "site", None), "resource", None)
        root_limit = getattr(root, "body_limit", None)
        if root_limit is not None:
            bounds.append(root_limit(self))
        return tuple(bounds)

    def gotLength(self, length: Optional[int]) -> None:  # noqa: N802 - twisted API
        self._body_limits = self.body_limits()
        super().gotLength(length)
        if length is not None:
            self._check_body(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 - twisted API
        if self._body_refused:
            return
        self._body_seen += len(data)
        if self._check_body(self._body_seen):
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:  # noqa: N802
        if not self._body_refused:
            super().requestReceived(command, path, version)

    def _check_body(self, size: int) -> bool:
        """True while ``size`` bytes are within the bound; else answer, close and say False."""
        over = next((bound for bound in self._body_limits if size > bound[0]), None)
        if over is None:
            return True
        _, status, message = over
        self._body_refused = True
        # The rest of the body still arriving before the close is dropped unread.
        self.channel._body_refused = True
        body = (message + "\n").encode()
        transport = self.channel.transport
        transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\ncache-control: no-store\r\n\r\n"
            % (status, RESPONSES.get(status, b"Refused"), len(body)) + body)
        transport.loseConnection()
        site = getattr(self.channel.site, "site_name", "http")
        _body_refusals.log((site, status), f"{site}: request bodies refused",
                           "%s: refused a request body (%s)", site, message)
        return False

    def write(self, data: bytes) -> None:
        if not self.startedWriting:
            self.responseHeaders.removeHeader(b"server")
        super().write(data)

    def process(self) -> None:
        self._peek_started = time.monotonic()
        self._peek_site = getattr(self.channel.site, "site_name", "http")
        self.notifyFinish().addBoth(self._monitor)
        super().process()

    def _monitor(self, outcome: Any) -> None:
        # Never fails the request: a monitoring error is only logged by the dispatcher.
        emit_http_request(
            self._peek_site,
            self.method.decode("latin-1"),
            self.path.decode("latin-1"),
            self.code,
            self._peek_started,
            outcome is None,
        )


class PlatformSite(Site):
    """A ``Site`` whose requests are :class:`QuietRequest`, with connection noise off."""

    requestFactory = QuietRequest
    noisy = False
    #: Tags this site's monitoring points ("admin-site", "platform-site", ...).
    site_name = "http"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("logFormatter", redacting_log_formatter)
        super().__init__(*args, **kwargs)

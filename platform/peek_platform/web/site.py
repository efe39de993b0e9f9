"""The twisted.web site every service listens with: it does not announce its software, and
its access log never holds a credential sent in a URL; each request it answers becomes a
monitoring point (:mod:`peek_platform.events`)."""

import time
from typing import Any
from urllib.parse import parse_qsl, quote

from twisted.web.http import combinedLogFormatter
from twisted.web.server import Request, Site

from peek_platform.events.sources import emit_http_request

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
    """A request whose response carries no ``Server: TwistedWeb/<version>`` header.

    twisted.web sets that header before any resource runs; it is dropped just before the
    headers go out (the first write, which ``finish`` also makes for empty bodies), so
    errors, redirects and resources' own responses are all covered.
    """

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

"""The twisted.web site every service listens with: it does not announce its software, and
each request it answers becomes a monitoring point (:mod:`peek_platform.events`)."""

import time
from typing import Any

from twisted.web.server import Request, Site

from peek_platform.events.sources import emit_http_request


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

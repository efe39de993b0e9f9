"""The twisted.web site every service listens with: it does not announce its software."""

from twisted.web.server import Request, Site


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


class PlatformSite(Site):
    """A ``Site`` whose requests are :class:`QuietRequest`, with connection noise off."""

    requestFactory = QuietRequest
    noisy = False

"""The HTTP sites' door: a deadline for request headers and caps on unauthenticated sockets.

Every accepted TCP connection holds an *admission* (a slot counted against its source
address and against the process) until it is authenticated (its bus hello accepted) or
closed; plain HTTP connections hold theirs until they close. Beyond
``httpServer.maxUnauthenticatedPerAddress`` slots for one address, or
``httpServer.maxUnauthenticatedConnections`` in all, a new connection is answered
``429``/``503`` with the reason and closed at once, so half-open sockets from one source
can neither use up the process's file descriptors nor lock other devices out.

A request body over ``httpServer.maxRequestBodyBytes`` is answered ``413`` and the
connection closed: a declared ``Content-Length`` as soon as the headers are in (no body is
buffered), a chunked body as soon as it passes the limit (Twisted would otherwise spool
any body to a temporary file before a resource could refuse it). The request applies the
bound (:class:`~peek_platform.web.site.QuietRequest`); the channel drops what arrives
after. Endpoint routes apply their own, lower limit after that.

A request's headers must arrive within ``httpServer.headerTimeoutSeconds`` of the
connection opening (or of the previous response ending, on a kept-alive connection);
otherwise the socket is closed. Twisted's own idle timeout only counts silence, so a
peer dribbling one byte at a time could hold a socket for ever.
"""

import logging
from typing import Any, Optional

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol
from twisted.web.resource import Resource

from peek_platform.web.site import PlatformSite
from peek_vortex import LogThrottle

logger = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_UNAUTHENTICATED = 512
DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 64


class Admission:
    """One counted slot of an unauthenticated connection; ``release`` frees it (once)."""

    __slots__ = ("_gate", "host")

    def __init__(self, gate: "ConnectionGate", host: str) -> None:
        self._gate: Optional[ConnectionGate] = gate
        self.host = host

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._release(self.host)


class ConnectionGate:
    """Counts unauthenticated connections per source address and in total; refuses extras.

    One gate is shared by every site of a process (and the bus websockets behind them).
    """

    def __init__(
        self,
        max_total: int = DEFAULT_MAX_UNAUTHENTICATED,
        max_per_address: int = DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
        clock: Optional[IReactorTime] = None,
    ) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.total = 0
        self._by_host: dict[str, int] = {}
        self.refusals = LogThrottle(logger, clock=clock)
        self.timeouts = LogThrottle(logger, logging.INFO, clock=clock)

    def count(self, host: str) -> int:
        """Unauthenticated connections now open from ``host``."""
        return self._by_host.get(host, 0)

    def admit(self, host: str) -> tuple[Optional[Admission], int, str]:
        """A slot for a new connection from ``host``, or (None, HTTP status, reason)."""
        held = self._by_host.get(host, 0)
        if held >= self.max_per_address:
            return None, 429, (f"too many unauthenticated connections from {host} "
                               f"({held}, the limit is {self.max_per_address})")
        if self.total >= self.max_total:
            return None, 503, (f"too many unauthenticated connections ({self.total}, the "
                               f"limit is {self.max_total}); try again shortly")
        self._by_host[host] = held + 1
        self.total += 1
        return Admission(self, host), 0, ""

    def _release(self, host: str) -> None:
        self.total -= 1
        held = self._by_host.get(host, 0) - 1
        if held > 0:
            self._by_host[host] = held
        else:
            self._by_host.pop(host, None)


class _Refusal(Protocol):
    """Answers one HTTP status with the reason as plain text, then closes."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason

    def connectionMade(self) -> None:  # noqa: N802 - twisted API
        phrase = b"Too Many Requests" if self.status == 429 else b"Service Unavailable"
        body = self.reason.encode("utf-8") + b"\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s"
            % (self.status, phrase, len(body), body))
        self.transport.loseConnection()


class _GuardedChannel(HTTPChannel):
    """An HTTP channel with a header deadline that frees its admission when it closes."""

    admission: Optional[Admission] = None
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    gate: Optional[ConnectionGate] = None
    _header_timer: Optional[IDelayedCall] = None

    def connectionMade(self) -> None:  # noqa: N802 - twisted API
        super().connectionMade()
        self._await_headers()

    #: The site-wide bound of a request body; the request applies it (QuietRequest).
    max_body_bytes: Optional[int] = None
    #: Set by a request that refused its body: what still arrives is dropped unread.
    _body_refused = False

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - twisted API
        if self._body_refused:
            return
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:  # noqa: N802 - twisted API
        self._cancel_header_timer()
        super().allHeadersReceived()

    def requestDone(self, request: Any) -> None:  # noqa: N802 - twisted API
        # A kept-alive connection waits for its next request under the same deadline;
        # armed first, because a pipelined request's headers may be parsed just below.
        if self.persistent:
            self._await_headers()
        super().requestDone(request)

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 - twisted API
        self._cancel_header_timer()
        admission, self.admission = self.admission, None
        if admission is not None:
            admission.release()
        super().connectionLost(reason)

    def _await_headers(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.callLater(self.header_timeout, self._headers_timed_out)

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        transport = self.transport
        if transport is None:
            return
        host = _host_of(transport.getPeer())
        if self.gate is not None:
            self.gate.timeouts.log(
                host, f"connections from {host} closed for not sending request headers",
                "closed a connection from %s: no complete request headers within %gs",
                host, self.header_timeout)
        # Nothing of this request was answered; nothing is lost by not flushing.
        transport.abortConnection()

    def _cancel_header_timer(self) -> None:
        timer, self._header_timer = self._header_timer, None
        if timer is not None and timer.active():
            timer.cancel()


def _host_of(address: Optional[IAddress]) -> str:
    return str(getattr(address, "host", address))


class GuardedSite(PlatformSite):
    """A quiet twisted.web Site (no Server header) applying a ConnectionGate and a
    request-header deadline."""

    def __init__(
        self,
        root: Resource,
        gate: ConnectionGate,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
        reactor: Optional[IReactorTime] = None,
        max_body_bytes: Optional[int] = None,
    ) -> None:
        super().__init__(root, reactor=reactor)
        self.gate = gate
        self.header_timeout = header_timeout
        self.max_body_bytes = max_body_bytes

    def buildProtocol(self, addr: IAddress) -> Any:  # noqa: N802 - twisted API
        host = _host_of(addr)
        admission, status, reason = self.gate.admit(host)
        if admission is None:
            self.gate.refusals.log(host, f"connections from {host} refused",
                                   "refused a connection from %s: %s", host, reason)
            return _Refusal(status, reason)
        wrapper = super().buildProtocol(addr)
        channel = wrapper._channel
        channel.admission = admission
        channel.gate = self.gate
        channel.header_timeout = self.header_timeout
        channel.max_body_bytes = self.max_body_bytes
        return wrapper

    def protocol(self) -> _GenericHTTPChannelProtocol:  # type: ignore[override]
        # Twisted builds a plain HTTPChannel behind its HTTP/1.1-or-2 wrapper; ours instead.
        return _GenericHTTPChannelProtocol(_GuardedChannel())

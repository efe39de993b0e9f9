"""The connecting side: a service that keeps one bus connection to the server alive."""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from peek_platform.errors import VortexTransportError
from peek_platform.vortex.transport.backoff import Backoff
from peek_platform.vortex.transport.connection import (
    DEFAULT_LIMITS,
    CloseReason,
    NullHandler,
    TransportLimits,
    VortexConnection,
    VortexHandler,
)
from peek_platform.vortex.transport.hello import CloseCode, Hello, HelloError, Welcome
from peek_platform.vortex.transport.protocol import VortexProtocolMixin, protocol_options

logger = logging.getLogger(__name__)

#: A connection problem that persists is logged at WARNING again after this many seconds.
REPEAT_WARNING_SECONDS = 60.0


class VortexClientProtocol(VortexProtocolMixin, WebSocketClientProtocol):
    """One outgoing websocket: sends the hello, waits for the welcome, then carries frames."""

    factory: "_ClientFactory"
    #: Why the TLS handshake failed (a sentence for the log), if it did.
    tls_problem: Optional[str] = None

    def _vortex_limits(self) -> TransportLimits:
        return self.factory.service.limits

    def _vortex_handler(self) -> VortexHandler:
        return self.factory.service.handler

    def _vortex_clock(self) -> IReactorTime:
        return self.factory.service.clock

    def _on_open_socket(self) -> None:
        self.sendMessage(self.factory.hello.encode(), isBinary=True)

    def _on_first_frame(self, data: bytes) -> None:
        service = self.factory.service
        try:
            welcome = Welcome.decode(data)
        except HelloError as e:
            self.reject(e)
            return
        # Never send more than the server accepts.
        limits = dataclasses.replace(
            service.limits,
            max_frame_bytes=min(service.limits.max_frame_bytes, welcome.max_frame_bytes))
        conn = VortexConnection(self, welcome.name, welcome.uuid, self.factory.hello.name,
                                self.peer, limits)
        self._accepted(conn)
        service._connected(conn)

    def _log_reject(self, error: HelloError) -> None:
        """The service logs the failed attempt, once."""

    def _on_closed(self, reason: CloseReason) -> None:
        self.factory.service._lost(self, reason)

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802 - twisted API
        # A failed TLS handshake (wrong CA, wrong host name) ends here before any websocket
        # exists; autobahn's close reason would only say "dropped", so keep the TLS one.
        self.tls_problem = self.factory.service._describe_tls_failure(reason)
        if self.tls_problem is not None:
            # The service logs the problem once per attempt series; autobahn would log
            # the bare OpenSSL error at ERROR on every attempt.
            reason = Failure(ConnectionLost(self.tls_problem))
        super().connectionLost(reason)


class _ClientFactory(WebSocketClientFactory):
    protocol = VortexClientProtocol

    def __init__(self, service: "VortexClientService", hello: Hello) -> None:
        super().__init__(service.url, headers=service.headers)
        self.service = service
        self.hello = hello
        self.noisy = False
        self.setProtocolOptions(**protocol_options(service.limits))


class VortexClientService(Service):
    """Connects to a bus endpoint at start and stays connected.

    ``startService`` returns a Deferred that fires on the first accepted connection, so
    a SequencedMultiService starts the next child (the plugins) only once connected.
    While the server is unreachable or refuses the hello, attempts repeat after
    ``backoff.delay(n)`` seconds on ``clock`` (which also drives the hello timeout and
    the heartbeats; ``reactor`` makes the TCP connections). A lost connection calls the handler's
    ``on_close`` and reconnects the same way; every reconnect calls ``on_open`` with a
    new connection (new uuid). ``token`` is read before each attempt, so a token file the
    server creates later is picked up. If the service stops before the first connection,
    the start Deferred never fires (the process is shutting down anyway).

    A ``wss://`` url connects with TLS: ``tls`` is the Twisted client TLS creator to use
    (see :func:`peek_platform.tls.client_tls_options`; default: the system's trusted CAs and
    the url's host name), ``tls_label`` says what it trusts in log lines. The hello, and so
    the token, is sent only after the handshake verified the server's certificate. A
    ``ws://`` url with ``tls`` is refused: it would silently drop the verification.
    """

    def __init__(
        self,
        name: str,
        url: str,
        vortex_name: str,
        token: Callable[[], Optional[str]],
        limits: TransportLimits = DEFAULT_LIMITS,
        handler: Optional[VortexHandler] = None,
        backoff: Optional[Backoff] = None,
        clock: Optional[IReactorTime] = None,
        reactor: Any = None,
        connect_timeout: float = 10.0,
        tls: Any = None,
        tls_label: str = "the system's trusted CAs",
        headers: Optional[dict[str, str]] = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor
        self.name = name
        self.url = url
        self.vortex_name = vortex_name
        #: Extra upgrade request headers (an admin peer's session cookie and Origin).
        self.headers = headers
        self.limits = limits
        self.handler: VortexHandler = handler or NullHandler()
        self.backoff = backoff or Backoff()
        self.reactor = reactor
        self.clock: IReactorTime = clock or reactor
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"bus url must be ws:// or wss://host:port/path, got {url!r}")
        if parts.scheme == "ws" and tls is not None:
            raise ValueError(f"TLS options given for a plain ws:// url {url!r}; use wss://")
        self._host = parts.hostname
        self.secure = parts.scheme == "wss"
        self._port = parts.port or (443 if self.secure else 80)
        if self.secure and tls is None:
            from peek_platform.tls import client_tls_options

            tls = client_tls_options(self._host, None)
        self._tls = tls
        self._tls_label = tls_label
        self._connect_timeout = connect_timeout
        self._token = token
        self._conn: Optional[VortexConnection] = None
        self._protocol: Optional[VortexClientProtocol] = None
        self._attempting: Optional[Deferred[Any]] = None
        self._retry: Optional[IDelayedCall] = None
        self._failures = 0
        self._last_problem = ""
        self._last_warned = float("-inf")
        self._first: Optional[Deferred[None]] = None
        self._waiters: list[Deferred[VortexConnection]] = []

    @property
    def connection(self) -> Optional[VortexConnection]:
        """The current accepted connection, or None while (re)connecting."""
        return self._conn

    def when_connected(self) -> Deferred[VortexConnection]:
        """Fires with the current connection, or the next one once accepted."""
        if self._conn is not None:
            return succeed(self._conn)
        waiter: Deferred[VortexConnection] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().startService()
        logger.info("connecting to %s at %s as %s", self._peer_label(), self.url,
                    self.vortex_name)
        self._first = Deferred()
        self._attempt()
        return self._first

    def stopService(self) -> Deferred[Any]:  # noqa: N802 - twisted API
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self._attempting is not None:
            self._attempting.cancel()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(CancelledError("the bus client service stopped"))
        protocol = self._protocol
        if protocol is None:
            return succeed(None)
        closed = protocol.is_closed
        protocol.close_with(int(CloseCode.GOING_AWAY), f"{self.vortex_name} shutting down")
        return closed

    def _peer_label(self) -> str:
        return "peek-server"

    def _attempt(self) -> None:
        self._retry = None
        if not self.running:
            return
        try:
            token = self._token()
        except VortexTransportError as e:
            self._failed(str(e))
            return
        factory = _ClientFactory(self, Hello(self.vortex_name, token))
        endpoint: Any = HostnameEndpoint(self.reactor, self._host, self._port,
                                         timeout=self._connect_timeout)
        if self._tls is not None:
            endpoint = wrapClientTLS(self._tls, endpoint)
        self._attempting = endpoint.connect(factory)
        self._attempting.addCallbacks(self._tcp_connected, self._tcp_failed)

    def _tcp_connected(self, protocol: VortexClientProtocol) -> None:
        self._attempting = None
        self._protocol = protocol
        if not self.running:
            protocol.close_with(int(CloseCode.GOING_AWAY), "shutting down")

    def _tcp_failed(self, failure: Failure) -> None:
        self._attempting = None
        if failure.check(CancelledError) or not self.running:
            return
        self._failed(f"cannot reach {self.url}: {failure.getErrorMessage()}")

    def _connected(self, conn: VortexConnection) -> None:
        self._conn = conn
        self._failures = 0
        self._last_problem = ""
        logger.info("connected to %s at %s as %s (%s)", conn.name, self.url, conn.local_name,
                    conn.uuid)
        try:
            self.handler.on_open(conn)
        except Exception:
            logger.exception("bus handler failed on the opening of %s", conn)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(conn)
        first, self._first = self._first, None
        if first is not None:
            first.callback(None)

    def _lost(self, protocol: VortexClientProtocol, reason: CloseReason) -> None:
        if protocol is self._protocol:
            self._protocol = None
        conn, self._conn = self._conn, None
        if not self.running:
            if conn is not None:
                logger.info("disconnected from %s (%s): %s", conn.name, conn.uuid, reason)
            return
        if protocol.tls_problem is not None:
            self._failed(f"{self.url}: {protocol.tls_problem}")
        elif conn is not None:
            delay = self._schedule()
            logger.warning("lost the connection to %s (%s): %s; reconnecting in %.1fs",
                           conn.name, conn.uuid, reason, delay)
        else:
            self._failed(f"{self.url} did not accept the connection: {reason}")

    def _failed(self, problem: str) -> None:
        """An attempt failed before a connection was accepted: log it, retry later.

        A new problem is a WARNING; the same one again is repeated at WARNING once per
        ``REPEAT_WARNING_SECONDS`` (a missing token or a server that stays down must not go
        quiet in the log, nor fill it with a line per attempt) and at DEBUG in between.
        """
        delay = self._schedule()
        now = self.clock.seconds()
        repeat_due = now - self._last_warned >= REPEAT_WARNING_SECONDS
        if problem != self._last_problem or repeat_due:
            level = logging.WARNING
            self._last_warned = now
        else:
            level = logging.DEBUG
        logger.log(level, "%s; retrying in %.1fs", problem, delay)
        self._last_problem = problem

    def _describe_tls_failure(self, reason: Failure) -> Optional[str]:
        if not self.secure:
            return None
        from peek_platform.tls import describe_tls_failure

        return describe_tls_failure(reason, self._host, self._tls_label)

    def _schedule(self) -> float:
        delay = self.backoff.delay(self._failures)
        self._failures += 1
        self._retry = self.clock.callLater(delay, self._attempt)
        return delay

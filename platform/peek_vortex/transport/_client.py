"""The connecting side: Twisted's ClientService keeping one bus connection to the server alive.

How the parts fit: ``ClientService`` owns the retry loop (its ``retryPolicy`` is the
capped, jittered :class:`Backoff`). Each attempt goes through :class:`_AttemptEndpoint`,
which reads the token, opens TCP (and TLS for ``wss://``) with a fresh
:class:`_ClientFactory`, and hands ClientService a :class:`_Lifeline` for the socket;
``prepareConnection`` then awaits the welcome. The lifeline hears of the connection's
loss only once the welcome arrived, because ClientService has no transition for a
connection lost while it is still being prepared (it would raise ``NoTransition``):
a connection that ends before its welcome fails the preparation instead, which
ClientService counts as a failed attempt.
"""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.application.internet import ClientService
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IAddress, IProtocol, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from peek_vortex.errors import VortexHelloRefusedError, VortexTransportError
from peek_vortex.transport._backoff import Backoff
from peek_vortex.transport._link import DEFAULT_LIMITS, CloseReason, TransportLimits
from peek_vortex.transport._protocol import (
    NullHandler,
    VortexConnection,
    VortexHandler,
    VortexProtocolMixin,
    protocol_options,
)
from peek_vortex.transport._tls import describe_tls_failure, verifying_tls_options
from peek_vortex.wire._hello import CloseCode, Hello, Welcome

logger = logging.getLogger(__name__)

#: A connection problem that persists is logged at WARNING again after this many seconds.
REPEAT_WARNING_SECONDS = 60.0


class VortexClientProtocol(VortexProtocolMixin, WebSocketClientProtocol):
    """One outgoing websocket: sends the hello, waits for the welcome, then carries frames."""

    factory: "_ClientFactory"
    #: Why the TLS handshake failed (a sentence for the log), if it did.
    tls_problem: Optional[str] = None
    #: What ClientService tracks for this socket; told of the loss once welcomed.
    lifeline: Optional[IProtocol] = None

    def connectionMade(self) -> None:  # noqa: N802 - twisted API
        #: Fires with this protocol on the welcome; fails if the socket ends first.
        self.welcomed: Deferred[VortexClientProtocol] = Deferred(self._cancel_welcome)
        super().connectionMade()

    def _cancel_welcome(self, welcomed: Deferred[Any]) -> None:
        # The service stopped while this attempt waited for its welcome.
        self.close_with(int(CloseCode.GOING_AWAY), "shutting down")

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
        except VortexHelloRefusedError as e:
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
        if not self.welcomed.called:
            self.welcomed.callback(self)

    def _log_reject(self, error: VortexHelloRefusedError) -> None:
        """The service logs the failed attempt, once."""

    def _on_closed(self, reason: CloseReason) -> None:
        problem = self.factory.service._lost(self, reason)
        if not self.welcomed.called:
            self.welcomed.errback(ConnectionLost(problem))

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802 - twisted API
        # A failed TLS handshake (wrong CA, wrong host name) ends here before any websocket
        # exists; autobahn's close reason would only say "dropped", so keep the TLS one.
        self.tls_problem = self.factory.service._describe_tls_failure(reason)
        if self.tls_problem is not None:
            # The service logs the problem once per attempt series; autobahn would log
            # the bare OpenSSL error at ERROR on every attempt.
            reason = Failure(ConnectionLost(self.tls_problem))
        super().connectionLost(reason)
        lifeline, self.lifeline = self.lifeline, None
        if lifeline is not None:
            lifeline.connectionLost(reason)


class _Lifeline(Protocol):
    """ClientService's handle on one bus socket (it wraps this to learn of the loss).

    It is connected to the socket's transport, so ClientService's own shutdown of a live
    connection (``transport.loseConnection()``) reaches the socket; the socket's protocol
    relays its ``connectionLost`` here once the connection was welcomed.
    """

    def __init__(self, bus: VortexClientProtocol) -> None:
        self.bus = bus


class _LifelineFactory(Factory):
    """What ClientService builds protocols with: a lifeline for the socket just opened."""

    def __init__(self) -> None:
        self.opening: Optional[VortexClientProtocol] = None

    def buildProtocol(self, addr: IAddress) -> Optional[Protocol]:  # noqa: N802 - twisted API
        bus, self.opening = self.opening, None
        if bus is None:
            raise RuntimeError("a lifeline is built only for a socket the endpoint opened")
        return _Lifeline(bus)


@implementer(IStreamClientEndpoint)
class _AttemptEndpoint:
    """One connection attempt per ``connect``: token, TCP (+TLS), then a lifeline."""

    def __init__(self, service: "VortexClientService", socket_endpoint: Any) -> None:
        self._service = service
        self.socket_endpoint = socket_endpoint

    def __repr__(self) -> str:
        # ClientService names the endpoint in its "Scheduling retry" log line.
        return f"<bus websocket {self._service.url}>"

    def connect(self, factory: Any) -> Deferred[Any]:
        """Open a socket for the bus; fire with ClientService's protocol for it."""
        service = self._service
        try:
            token = service._token()
        except VortexTransportError as e:
            service._problem = str(e)
            return fail(e)
        attempt = _ClientFactory(service, Hello(service.vortex_name, token))
        opening: Deferred[Any] = self.socket_endpoint.connect(attempt)

        def opened(bus: VortexClientProtocol) -> Any:
            service._protocol = bus
            service._lifelines.opening = bus
            lifeline = factory.buildProtocol(bus.transport.getPeer())
            lifeline.makeConnection(bus.transport)
            return lifeline

        def failed(failure: Failure) -> Failure:
            if not failure.check(CancelledError):
                service._problem = f"cannot reach {service.url}: {failure.getErrorMessage()}"
            return failure

        return opening.addCallbacks(opened, failed)


class _ClientFactory(WebSocketClientFactory):
    protocol = VortexClientProtocol

    def __init__(self, service: "VortexClientService", hello: Hello) -> None:
        super().__init__(service.url, headers=service.headers)
        self.service = service
        self.hello = hello
        self.noisy = False
        self.setProtocolOptions(**protocol_options(service.limits))


class VortexClientService(ClientService):
    """Connects to a bus websocket at start and stays connected (Twisted's ClientService).

    ``startService`` returns a Deferred that fires on the first accepted connection, so
    a SequencedMultiService starts the next child (the plugins) only once connected.
    While the server is unreachable or refuses the hello, attempts repeat after
    ``backoff.delay(n)`` seconds (ClientService's ``retryPolicy``) on ``clock``, which
    also drives the hello timeout and the heartbeats; ``reactor`` makes the TCP
    connections. A connection counts as made once its welcome arrived
    (``prepareConnection``). A lost connection calls the handler's ``on_close`` and
    reconnects the same way; every reconnect calls ``on_open`` with a new connection (new
    uuid). ``token`` is read before each attempt, so a token file the server creates
    later is picked up. If the service stops before the first connection, the start
    Deferred never fires (the process is shutting down anyway).

    A ``wss://`` url connects with TLS: ``tls`` is the Twisted client TLS creator to use
    (see :func:`verifying_tls_options`; default: the system's trusted CAs and
    the url's host name), ``tls_label`` says what it trusts in log lines. The hello, and so
    the token, is sent only after the handshake verified the server's certificate. A
    ``ws://`` url with ``tls`` is refused: it would silently drop the verification.
    ``headers`` are extra upgrade request headers (an admin peer's session cookie, Origin).
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
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"bus url must be ws:// or wss://host:port/path, got {url!r}")
        if parts.scheme == "ws" and tls is not None:
            raise ValueError(f"TLS options given for a plain ws:// url {url!r}; use wss://")
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
        self._host = parts.hostname
        self.secure = parts.scheme == "wss"
        self._port = parts.port or (443 if self.secure else 80)
        if self.secure and tls is None:
            tls = verifying_tls_options(self._host, None)
        self._tls = tls
        self._tls_label = tls_label
        self._token = token
        self._conn: Optional[VortexConnection] = None
        #: The socket of the current attempt or connection (None between attempts).
        self._protocol: Optional[VortexClientProtocol] = None
        #: Consecutive failed attempts (ClientService's count, as its retry policy saw it).
        self._failures = 0
        #: Why the last attempt failed, for the retry log line.
        self._problem: Optional[str] = None
        #: The accepted connection that was just lost, and why, for the reconnect line.
        self._lost_conn: Optional[tuple[VortexConnection, CloseReason]] = None
        self._last_problem = ""
        self._last_warned = float("-inf")
        self._lifelines = _LifelineFactory()
        socket_endpoint: Any = HostnameEndpoint(reactor, self._host, self._port,
                                                timeout=connect_timeout)
        if tls is not None:
            socket_endpoint = wrapClientTLS(tls, socket_endpoint)
        #: Where each attempt connects (tests put an in-memory endpoint here).
        self._attempts = _AttemptEndpoint(self, socket_endpoint)
        super().__init__(self._attempts, self._lifelines,
                         retryPolicy=self._retry_delay, clock=self.clock,
                         prepareConnection=self._await_welcome)

    @property
    def connection(self) -> Optional[VortexConnection]:
        """The current accepted connection, or None while (re)connecting."""
        return self._conn

    def when_connected(self) -> Deferred[VortexConnection]:
        """Fires with the current connection, or the next one once accepted."""
        if self._conn is not None:
            return succeed(self._conn)
        return self.whenConnected().addCallback(lambda lifeline: lifeline.bus.conn)

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        logger.info("connecting to %s at %s as %s", self._peer_label(), self.url,
                    self.vortex_name)
        first: Deferred[None] = Deferred()

        def stopped_first(failure: Failure) -> None:
            failure.trap(CancelledError)  # stopped before connecting: never fires

        self.whenConnected().addCallbacks(lambda _: first.callback(None), stopped_first)
        super().startService()
        return first

    def stopService(self) -> Deferred[Any]:  # noqa: N802 - twisted API
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        # Not running from here on: a loss during the shutdown is not worth a warning.
        Service.stopService(self)
        protocol = self._protocol
        if protocol is not None and protocol.conn is not None:
            # Close with a code and reason first; ClientService would just drop the TCP.
            closed = protocol.is_closed
            protocol.close_with(int(CloseCode.GOING_AWAY), f"{self.vortex_name} shutting down")
            await closed
        await super().stopService()

    def _peer_label(self) -> str:
        return "peek-server"

    def _await_welcome(self, lifeline: Any) -> Deferred[Any]:
        """ClientService's ``prepareConnection``: the connection is made once welcomed."""
        bus: VortexClientProtocol = lifeline.bus
        welcomed = bus.welcomed

        def relay_loss(bus: VortexClientProtocol) -> VortexClientProtocol:
            # From now on ClientService hears of this socket's end (see the module doc).
            bus.lifeline = lifeline
            return bus

        return welcomed.addCallback(relay_loss)

    def _connected(self, conn: VortexConnection) -> None:
        self._conn = conn
        self._last_problem = ""
        logger.info("connected to %s at %s as %s (%s)", conn.name, self.url, conn.local_name,
                    conn.uuid)
        try:
            self.handler.on_open(conn)
        except Exception:
            logger.exception("bus handler failed on the opening of %s", conn)

    def _lost(self, protocol: VortexClientProtocol, reason: CloseReason) -> str:
        """The socket ended; returns why, in words, when it ended before its welcome."""
        if protocol is self._protocol:
            self._protocol = None
        conn, self._conn = protocol.conn, None
        if not self.running:
            if conn is not None:
                logger.info("disconnected from %s (%s): %s", conn.name, conn.uuid, reason)
            return "the bus client service stopped"
        if protocol.tls_problem is not None:
            self._problem = f"{self.url}: {protocol.tls_problem}"
        elif conn is not None:
            self._lost_conn = (conn, reason)
        else:
            self._problem = f"{self.url} did not accept the connection: {reason}"
        return self._problem or str(reason)

    def _retry_delay(self, failed_attempts: int) -> float:
        """ClientService's ``retryPolicy``: the backoff delay, and the line saying why."""
        delay = self.backoff.delay(failed_attempts - 1)
        self._failures = failed_attempts
        lost, self._lost_conn = self._lost_conn, None
        problem, self._problem = self._problem, None
        if not self.running:
            return delay
        if lost is not None:
            conn, reason = lost
            logger.warning("lost the connection to %s (%s): %s; reconnecting in %.1fs",
                           conn.name, conn.uuid, reason, delay)
        else:
            self._log_failure(problem or f"cannot connect to {self.url}", delay)
        return delay

    def _log_failure(self, problem: str, delay: float) -> None:
        """An attempt failed before a connection was accepted: log it.

        A new problem is a WARNING; the same one again is repeated at WARNING once per
        ``REPEAT_WARNING_SECONDS`` (a missing token or a server that stays down must not go
        quiet in the log, nor fill it with a line per attempt) and at DEBUG in between.
        """
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
        return describe_tls_failure(reason, self._host, self._tls_label)

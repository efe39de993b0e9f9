"""The accepting side: a websocket resource for a twisted.web site and its live connections."""

import logging
import uuid
from collections.abc import Callable
from typing import Any, Optional, Protocol

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.protocols.policies import ProtocolWrapper
from twisted.web.server import Request

from peek_vortex._log_throttle import LogThrottle
from peek_vortex.errors import VortexHelloRefusedError
from peek_vortex.transport._access import AccessPolicy
from peek_vortex.transport._link import DEFAULT_LIMITS, CloseReason, TransportLimits
from peek_vortex.transport._protocol import (
    NullHandler,
    VortexConnection,
    VortexHandler,
    VortexProtocolMixin,
    protocol_options,
)
from peek_vortex.transport._throttle import WrongTokenThrottle
from peek_vortex.wire._hello import CloseCode, Hello, Welcome

logger = logging.getLogger(__name__)


class Admission(Protocol):
    """A counted slot of an unauthenticated connection, held by the socket until its hello
    is accepted (the platform's connection gate hands one to each HTTP channel, as the
    channel's ``admission`` attribute)."""

    def release(self) -> None:
        """Free the slot (idempotent)."""


def take_admission(channel: Any) -> Optional[Admission]:
    """Take the admission of an HTTP channel whose socket the websocket takes over."""
    admission: Optional[Admission] = getattr(channel, "admission", None)
    if admission is not None:
        channel.admission = None
    return admission


class VortexServerProtocol(VortexProtocolMixin, WebSocketServerProtocol):
    """One accepted websocket: waits for a hello, checks it, then carries frames."""

    factory: "_ServerFactory"
    #: The unauthenticated-connection slot this socket holds until its hello is accepted.
    admission: Optional[Admission] = None

    def _vortex_limits(self) -> TransportLimits:
        return self.factory.vortex_server.limits

    def _vortex_handler(self) -> VortexHandler:
        return self.factory.vortex_server.handler

    def _vortex_clock(self) -> IReactorTime:
        return self.factory.vortex_server.clock

    def _peer_host(self) -> str:
        peer = self.transport.getPeer()
        return str(getattr(peer, "host", peer))

    def _on_first_frame(self, data: bytes) -> None:
        endpoint = self.factory.vortex_server
        host = self._peer_host()
        # A blocked address learns nothing about its token, right or wrong.
        blocked = endpoint.throttle.refusal(host)
        if blocked is not None:
            self.reject(blocked)
            return
        try:
            hello = Hello.decode(data)
            endpoint.policy.authorise(hello)
        except VortexHelloRefusedError as e:
            if e.close_code == CloseCode.UNAUTHORISED:
                block = endpoint.throttle.failed(host)
                if block:
                    logger.warning("refusing bus hellos from %s for %gs: %d wrong tokens",
                                   host, block, endpoint.throttle.failures(host))
            self.reject(e)
            return
        endpoint.throttle.succeeded(host)
        self._release_admission()
        conn = VortexConnection(self, hello.name, str(uuid.uuid4()), endpoint.local_name,
                                self.peer, endpoint.limits)
        self.sendMessage(Welcome(endpoint.local_name, conn.uuid,
                                 endpoint.limits.max_frame_bytes).encode(), isBinary=True)
        self._accepted(conn)
        endpoint._add(conn, self)
        logger.info("connection from %s (%s) at %s authenticated", conn.name, conn.uuid,
                    self.peer)
        try:
            endpoint.handler.on_open(conn)
        except Exception:
            logger.exception("bus handler failed on the opening of %s", conn)

    def _log_reject(self, error: VortexHelloRefusedError) -> None:
        # Refusals are what an attacker can cause at will: one line per address and code
        # and interval, then a count.
        host = self._peer_host()
        self.factory.vortex_server.refusal_log.log(
            (host, int(error.close_code)), f"bus connections from {host} refused with "
            f"{int(error.close_code)}", "bus connection from %s refused: %s %s", self.peer,
            int(error.close_code), error.reason)

    def _release_admission(self) -> None:
        admission, self.admission = self.admission, None
        if admission is not None:
            admission.release()

    def _on_closed(self, reason: CloseReason) -> None:
        self._release_admission()
        conn = self.conn
        if conn is None:
            if not self._rejected:
                logger.debug("bus connection %s ended before its hello: %s", self.peer, reason)
            return
        self.factory.vortex_server._remove(conn)
        self._log_close(f"{conn.name} ({conn.uuid}) disconnected", reason)


class _ServerFactory(WebSocketServerFactory):
    protocol = VortexServerProtocol

    def __init__(self, endpoint: "VortexServer") -> None:
        # server=None: the upgrade response names no software and version.
        super().__init__(server=None)
        # Not ``server``: autobahn sends that attribute as the Server header.
        self.vortex_server = endpoint
        self.noisy = False
        self.setProtocolOptions(**protocol_options(endpoint.limits), webStatus=False)


class VortexResource(WebSocketResource):
    """autobahn's resource, minus twisted.web's idle timeout on the socket it takes over,
    answering anything but a websocket upgrade with a plain 426.

    The socket's unauthenticated-connection slot (see ``peek_platform.web.guard``) moves
    from the HTTP channel to the websocket, which frees it once its hello is accepted.
    """

    def render(self, request: Request) -> Any:
        if b"websocket" not in (request.getHeader(b"upgrade") or b"").lower():
            # autobahn would answer a plain GET with a page naming its version.
            request.setResponseCode(426)
            request.setHeader(b"upgrade", b"websocket")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Upgrade Required: this is the bus websocket endpoint.\n"
        channel = request.channel
        channel.setTimeout(None)
        admission = take_admission(channel)
        transport = channel.transport
        result = super().render(request)
        # Behind TLS the socket's protocol is the TLS wrapper; autobahn put ours inside it.
        protocol = (transport.wrappedProtocol if isinstance(transport, ProtocolWrapper)
                    else getattr(transport, "protocol", None))
        if isinstance(protocol, ProtocolWrapper):
            protocol = protocol.wrappedProtocol
        if isinstance(protocol, VortexServerProtocol) and protocol.conn is None:
            protocol.admission = admission
        elif admission is not None:
            admission.release()
        return result


class VortexServer:
    """Accepts bus connections on one or more sites and tracks them by name and uuid.

    Mount ``resource()`` on a twisted.web site (``root.putChild(b"vortexws", ...)``);
    each mount shares this endpoint's policy, limits, handler and registry. Set
    ``handler`` to the router (a ``NullHandler`` drops frames until then).
    """

    def __init__(
        self,
        local_name: str,
        policy: AccessPolicy,
        limits: TransportLimits = DEFAULT_LIMITS,
        handler: Optional[VortexHandler] = None,
        clock: Optional[IReactorTime] = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.local_name = local_name
        self.policy = policy
        self.limits = limits
        self.handler: VortexHandler = handler or NullHandler()
        self.clock = clock
        self.throttle = WrongTokenThrottle(
            limits.wrong_token_attempts, limits.wrong_token_block_seconds,
            limits.wrong_token_max_block_seconds, clock)
        self.refusal_log = LogThrottle(logger, clock=clock)
        self._by_uuid: dict[str, VortexConnection] = {}
        self._by_name: dict[str, dict[str, VortexConnection]] = {}
        self._protocols: dict[str, VortexServerProtocol] = {}
        self._factory = _ServerFactory(self)

    def resource(self) -> WebSocketResource:
        """A twisted.web resource that upgrades requests to bus connections."""
        return VortexResource(self._factory)

    @property
    def factory(self) -> WebSocketServerFactory:
        """The websocket factory behind ``resource()`` (for resources that gate the upgrade)."""
        return self._factory

    def connections_named(self, name: str) -> list[VortexConnection]:
        """The live connections whose authenticated vortex name is ``name``."""
        return list(self._by_name.get(name, {}).values())

    def connection(self, conn_uuid: str) -> Optional[VortexConnection]:
        """The live connection with this uuid, if any."""
        return self._by_uuid.get(conn_uuid)

    @property
    def connections(self) -> list[VortexConnection]:
        """Every live, authenticated connection."""
        return list(self._by_uuid.values())

    def close_all(
        self, code: int = CloseCode.GOING_AWAY, reason: str = "shutting down"
    ) -> Deferred[Any]:
        """Close every connection; fires when all sockets are gone."""
        waits = []
        for conn in self.connections:
            protocol = self._protocols.get(conn.uuid)
            if protocol is not None:
                waits.append(protocol.is_closed)
            conn.close(int(code), reason)
        return DeferredList(waits, consumeErrors=True)

    def _add(self, conn: VortexConnection, protocol: VortexServerProtocol) -> None:
        self._by_uuid[conn.uuid] = conn
        self._by_name.setdefault(conn.name, {})[conn.uuid] = conn
        self._protocols[conn.uuid] = protocol

    def _remove(self, conn: VortexConnection) -> None:
        self._by_uuid.pop(conn.uuid, None)
        self._protocols.pop(conn.uuid, None)
        named = self._by_name.get(conn.name)
        if named is not None:
            named.pop(conn.uuid, None)
            if not named:
                del self._by_name[conn.name]


class VortexHubService(Service):
    """Owns a server websocket in a service tree; closes its connections at shutdown.

    ``prepare`` runs at start (the server creates its platform token there). Add it
    before the plugin host so that it stops after the plugins.
    """

    def __init__(
        self,
        name: str,
        endpoint: VortexServer,
        prepare: Optional[Callable[[], None]] = None,
    ) -> None:
        self.name = name
        self.server = endpoint
        self._prepare = prepare

    def startService(self) -> None:  # noqa: N802 - twisted API
        super().startService()
        if self._prepare is not None:
            self._prepare()

    def stopService(self) -> Deferred[Any]:  # noqa: N802 - twisted API
        super().stopService()
        return self.server.close_all()

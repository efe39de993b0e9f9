"""An in-memory bus: several routers, one per simulated service, linked without sockets.

Each :class:`MemoryNode` plays one process (``peek-server``, a ``peek-client``, a device,
...) with its own :class:`~peek_vortex.routing.PayloadRouter`, joined to its links by the
same :class:`~peek_vortex.transport.VortexBridge` the websocket transport uses. So sending
to a vortex name, to one connection, failing requests when a link goes, connection events
and malformed frames behave exactly as over websockets: the bridge does the routing, this
module only carries bytes. ``tests/vortex_conformance`` runs the same cases on both.

:meth:`MemoryVortex.link` joins two nodes as a websocket would: each side holds a
:class:`MemoryConnection` with the other side's vortex ``name`` and ``uuid`` (the node's:
a node's identity does not change between its links, unlike a websocket's per-connection
uuid). A node made with ``device=True`` plays a device on a client service's device
websocket: the nodes it links to hand its connections to the bridge's device side, so its
messages are a device's (see the device boundary in the router).

Delivery is synchronous but never re-entrant: a frame, a link or a close made while
another is being handled is queued and carried out, in order, once the current one
returns, so a test sees the same ordering a real reactor would give, deterministically and
without running one. Frames a node sent before it closed a link arrive before the close;
frames sent towards a node that already closed the link are lost, as on a socket.
"""

import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from peek_vortex.errors import VortexConnectionClosedError, VortexFrameTooLargeError
from peek_vortex.routing import PayloadRouter, routing_through
from peek_vortex.transport import CloseReason, TransportLimits, VortexBridge, VortexHandler
from peek_vortex.wire.constants import CloseCode

logger = logging.getLogger(__name__)

#: What a dropped link reports on both sides (a websocket lost without a close frame).
_LOST = CloseReason(int(CloseCode.ABNORMAL), "connection lost (MemoryVortex.unlink)")


class MemoryConnection:
    """One end of a link, as the node that holds it sees it: the peer and a byte pipe.

    It has the surface of a websocket :class:`~peek_vortex.transport.VortexConnection`
    that the bridge and handlers use: ``name``/``uuid`` (also as ``vortex_name``/
    ``vortex_uuid``), ``send``, ``close``, ``closed``, ``writable`` and ``limits``.
    """

    def __init__(
        self,
        bus: "MemoryVortex",
        local: "MemoryNode",
        remote: "MemoryNode",
        limits: TransportLimits,
    ) -> None:
        self.bus = bus
        self.local = local
        self.remote = remote
        #: The peer's vortex name and uuid: the router's view of who sent a frame.
        self.name = remote.name
        self.uuid = remote.uuid
        #: The remote node is a device: its frames are received as a device's.
        self.device = remote.device
        self.limits = limits
        #: The connection object the remote node holds for this link (set by MemoryVortex.link).
        self.reverse: Optional[MemoryConnection] = None
        # Sends refused from here on (this end closed, or heard the peer close).
        self._closed = False
        # The bridge has been told of the opening (on_open ran), of the close (on_close ran).
        self._opened = False
        self._ended = False

    @property
    def vortex_name(self) -> str:
        """The peer's vortex name (same as ``name``)."""
        return self.name

    @property
    def vortex_uuid(self) -> str:
        """The peer node's uuid (same as ``uuid``)."""
        return self.uuid

    @property
    def closed(self) -> bool:
        """True once the link is closing or gone; sends then raise."""
        return self._closed

    @property
    def open(self) -> bool:
        """True until the link is closing or gone."""
        return not self._closed

    def send(self, data: bytes) -> None:
        """Carry one frame to the remote node (now, or after the frame being handled).

        Raises VortexConnectionClosedError or VortexFrameTooLargeError, as a websocket
        connection does.
        """
        if self._closed:
            raise VortexConnectionClosedError(f"{self}: cannot send, the connection is closed")
        if len(data) > self.limits.max_frame_bytes:
            raise VortexFrameTooLargeError(
                f"{self}: frame of {len(data)} bytes exceeds the "
                f"{self.limits.max_frame_bytes} byte limit")
        receiver = self.reverse
        assert receiver is not None, "a MemoryConnection is used only once linked"
        self.bus._schedule(lambda: self.bus._deliver(receiver, data))

    def writable(self) -> "Deferred[None]":
        """Fires at once: frames never queue in memory (a websocket's may)."""
        if self._closed:
            raise VortexConnectionClosedError(f"{self}: the connection is closed")
        return succeed(None)

    def close(self, code: int = int(CloseCode.NORMAL), reason: str = "") -> None:
        """Close the link with a websocket close code (1000, 1001 or 3000-4999) and reason.

        Both sides are told (this side's close reason says it closed here) once the frame
        being handled, and frames sent before, have been delivered.
        """
        if code not in (1000, 1001) and not 3000 <= code <= 4999:
            raise ValueError(f"close code must be 1000, 1001 or 3000-4999, got {code}")
        if self._closed:
            return
        self._closed = True
        self.bus._schedule(lambda: self.bus._end(self, CloseReason(code, reason, by_us=True),
                                                 CloseReason(code, reason, by_us=False)))

    def __repr__(self) -> str:
        return f"MemoryConnection({self.local.name} -> {self.remote.name} {self.remote.uuid})"

    def __str__(self) -> str:
        return f"{self.name} ({self.uuid})"


class MemoryNode:
    """One simulated process: a vortex name, a uuid, a router, its bridge and its links."""

    def __init__(
        self,
        bus: "MemoryVortex",
        name: str,
        clock: Optional[IReactorTime] = None,
        device: bool = False,
    ) -> None:
        self.bus = bus
        self.name = name
        self.device = device
        self.uuid = str(uuid.uuid4())
        self.router = PayloadRouter(clock=clock)
        #: Joins the router to this node's links, as it joins a service's websockets.
        self.bridge = VortexBridge(self.router, name)
        self._links: list[MemoryConnection] = []

    @property
    def connections(self) -> list[MemoryConnection]:
        """This node's open connections, oldest first."""
        return [c for c in self._links if not c.closed]

    def connection_to(self, name: str) -> MemoryConnection:
        """This node's (first) open connection to a node called ``name``."""
        for connection in self._links:
            if connection.name == name and not connection.closed:
                return connection
        raise LookupError(f"{self!r} has no open connection to {name!r}")

    def handler_for(self, connection: MemoryConnection) -> VortexHandler:
        """The bridge's side a link's frames and events go to (a device's or a service's)."""
        return self.bridge.device_handler if connection.device else self.bridge

    def __repr__(self) -> str:
        return f"MemoryNode({self.name!r})"


class MemoryVortex:
    """Creates nodes, links them, and carries their frames, links and closes in order."""

    def __init__(self, clock: Optional[IReactorTime] = None,
                 limits: Optional[TransportLimits] = None) -> None:
        self.clock = clock
        #: Every link's limits (frame size), as the websocket transport's config sets them.
        self.limits = limits or TransportLimits()
        self.nodes: list[MemoryNode] = []
        self._queue: deque[Callable[[], None]] = deque()
        self._delivering = False

    def node(self, name: str, device: bool = False) -> MemoryNode:
        """A new simulated process called ``name`` (a device's when ``device``)."""
        node = MemoryNode(self, name, self.clock, device)
        self.nodes.append(node)
        return node

    def link(self, a: MemoryNode, b: MemoryNode) -> tuple[MemoryConnection, MemoryConnection]:
        """Connect ``a`` to ``b``; returns (a's connection to b, b's connection to a).

        As a websocket's hello does, the accepting side ``b`` is told first, then ``a``,
        so whatever ``a`` sends when told reaches a ``b`` that knows the connection.
        """
        if a is b:
            raise ValueError(f"{a!r} cannot link to itself")
        if any(c.remote is b for c in a.connections):
            # Both ends are known by their node's uuid: a second link would be ambiguous.
            raise ValueError(f"{a!r} and {b!r} are already linked; unlink them first")
        a_to_b = MemoryConnection(self, a, b, self.limits)
        b_to_a = MemoryConnection(self, b, a, self.limits)
        a_to_b.reverse, b_to_a.reverse = b_to_a, a_to_b
        a._links.append(a_to_b)
        b._links.append(b_to_a)
        self._schedule(lambda: self._open(b_to_a))
        self._schedule(lambda: self._open(a_to_b))
        return a_to_b, b_to_a

    def unlink(self, connection: MemoryConnection) -> None:
        """Drop a link as a lost websocket would (close code 1006 on both sides); both
        routers fail the requests waiting on it. Unlinking a closed link does nothing."""
        if connection.closed:
            return
        connection._closed = True
        self._schedule(lambda: self._end(connection, _LOST, _LOST))

    # ---- carrying out, one thing at a time

    def _schedule(self, work: Callable[[], None]) -> None:
        """Do ``work`` now, or after what is being done (never re-entrantly)."""
        self._queue.append(work)
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._queue:
                self._queue.popleft()()
        finally:
            self._delivering = False

    def _open(self, end: MemoryConnection) -> None:
        if end.closed:
            return  # closed before it was reported open: never open, as a refused hello
        end._opened = True
        with routing_through(end.local.router):
            self._tell(end, "opening", lambda h: h.on_open(end))

    def _deliver(self, receiver: MemoryConnection, data: bytes) -> None:
        if receiver.closed:
            logger.debug("%r: dropped a frame that arrived after the link closed", receiver)
            return
        # The receiving service's code (and what it starts) sees its own router as the
        # default one, as it would in its own process.
        with routing_through(receiver.local.router):
            self._tell(receiver, "frame", lambda h: h.on_frame(receiver, data))

    def _end(self, first: MemoryConnection, first_reason: CloseReason,
             second_reason: CloseReason) -> None:
        """Both ends of a link are gone: tell ``first``'s side, then the peer's."""
        second = first.reverse
        assert second is not None
        first._closed = second._closed = True
        for end, reason in ((first, first_reason), (second, second_reason)):
            if end._ended:
                continue
            end._ended = True
            end.local._links.remove(end)
            if not end._opened:
                continue  # the bridge never knew it
            with routing_through(end.local.router):
                self._tell(end, "close", lambda h: h.on_close(end, reason))  # noqa: B023

    @staticmethod
    def _tell(end: MemoryConnection, what: str, call: Callable[[VortexHandler], None]) -> None:
        try:
            call(end.local.handler_for(end))
        except Exception:
            # As the websocket transport does: log it, keep the link and the others going.
            logger.exception("%r: the bus handler failed on the %s of %r", end.local, what, end)

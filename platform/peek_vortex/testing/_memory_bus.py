"""An in-memory bus: several routers, one per simulated service, linked without sockets.

Each :class:`MemoryNode` plays one process (``peek-server``, a ``peek-client``, a device,
...) with its own :class:`PayloadRouter`. :meth:`MemoryVortex.link` joins two nodes as a
websocket would: each side sees a :class:`MemoryConnection` carrying the other side's vortex
name and uuid. Sending to a vortex name reaches every linked connection of that name. A
node made with ``device=True`` plays a device on a client service's device websocket: the
nodes it links to receive its messages as a device's, exactly as the platform's bridge
marks a device hub's connections (see the device boundary in the router).

Delivery is synchronous but never re-entrant: a message sent while another is being handled
is queued and delivered, in order, once the current one returns, so a test sees the same
ordering a real reactor would give, deterministically and without running one. Links and
unlinks are reported to the routers' ``connection_events`` like a real transport's hello
and close.
"""

import logging
import uuid
from collections import deque
from typing import Optional, Union

from twisted.internet.interfaces import IReactorTime

from peek_vortex.routing._router import PayloadRouter, routing_through

logger = logging.getLogger(__name__)


class MemoryConnection:
    """One end of a link, as seen by the node that holds it: the peer's identity."""

    def __init__(self, bus: "MemoryVortex", local: "MemoryNode", remote: "MemoryNode") -> None:
        self.bus = bus
        self.local = local
        self.remote = remote
        self.vortex_name = remote.name
        self.vortex_uuid = remote.uuid
        #: The remote node is a device: its messages are received as a device's.
        self.device = remote.device
        self.open = True
        #: The connection object the remote node holds for this link (set by MemoryVortex.link).
        self.reverse: Optional[MemoryConnection] = None

    def send(self, data: bytes) -> None:
        """Queue ``data`` for delivery to the remote node."""
        if not self.open or self.reverse is None:
            return
        self.bus.enqueue(self.remote, data, self.reverse)

    def __repr__(self) -> str:
        return f"MemoryConnection({self.local.name} -> {self.remote.name} {self.remote.uuid})"


class MemoryNode:
    """One simulated process: a vortex name, a uuid, a router and its links."""

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
        self.connections: list[MemoryConnection] = []
        self.router = PayloadRouter(
            send=self._send,
            clock=clock,
            local_vortex_names=(name,),
        )

    def _send(self, destination: Union[str, MemoryConnection], data: bytes) -> None:
        if isinstance(destination, str):
            for connection in list(self.connections):
                if connection.vortex_name == destination:
                    connection.send(data)
        else:
            destination.send(data)

    def connection_to(self, name: str) -> MemoryConnection:
        """This node's (first) open connection to a node called ``name``."""
        return next(c for c in self.connections if c.vortex_name == name and c.open)

    def __repr__(self) -> str:
        return f"MemoryNode({self.name!r})"


class MemoryVortex:
    """Creates nodes, links them, and delivers their messages in order."""

    def __init__(self, clock: Optional[IReactorTime] = None) -> None:
        self.clock = clock
        self.nodes: list[MemoryNode] = []
        self._queue: deque[tuple[MemoryNode, bytes, MemoryConnection]] = deque()
        self._delivering = False

    def node(self, name: str, device: bool = False) -> MemoryNode:
        """A new simulated process called ``name`` (a device's when ``device``)."""
        node = MemoryNode(self, name, self.clock, device)
        self.nodes.append(node)
        return node

    def link(self, a: MemoryNode, b: MemoryNode) -> tuple[MemoryConnection, MemoryConnection]:
        """Connect two nodes; returns (a's connection to b, b's connection to a)."""
        a_to_b = MemoryConnection(self, a, b)
        b_to_a = MemoryConnection(self, b, a)
        a_to_b.reverse, b_to_a.reverse = b_to_a, a_to_b
        a.connections.append(a_to_b)
        b.connections.append(b_to_a)
        with routing_through(a.router):
            a.router.connection_events.connection_opened(a_to_b)
        with routing_through(b.router):
            b.router.connection_events.connection_opened(b_to_a)
        return a_to_b, b_to_a

    def unlink(self, connection: MemoryConnection) -> None:
        """Drop a link as a lost websocket would; both routers fail requests in flight."""
        for end in (connection, connection.reverse):
            if end is None or not end.open:
                continue
            end.open = False
            end.local.connections.remove(end)
            end.local.router.fail_pending(end)
            if not any(c.vortex_name == end.vortex_name for c in end.local.connections):
                end.local.router.fail_pending(end.vortex_name)
            with routing_through(end.local.router):
                end.local.router.connection_events.connection_closed(end)

    def enqueue(self, node: MemoryNode, data: bytes, sender: MemoryConnection) -> None:
        """Deliver now, or after the message currently being handled."""
        self._queue.append((node, data, sender))
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._queue:
                target, message, via = self._queue.popleft()
                try:
                    # The receiving service's code (and what it starts) sees its own router
                    # as the default one, as it would in its own process.
                    with routing_through(target.router):
                        if via.device:
                            target.router.receive(message, via, device=True)
                        else:
                            target.router.receive(message, via)
                except Exception:
                    # As a real transport would: log the bad frame, keep the others flowing.
                    logger.exception("%r could not handle a message from %r", target, via)
        finally:
            self._delivering = False

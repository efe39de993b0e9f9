"""Connection open/close notices from the transport to bus handlers (observers, proxies).

Routing ignores connections coming and going, but observables must not: a server drops
the subscriptions of a connection that closed, a client resubscribes when its connection
to the server comes back. Each router carries one :class:`ConnectionEvents`, and the
layer that owns the connections (the websocket transport, or a test's in-memory bus)
reports them to it::

    events = router.connection_events
    events.connection_opened(connection)    # after the hello: identity is known
    events.connection_closed(connection)    # once, when it is gone for good

``connection`` is the same object the transport passes to ``router.receive`` (anything
with ``vortex_name`` and ``vortex_uuid``). Handlers subscribe with
:meth:`ConnectionEvents.add_listener`; a listener has ``on_connection_open(connection)``
and ``on_connection_lost(connection)`` methods. Listeners run in the order they were
added, on the reactor thread; one failing listener is logged and the others still run.
"""

import logging
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)


class VortexSender(Protocol):
    """What the router needs from a connection object: its authenticated identity."""

    vortex_name: str
    vortex_uuid: str


class ConnectionListener(Protocol):
    """What a handler implements to hear about connections of its router."""

    def on_connection_open(self, connection: VortexSender) -> None:
        """A connection finished its hello; its name and uuid are authenticated."""

    def on_connection_lost(self, connection: VortexSender) -> None:
        """A connection closed (for whatever reason); it will not be used again."""


class ConnectionEvents:
    """The open connections of one router and the listeners told about changes (each
    router has one, ``router.connection_events``)."""

    def __init__(self) -> None:
        self._listeners: list[ConnectionListener] = []
        self._open: dict[int, VortexSender] = {}
        # (name, uuid) -> how many open connections have it: O(1) source checks per message.
        self._identities: dict[tuple[str, str], int] = {}

    # ---- for handlers

    def add_listener(self, listener: ConnectionListener) -> Callable[[], None]:
        """Start telling ``listener`` about connections; returns the undo callable."""
        self._listeners.append(listener)
        return lambda: self.remove_listener(listener)

    def remove_listener(self, listener: ConnectionListener) -> None:
        """Stop telling ``listener``; unknown listeners are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def is_connected(self, vortex_name: str) -> bool:
        """True while at least one connection of ``vortex_name`` is open."""
        return any(c.vortex_name == vortex_name for c in self._open.values())

    def is_uuid_connected(self, vortex_uuid: str) -> bool:
        """True while at least one connection with ``vortex_uuid`` is open."""
        return any(c.vortex_uuid == vortex_uuid for c in self._open.values())

    def is_open(self, vortex_name: str, vortex_uuid: str) -> bool:
        """True while a connection of ``vortex_name`` with ``vortex_uuid`` is open."""
        return (vortex_name, vortex_uuid) in self._identities

    @property
    def open_connections(self) -> list[VortexSender]:
        """The connections currently open, oldest first."""
        return list(self._open.values())

    # ---- for the transport

    def connection_opened(self, connection: VortexSender) -> None:
        """Report a connection ready for traffic (call once per connection)."""
        self._open[id(connection)] = connection
        identity = (connection.vortex_name, connection.vortex_uuid)
        self._identities[identity] = self._identities.get(identity, 0) + 1
        for listener in list(self._listeners):
            self._call(listener.on_connection_open, connection)

    def connection_closed(self, connection: VortexSender) -> None:
        """Report a connection gone; reports for unknown connections are ignored."""
        if self._open.pop(id(connection), None) is None:
            return
        identity = (connection.vortex_name, connection.vortex_uuid)
        left = self._identities.get(identity, 1) - 1
        if left > 0:
            self._identities[identity] = left
        else:
            self._identities.pop(identity, None)
        for listener in list(self._listeners):
            self._call(listener.on_connection_lost, connection)

    @staticmethod
    def _call(method: Callable[[VortexSender], None], connection: VortexSender) -> None:
        try:
            method(connection)
        except Exception:
            logger.exception("Connection listener %r failed for %r", method, connection)

"""Joins a process's payload router to its transport connections.

The bridge is the ``VortexHandler`` of every transport in the process (the server's hub,
or the upstream connection of a client, agent or worker plus a client service's device
hub) and the router's ``send`` callable:

- a received frame goes to ``router.receive`` with the connection as the sender, so
  handlers see the peer's authenticated vortex name and the connection's uuid (or the
  originator a service connection forwarded for); frames from a device hub's
  connections are marked as a device's, which the router keeps inside this process
  (see the device boundary in :mod:`peek_vortex.routing._router`);
- sending to a vortex name reaches every open connection of that name; sending to a
  connection reaches that connection;
- a lost connection fails the requests waiting on it (and on its name, when it was the
  last connection of that name), then reports it to ``router.connection_events``, which
  is how observers resubscribe and subscriptions of vanished peers are dropped.

A frame whose routing header cannot be read closes only that connection, with close code
4422 and the reason, logged once; every other connection carries on.
"""

import logging
from collections.abc import Callable
from typing import Any, Optional, Union

from peek_vortex._log_throttle import LogThrottle
from peek_vortex.errors import (
    ConnectionLostError,
    NoTransportError,
    VortexError,
    VortexTransportError,
)
from peek_vortex.routing._router import PayloadEndpoint, PayloadRouter
from peek_vortex.transport._link import CloseReason
from peek_vortex.transport._protocol import VortexConnection
from peek_vortex.wire._codec import PayloadEnvelope
from peek_vortex.wire.constants import HEARTBEAT_KEY, CloseCode

logger = logging.getLogger(__name__)

#: Close code for a frame whose routing header is not a valid bus message.
CLOSE_MALFORMED_MESSAGE = CloseCode.MALFORMED_MESSAGE

#: A slow peer refuses every message until it drains or is closed (4507): count, not flood.
_send_failures = LogThrottle(logger)

#: ``(event, kind, name, uuid)``: "connected"/"disconnected", "service"/"device", the
#: peer's vortex name and the connection's uuid.
ConnectionReporter = Callable[[str, str, str, str], None]


class VortexBridge:
    """The router's transport: routes frames in, resolves destinations out."""

    def __init__(
        self,
        router: PayloadRouter,
        local_name: str,
        on_connection: Optional[ConnectionReporter] = None,
    ) -> None:
        self.router = router
        #: Told of every connection opening and closing (the platform's event sources).
        self._on_connection = on_connection
        self.local_name = local_name
        self._by_name: dict[str, dict[str, VortexConnection]] = {}
        #: The handler to give a device hub: its connections' frames are a device's.
        self.device_handler = DeviceSide(self)
        router.set_send(self.send)
        router.set_local_vortex_names((local_name,))

    def connections_named(self, name: str) -> list[VortexConnection]:
        """Open connections whose peer is ``name``."""
        return list(self._by_name.get(name, {}).values())

    # ---- VortexHandler

    def on_open(self, conn: VortexConnection, device: bool = False) -> None:
        self._by_name.setdefault(conn.name, {})[conn.uuid] = conn
        self.router.connection_events.connection_opened(conn)
        if self._on_connection is not None:
            self._on_connection("connected", "device" if device else "service", conn.name,
                                conn.uuid)

    def on_frame(self, conn: VortexConnection, data: bytes, device: bool = False) -> None:
        try:
            self.router.receive(data, conn, device)
        except VortexError as e:
            logger.warning("Closing %s: it sent a message that is not valid: %s", conn, e)
            conn.close(int(CLOSE_MALFORMED_MESSAGE), f"malformed message: {e}")

    def on_close(
        self, conn: VortexConnection, reason: CloseReason, device: bool = False
    ) -> None:
        named = self._by_name.get(conn.name, {})
        named.pop(conn.uuid, None)
        why = f"connection to {conn} lost: {reason}"
        self.router.fail_pending(conn, why)
        if not named:
            self._by_name.pop(conn.name, None)
            self.router.fail_pending(conn.name, why)
        self.router.connection_events.connection_closed(conn)
        if self._on_connection is not None:
            self._on_connection("disconnected", "device" if device else "service", conn.name,
                                conn.uuid)

    # ---- the router's send callable

    def send(self, destination: Union[str, VortexConnection], data: bytes) -> None:
        """Send to every connection of a vortex name, or to one connection."""
        if not isinstance(destination, str):
            if destination.closed:
                raise ConnectionLostError(f"connection {destination} is closed")
            destination.send(data)
            return
        named = self._by_name.get(destination)
        if not named:
            raise NoTransportError(f"no connection to vortex {destination!r}")
        if len(named) == 1:
            next(iter(named.values())).send(data)
            return
        for conn in list(named.values()):
            # One slow or closing peer must not stop the others from getting the message.
            try:
                conn.send(data)
            except VortexTransportError as e:
                _send_failures.log(conn.uuid, f"Could not send to {conn}",
                                   "Could not send to %s: %s", conn, e)


class DeviceSide:
    """A bridge as a device hub's handler: the same bridge, every frame a device's."""

    def __init__(self, bridge: VortexBridge) -> None:
        self._bridge = bridge

    def on_open(self, conn: VortexConnection) -> None:
        self._bridge.on_open(conn, device=True)

    def on_frame(self, conn: VortexConnection, data: bytes) -> None:
        self._bridge.on_frame(conn, data, device=True)

    def on_close(self, conn: VortexConnection, reason: CloseReason) -> None:
        self._bridge.on_close(conn, reason, device=True)


def answer_heartbeats(router: PayloadRouter) -> None:
    """Answer heartbeat requests on ``router`` with an empty reply (once per router: not
    again while an endpoint of the router answers them).

    A browser's bus client sends one when its connection has been idle; the answer tells
    it the link and this process are alive, so a dead link is noticed and reconnected.
    """
    if router.endpoints_for({"key": HEARTBEAT_KEY}):
        return

    def answer(sendResponse: Any, **_: Any) -> None:
        sendResponse(PayloadEnvelope())

    PayloadEndpoint({"key": HEARTBEAT_KEY}, answer, router=router)

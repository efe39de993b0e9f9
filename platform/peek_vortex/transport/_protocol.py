"""One bus websocket: the connection the layer above sees (``VortexConnection``, the
``VortexHandler`` it implements) and the behaviour both ends' protocols share (hello gate,
frame limits, close reasons), in one module so neither needs the other's."""

import logging
from collections import deque
from typing import Any, Optional, Protocol

import txaio
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from zope.interface import implementer

from peek_vortex.errors import (
    VortexBackPressureError,
    VortexConnectionClosedError,
    VortexFrameTooLargeError,
    VortexHelloRefusedError,
)
from peek_vortex.transport._fastpath import FastPathMixin
from peek_vortex.transport._link import (
    CloseReason,
    FrameRoute,
    LinkState,
    TransportLimits,
    close_reason,
)
from peek_vortex.wire._hello import HELLO_MAX_BYTES, CloseCode

logger = logging.getLogger(__name__)

# The protocol classes log through txaio; the bridge may import this module before any
# autobahn Twisted module has chosen txaio's framework.
txaio.use_twisted()

#: Websocket close reasons are limited to 123 UTF-8 bytes.
_REASON_MAX_BYTES = 123

def truncate_reason(reason: str) -> str:
    """A close reason cut to what a websocket close frame can carry."""
    data = reason.encode("utf-8")[:_REASON_MAX_BYTES]
    return data.decode("utf-8", "ignore")


def protocol_options(limits: TransportLimits) -> dict[str, Any]:
    """autobahn factory options for these limits (sizes, timeouts, clean failures).

    Heartbeats are ours, not autobahn's auto-ping: its timers are quantised to whole
    seconds, which makes sub-second intervals fire early and tests flaky.
    """
    return {
        "maxFramePayloadSize": limits.max_frame_bytes,
        "maxMessagePayloadSize": limits.max_frame_bytes,
        "openHandshakeTimeout": limits.hello_timeout_seconds,
        "closeHandshakeTimeout": 1,
        # Send a close frame with the reason rather than dropping TCP silently.
        "failByDrop": False,
        # Bus frames are compressed (or not) by the codec above; never twice.
        "perMessageCompressionAccept": lambda offers: None,
    }


class VortexHandler(Protocol):
    """What the layer above (the router) implements; all calls run on the reactor thread.

    ``on_open`` runs once per connection after its hello is accepted (on the connecting
    side: after each successful (re)connect, so this is where to resubscribe and
    re-register); ``on_frame`` for every application frame, in arrival order;
    ``on_close`` once when an opened connection ends (fail calls in flight here).
    Exceptions raised by these methods are logged and do not close the connection.
    """

    def on_open(self, conn: "VortexConnection") -> None: ...

    def on_frame(self, conn: "VortexConnection", data: bytes) -> None: ...

    def on_close(self, conn: "VortexConnection", reason: CloseReason) -> None: ...


class NullHandler:
    """Drops frames; stands in until the router is attached."""

    def on_open(self, conn: "VortexConnection") -> None:
        pass

    def on_frame(self, conn: "VortexConnection", data: bytes) -> None:
        logger.debug("no bus handler yet; dropped a %d byte frame from %s", len(data), conn)

    def on_close(self, conn: "VortexConnection", reason: CloseReason) -> None:
        pass


@implementer(IPushProducer)
class VortexConnection:
    """One authenticated peer: its vortex ``name``, connection ``uuid``, and a byte pipe.

    ``send(data)`` writes one binary frame at once while the socket keeps up. When the
    kernel and Twisted buffers are full, the transport pauses this connection (it is the
    transport's push producer) and frames queue here, in order, up to
    ``limits.max_queued_bytes``. A send that would exceed that raises VortexBackPressureError
    and queues nothing: the sender waits for ``writable()`` (a Deferred that fires once the
    queue has drained to half the limit) and sends again. Sends never block or hop threads.

    A peer that reads too slowly must not be starved silently: once a send has been
    refused, the queue has ``limits.slow_consumer_seconds`` to drain to half its limit;
    if it does not, the connection is closed with ``CloseCode.SLOW_CONSUMER`` (4507), so
    the peer reconnects and resubscribes (getting current data) instead of missing updates.
    """

    def __init__(
        self,
        protocol: "VortexProtocolMixin",
        name: str,
        uuid: str,
        local_name: str,
        peer: str,
        limits: TransportLimits,
    ) -> None:
        self.name = name
        self.uuid = uuid
        self.local_name = local_name
        self.peer = peer
        self.limits = limits
        self._protocol = protocol
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._paused = False
        self._closed = False
        self._writable_waiters: list[Deferred[None]] = []
        self._full_timer: Optional[IDelayedCall] = None
        self._slow_closed = False

    def __repr__(self) -> str:
        return f"<VortexConnection {self.name} {self.uuid} {self.peer}>"

    # The router identifies senders by these two names (its VortexSender protocol).
    @property
    def vortex_name(self) -> str:
        """The peer's authenticated vortex name (same as ``name``)."""
        return self.name

    @property
    def vortex_uuid(self) -> str:
        """This connection's uuid (same as ``uuid``)."""
        return self.uuid

    def __str__(self) -> str:
        return f"{self.name} ({self.uuid})"

    @property
    def closed(self) -> bool:
        """True once the connection has ended; sends then raise VortexConnectionClosedError."""
        return self._closed

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting in this connection's outbound queue."""
        return self._queued

    def send(self, data: bytes) -> None:
        """Send one frame now or queue it.

        Raises VortexBackPressureError (queue full, nothing queued), VortexFrameTooLargeError
        or VortexConnectionClosedError.
        """
        if self._closed:
            raise VortexConnectionClosedError(f"{self}: cannot send, the connection is closed")
        size = len(data)
        if size > self.limits.max_frame_bytes:
            raise VortexFrameTooLargeError(
                f"{self}: frame of {size} bytes exceeds the {self.limits.max_frame_bytes}"
                " byte limit")
        if self._paused or self._queue:
            if self._queued + size > self.limits.max_queued_bytes:
                self._queue_full()
                raise VortexBackPressureError(str(self), self._queued, self.limits.max_queued_bytes)
            self._queue.append(data)
            self._queued += size
            return
        self._protocol.send_binary(data)

    def writable(self) -> Deferred[None]:
        """Fires when the outbound queue is at or below half its limit (now, if it is)."""
        if self._closed:
            raise VortexConnectionClosedError(f"{self}: the connection is closed")
        if self._queued <= self.limits.max_queued_bytes // 2:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._writable_waiters.append(waiter)
        return waiter

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a websocket close code (1000, 1001 or 3000-4999) and a reason text.

        The reason is cut to the 123 bytes a close frame can carry.
        """
        if code not in (1000, 1001) and not 3000 <= code <= 4999:
            raise ValueError(f"close code must be 1000, 1001 or 3000-4999, got {code}")
        if not self._closed:
            self._protocol.close_with(code, reason)

    # IPushProducer, driven by the TCP transport's write buffer.
    def pauseProducing(self) -> None:  # noqa: N802 - twisted API
        self._paused = True

    def resumeProducing(self) -> None:  # noqa: N802 - twisted API
        self._paused = False
        while self._queue and not self._paused and not self._closed:
            data = self._queue.popleft()
            self._queued -= len(data)
            self._protocol.send_binary(data)
        if self._queued <= self.limits.max_queued_bytes // 2:
            self._cancel_full_timer()
            waiters, self._writable_waiters = self._writable_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    def stopProducing(self) -> None:  # noqa: N802 - twisted API
        self._paused = True

    def _queue_full(self) -> None:
        """A send was refused: the queue now has a bounded time to drain."""
        if self._full_timer is not None or self._slow_closed:
            return
        seconds = self.limits.slow_consumer_seconds
        logger.debug("%s: send queue full (%d bytes); closing it unless it drains within %gs",
                     self, self._queued, seconds)
        self._full_timer = self._protocol._vortex_clock().callLater(
            seconds, self._slow_consumer, seconds)

    def _slow_consumer(self, seconds: float) -> None:
        self._full_timer = None
        if self._closed:
            return
        self._slow_closed = True
        self.close(int(CloseCode.SLOW_CONSUMER),
                   f"send queue stayed full for {seconds:g}s: reconnect and resubscribe")

    def _cancel_full_timer(self) -> None:
        timer, self._full_timer = self._full_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _mark_closed(self) -> None:
        """Called by the protocol when the socket is gone; fails anyone waiting to write."""
        if self._closed:
            return
        self._cancel_full_timer()
        self._closed = True
        self._queue.clear()
        self._queued = 0
        waiters, self._writable_waiters = self._writable_waiters, []
        for waiter in waiters:
            waiter.errback(VortexConnectionClosedError(f"{self}: closed while waiting to write"))


class VortexProtocolMixin(FastPathMixin):
    """Mixed into autobahn's server and client protocols (placed first in the bases).

    A thin adapter: the hello gate, heartbeat and close-reason logic is the plain state
    machine :class:`~peek_vortex.transport._link.LinkState`, which this feeds
    with what autobahn reports and which asks this to ping, refuse or drop (its
    :class:`~peek_vortex.transport._link.LinkActions`). Until the hello exchange
    completes, frames are capped at HELLO_MAX_BYTES and the first one is handed to
    ``_on_first_frame``; afterwards frames go to the handler. Each connection's end is
    logged once, by ``_log_close``. The write fast path (private Twisted/autobahn
    internals) comes from :class:`FastPathMixin`, behind its one switch.
    """

    # autobahn's own per-connection warnings would log every failure a second time.
    log = txaio.make_logger(level="error")

    conn: Optional[VortexConnection] = None
    _link: LinkState
    #: The handler frames go to, read once when the hello is accepted (set the endpoint's
    #: or service's handler before connections open).
    _frame_handler: VortexHandler

    # Provided by the concrete protocol.
    def _vortex_limits(self) -> TransportLimits:
        raise NotImplementedError

    def _vortex_handler(self) -> VortexHandler:
        raise NotImplementedError

    def _vortex_clock(self) -> IReactorTime:
        raise NotImplementedError

    def _on_first_frame(self, data: bytes) -> None:
        raise NotImplementedError

    def _on_closed(self, reason: CloseReason) -> None:
        raise NotImplementedError

    def connectionMade(self) -> None:  # noqa: N802 - twisted API
        self._link = LinkState(self._vortex_clock(), self._vortex_limits(), self)
        super().connectionMade()  # type: ignore[misc]

    @property
    def _rejected(self) -> bool:
        return self._link.refused

    def onOpen(self) -> None:  # noqa: N802 - autobahn API
        self.maxFramePayloadSize = HELLO_MAX_BYTES
        self.maxMessagePayloadSize = HELLO_MAX_BYTES
        self._link.opened()
        self._on_open_socket()

    def _on_open_socket(self) -> None:
        """Hook: the websocket handshake is done; the hello exchange starts."""

    def reject(self, error: VortexHelloRefusedError) -> None:
        """Refuse the hello exchange: log once, close with the error's code and reason."""
        self._link.reject(error)

    # LinkActions: what the state machine asks of this adapter.
    def refuse(self, error: VortexHelloRefusedError) -> None:
        """Log the refusal once and close with the error's code and reason."""
        self._log_reject(error)
        self.close_with(int(error.close_code), error.reason)

    def send_ping(self) -> None:
        """Send a websocket ping."""
        self.sendPing()

    def peer_dead(self) -> None:
        """No answer to a ping: autobahn's own dead-peer path records why and aborts TCP."""
        self.onAutoPingTimeout()

    def _log_reject(self, error: VortexHelloRefusedError) -> None:
        logger.warning("bus connection from %s refused: %s %s", self.peer, int(error.close_code),
                       error.reason)

    def _accepted(self, conn: VortexConnection) -> None:
        """The hello exchange succeeded: lift the frame cap, become the transport's producer."""
        limits = conn.limits
        self.maxFramePayloadSize = limits.max_frame_bytes
        self.maxMessagePayloadSize = limits.max_frame_bytes
        self.conn = conn
        self._frame_handler = self._vortex_handler()
        self._link.accepted()
        # A twisted.web channel that handed us its socket may still be its producer.
        if getattr(self.transport, "producer", None) is not None:
            self.transport.unregisterProducer()
        self.transport.registerProducer(conn, True)
        self._install_batching_writer()
        self._enable_frame_reader()

    def _dataReceived(self, data: bytes) -> None:  # noqa: N802 - autobahn API
        # Any bytes prove the peer alive: a big frame arriving slowly holds its pong back.
        # (LinkState.received, inlined: this runs on every read.)
        self._link.heard += 1
        super()._dataReceived(data)

    def onPong(self, payload: bytes) -> None:  # noqa: N802 - autobahn API
        self._link.pong()

    def close_with(self, code: int, reason: str) -> None:
        """Start the closing handshake with ``code`` and ``reason`` (idempotent)."""
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            return
        if self.state != self.STATE_OPEN:
            # Still in the HTTP upgrade: there is no websocket to send a close frame on.
            self.wasClean = False
            self.wasNotCleanReason = reason
            self.dropConnection(abort=True)
            return
        # sendClose refuses 1001 (going away), which a shutting-down endpoint should send.
        self.sendCloseFrame(code=code, reasonUtf8=truncate_reason(reason).encode("utf-8"),
                            isReply=False)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
        conn = self.conn
        if conn is None or not self._link.open or not isBinary:
            if self._link.route(isBinary) is FrameRoute.FIRST:
                self._on_first_frame(payload)
            return
        try:
            self._frame_handler.on_frame(conn, payload)
        except Exception:
            logger.exception("bus handler failed on a frame from %s", conn)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:  # noqa: N802, N803
        self._link.closed()
        close = self._close_reason()
        conn = self.conn
        if conn is not None:
            conn._mark_closed()
        self._on_closed(close)
        if conn is not None:
            try:
                self._vortex_handler().on_close(conn, close)
            except Exception:
                logger.exception("bus handler failed on the close of %s", conn)

    def _close_reason(self) -> CloseReason:
        """Who ended the connection and why, from autobahn's close bookkeeping."""
        return close_reason(
            closed_here=bool(self.closedByMe or self.failedByMe),
            local_code=self.localCloseCode, local_reason=self.localCloseReason,
            remote_code=self.remoteCloseCode, remote_reason=self.remoteCloseReason,
            not_clean_reason=self.wasNotCleanReason, dropped_here=bool(self.droppedByMe))

    def _log_close(self, what: str, close: CloseReason) -> None:
        """The one log line for the end of an accepted connection."""
        normal = close.code in (CloseCode.NORMAL, CloseCode.GOING_AWAY)
        logger.log(logging.INFO if normal else logging.WARNING, "%s: %s", what, close)

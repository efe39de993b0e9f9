"""What the layer above sees: a connection, its limits, the handler it implements."""

import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IPushProducer
from zope.interface import implementer

from peek_vortex.errors import (
    VortexBackPressureError,
    VortexConnectionClosedError,
    VortexFrameTooLargeError,
)
from peek_vortex.wire._hello import CloseCode

if TYPE_CHECKING:
    from peek_vortex.transport._protocol import VortexProtocolMixin

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransportLimits:
    """Per-connection limits and timers (config keys ``vortex.*``).

    ``max_decompressed_bytes`` is not enforced here (frames are opaque to the transport):
    it is the hook the codec reads from ``conn.limits`` to cap inflation of one payload.
    """

    max_frame_bytes: int = 16 * 1024 * 1024
    max_queued_bytes: int = 64 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    heartbeat_seconds: float = 10.0
    heartbeat_timeout_seconds: float = 20.0
    hello_timeout_seconds: float = 10.0
    #: How long the send queue may stay full before the connection is closed (4507).
    slow_consumer_seconds: float = 30.0
    #: Wrong tokens one address may send before its hellos are refused for a while (4429).
    wrong_token_attempts: int = 5
    #: The first such refusal period; each further wrong token doubles it, up to the max.
    wrong_token_block_seconds: float = 1.0
    wrong_token_max_block_seconds: float = 300.0


DEFAULT_LIMITS = TransportLimits()


@dataclass(frozen=True)
class CloseReason:
    """Why a connection ended: the websocket close code, a reason text, and who closed it."""

    code: int
    reason: str
    by_us: bool = False

    def __str__(self) -> str:
        side = "closed here" if self.by_us else "closed by peer"
        return f"{self.code} {self.reason or 'no reason given'} ({side})"


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

"""Behaviour shared by both ends of a bus websocket: hello gate, frame limits, close reasons."""

import logging
import struct
from typing import Any, Optional

import txaio
from twisted.internet import tcp
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from peek_platform.vortex.transport.connection import (
    CloseReason,
    TransportLimits,
    VortexConnection,
    VortexHandler,
)
from peek_platform.vortex.transport.hello import HELLO_MAX_BYTES, CloseCode, HelloError

logger = logging.getLogger(__name__)

#: Websocket close reasons are limited to 123 UTF-8 bytes.
_REASON_MAX_BYTES = 123

#: Plain TCP transports (not TLS), which a ReadBatchWriter can stand in for.
_TCP_TRANSPORTS = (tcp.Server, tcp.Client)


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


#: The last payload framed for an unmasked (server side) send, and its frame: a fan-out
#: sends one payload to N connections in a row, and frames it once.
_shared_frame: list[Any] = [None, b""]


def binary_frame(data: bytes) -> bytes:
    """One unmasked, unfragmented, uncompressed binary websocket frame carrying ``data``
    (RFC 6455 section 5.2), byte for byte what autobahn's ``sendMessage`` writes then."""
    size = len(data)
    if size <= 125:
        head = bytes((0x82, size))
    elif size <= 0xFFFF:
        head = b"\x82\x7e" + struct.pack("!H", size)
    else:
        head = b"\x82\x7f" + struct.pack("!Q", size)
    return head + data


def _can_batch(transport: Any) -> bool:
    """Whether this Twisted's TCP transport has the internals ReadBatchWriter relies on.

    They are private; when a Twisted release renames them the connection simply keeps
    Twisted's own write path (slower, never wrong).
    """
    return all(
        hasattr(transport, name)
        for name in ("_tempDataLen", "dataBuffer", "offset", "writeSomeData")
    )


class ReadBatchWriter:
    """Stands in for a plain TCP transport: what handling one read writes leaves at once.

    Twisted buffers every write and sends it on its next loop turn, after registering
    the socket for writing and before unregistering it: two epoll_ctl calls plus one
    more epoll round and its dispatch for every request and every reply. While the
    protocol handles a read (:meth:`hold` .. :meth:`release`) writes are collected
    instead, then sent with one ``send`` at once when nothing older is still buffered,
    so everything one read produced still leaves in one write (batching under load is
    unchanged). Whatever the socket does not take, or everything when older bytes
    wait, goes through the transport's own ``write``: ordering, back-pressure (pausing
    the producer) and error handling stay Twisted's. A failed send is handed to
    ``write`` too, so the reactor meets the error on its next turn and closes the
    connection as usual. Every other attribute is the transport's.

    What one read collects is handed on early once it exceeds the transport's buffer size,
    so a read whose handling writes a lot (a peer asking for the same large data many
    times) meets back-pressure within that read instead of buffering without bound.
    """

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._held: Optional[list[bytes]] = None
        self._held_bytes = 0
        self._hand_on_above = getattr(transport, "bufferSize", 2 ** 16)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def hold(self) -> None:
        """Collect writes until :meth:`release`."""
        self._held = []
        self._held_bytes = 0

    def release(self) -> None:
        """Send what was collected: straight to the socket if nothing older is queued."""
        held, self._held = self._held, None
        self._send_collected(held)

    def _send_collected(self, held: Optional[list[bytes]]) -> None:
        if not held:
            return
        data = held[0] if len(held) == 1 else b"".join(held)
        transport = self._transport
        if (transport._tempDataLen or len(transport.dataBuffer) > transport.offset
                or not transport.connected or transport.disconnecting):
            transport.write(data)
            return
        sent = transport.writeSomeData(data)
        if isinstance(sent, Exception):
            transport.write(data)
        elif sent < len(data):
            transport.write(data[sent:])

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            held.append(data)
            self._held_bytes += len(data)
            if self._held_bytes > self._hand_on_above:
                # Twisted's write pauses the producers (our connection) when it is full.
                self._held, self._held_bytes = [], 0
                self._send_collected(held)
        else:
            self._transport.write(data)

    def writeSequence(self, data: list[bytes]) -> None:  # noqa: N802 - twisted API
        for chunk in data:
            self.write(chunk)

    def loseConnection(self) -> None:  # noqa: N802 - twisted API
        self.release()  # what this read wrote goes before the close
        self._transport.loseConnection()

    def abortConnection(self) -> None:  # noqa: N802 - twisted API
        self._held = None  # an abort discards unsent data
        self._transport.abortConnection()


class VortexProtocolMixin:
    """Mixed into autobahn's server and client protocols (placed first in the bases).

    Until the hello exchange completes, frames are capped at HELLO_MAX_BYTES and the
    first one is handed to ``_on_first_frame``; afterwards frames go to the handler.
    Each connection's end is logged once, by ``_log_close``.
    """

    # autobahn's own per-connection warnings would log every failure a second time.
    log = txaio.make_logger(level="error")

    conn: Optional[VortexConnection] = None
    _hello_timer: Optional[IDelayedCall] = None
    _heartbeat_timer: Optional[IDelayedCall] = None
    _last_received: float = 0.0
    _ping_sent_at: float = 0.0
    _rejected: bool = False
    _writer: Optional["ReadBatchWriter"] = None

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

    def onOpen(self) -> None:  # noqa: N802 - autobahn API
        self.maxFramePayloadSize = HELLO_MAX_BYTES
        self.maxMessagePayloadSize = HELLO_MAX_BYTES
        timeout = self._vortex_limits().hello_timeout_seconds
        self._hello_timer = self._vortex_clock().callLater(timeout, self._hello_timed_out)
        self._on_open_socket()

    def _on_open_socket(self) -> None:
        """Hook: the websocket handshake is done; the hello exchange starts."""

    def _hello_timed_out(self) -> None:
        self._hello_timer = None
        self.reject(HelloError(CloseCode.HELLO_TIMEOUT, "no hello within "
                               f"{self._vortex_limits().hello_timeout_seconds}s"))

    def reject(self, error: HelloError) -> None:
        """Refuse the hello exchange: log once, close with the error's code and reason."""
        self._rejected = True
        self._log_reject(error)
        self.close_with(int(error.code), error.reason)

    def _log_reject(self, error: HelloError) -> None:
        logger.warning("bus connection from %s refused: %s %s", self.peer, int(error.code),
                       error.reason)

    def _accepted(self, conn: VortexConnection) -> None:
        """The hello exchange succeeded: lift the frame cap, become the transport's producer."""
        if self._hello_timer is not None and self._hello_timer.active():
            self._hello_timer.cancel()
        self._hello_timer = None
        limits = conn.limits
        self.maxFramePayloadSize = limits.max_frame_bytes
        self.maxMessagePayloadSize = limits.max_frame_bytes
        self.conn = conn
        self._last_received = self._vortex_clock().seconds()
        self._schedule_ping()
        # A twisted.web channel that handed us its socket may still be its producer.
        if getattr(self.transport, "producer", None) is not None:
            self.transport.unregisterProducer()
        self.transport.registerProducer(conn, True)
        if type(self.transport) in _TCP_TRANSPORTS and _can_batch(self.transport):
            self._writer = ReadBatchWriter(self.transport)
            self.transport = self._writer

    def _schedule_ping(self) -> None:
        interval = self._vortex_limits().heartbeat_seconds
        self._heartbeat_timer = self._vortex_clock().callLater(interval, self._send_ping)

    def _send_ping(self) -> None:
        """Ping, then expect the pong (or any frame) within the heartbeat timeout."""
        clock = self._vortex_clock()
        self._ping_sent_at = clock.seconds()
        self.sendPing()
        timeout = self._vortex_limits().heartbeat_timeout_seconds
        self._heartbeat_timer = clock.callLater(timeout, self._check_pong)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - twisted API
        # autobahn's dataReceived only adds a debug line before _dataReceived, and builds
        # its arguments (click-coloured names, the peer) on every read even though our
        # autobahn logger stays at "error" (see ``log`` above) and never emits it.
        self._dataReceived(data)

    def sendData(self, data: bytes, sync: bool = False, chopsize: Any = None) -> None:  # noqa: N802
        """autobahn's immediate-write path minus its eagerly formatted debug line.

        Anything but a plain write (chopping, sync or queued sends, octet logging) is
        left to autobahn itself.
        """
        if sync or chopsize or self.send_queue or self.logOctets:
            super().sendData(data, sync, chopsize)  # type: ignore[misc]
            return
        self.transport.write(data)
        state = self.state
        if state == self.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        elif state == self.STATE_CONNECTING or state == self.STATE_PROXY_CONNECTING:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

    def _dataReceived(self, data: bytes) -> None:  # noqa: N802 - autobahn API
        # Any bytes prove the peer alive: a big frame arriving slowly holds its pong back.
        self._last_received = self._vortex_clock().seconds()
        writer = self._writer
        if writer is None:
            super()._dataReceived(data)  # type: ignore[misc]
            return
        writer.hold()
        try:
            super()._dataReceived(data)  # type: ignore[misc]
        finally:
            writer.release()

    def _check_pong(self) -> None:
        if self._last_received >= self._ping_sent_at:
            self._schedule_ping()
            return
        self._heartbeat_timer = None
        # autobahn's own dead-peer path: record the reason, abort the TCP connection.
        self.onAutoPingTimeout()

    def onPong(self, payload: bytes) -> None:  # noqa: N802 - autobahn API
        self._last_received = self._vortex_clock().seconds()
        if self._heartbeat_timer is not None and self._heartbeat_timer.active():
            self._heartbeat_timer.cancel()
        self._schedule_ping()

    def _cancel_timers(self) -> None:
        for timer in (self._hello_timer, self._heartbeat_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._hello_timer = self._heartbeat_timer = None

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

    def send_binary(self, data: bytes) -> None:
        """``sendMessage(data, isBinary=True)``, framing a payload once for every connection.

        A server-side frame is not masked, so the frame of one payload is the same for
        every connection: when the same bytes object is sent to connection after
        connection (an observable update fanned out to N devices), it is framed once and
        the frame written to each. autobahn's own path is taken for anything it does more
        than frame and count (masking, compression, fragmenting, frame logging, timing
        tracking, a payload over the limit, a state other than open).
        """
        if (
            self.state != self.STATE_OPEN or not self.factory.isServer
            or self.maskServerFrames or self._perMessageCompress is not None
            or self.autoFragmentSize or self.logFrames or self.trackedTimings
            or 0 < self.maxMessagePayloadSize < len(data)
        ):
            self.sendMessage(data, isBinary=True)
            return
        shared = _shared_frame
        if shared[0] is data:
            frame = shared[1]
        else:
            frame = binary_frame(data)
            shared[0], shared[1] = data, frame
        size = len(data)
        stats = self.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingOctetsAppLevel += size
        stats.outgoingOctetsWebSocketLevel += size
        stats.outgoingWebSocketFrames += 1
        self.sendData(frame)

    def onMessageEnd(self) -> None:  # noqa: N802 - autobahn API
        """autobahn's message end minus its per-message ``fire("message")``.

        With no listener registered (we never register one) autobahn still builds a
        Deferred for every received message and adds callbacks to it; on a device
        connection that is a good part of the cost of one delivery. Anything else
        (listeners, timing tracking, a newer autobahn without these attributes) is left
        to autobahn itself.
        """
        if (getattr(self, "_listeners", True) is not None
                or getattr(self, "_parent", True) is not None or self.trackedTimings):
            super().onMessageEnd()  # type: ignore[misc]
            return
        if not self.failedByMe:
            self._onMessage(b"".join(self.message_data), self.message_is_binary)
        self.message_data = None

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
        if self._rejected:
            return
        if not isBinary:
            self.reject(HelloError(CloseCode.TEXT_FRAME, "text frames are not accepted;"
                                   " the bus speaks binary frames"))
            return
        conn = self.conn
        if conn is None:
            self._on_first_frame(payload)
            return
        try:
            self._vortex_handler().on_frame(conn, payload)
        except Exception:
            logger.exception("bus handler failed on a frame from %s", conn)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:  # noqa: N802, N803
        self._cancel_timers()
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
        if (self.closedByMe or self.failedByMe) and self.localCloseCode:
            local = self.localCloseReason or ""
            if isinstance(local, bytes):
                local = local.decode("utf-8", "replace")
            return CloseReason(self.localCloseCode, local, by_us=True)
        if self.remoteCloseCode:
            return CloseReason(self.remoteCloseCode, self.remoteCloseReason or "", by_us=False)
        reason = self.wasNotCleanReason or "connection lost"
        if "ping timeout" in reason:
            reason = "heartbeat timeout: the peer did not answer a ping in time"
        return CloseReason(int(CloseCode.ABNORMAL), reason, by_us=bool(self.droppedByMe))

    def _log_close(self, what: str, close: CloseReason) -> None:
        """The one log line for the end of an accepted connection."""
        normal = close.code in (CloseCode.NORMAL, CloseCode.GOING_AWAY)
        logger.log(logging.INFO if normal else logging.WARNING, "%s: %s", what, close)

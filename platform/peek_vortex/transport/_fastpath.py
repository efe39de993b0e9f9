"""The bus's write fast path: the one module that touches Twisted's and autobahn's internals.

Everything here is an optimisation with a public fallback. ``ENABLED`` is the one switch:
set it to False and every connection keeps Twisted's buffered ``transport.write`` and
autobahn's own ``dataReceived`` / ``sendData`` (slower, never wrong). With it on, a
connection that finds an internal missing at runtime also falls back, and logs once which
one. :func:`internals_problems` lists what a Twisted or autobahn release renamed;
``tests/vortex_transport/test_fastpath.py`` fails loudly with that list, naming the versions.

The internals used:

- Twisted's TCP transport (``twisted.internet.tcp.Connection``): its write buffer
  (``dataBuffer``, ``offset``, ``_tempDataLen``), ``writeSomeData``, ``connected`` and
  ``disconnecting`` -- so one read's replies leave in one ``send`` (``ReadBatchWriter``).
- autobahn's ``WebSocketProtocol``: ``_dataReceived`` (what its ``dataReceived`` calls
  after formatting a debug line that is never emitted), and what its ``sendData`` reads
  (``send_queue``, ``logOctets``, ``trafficStats``, the ``STATE_*`` constants);
  ``send_binary`` frames a server-side payload once for a fan-out to N connections and
  counts it as ``sendMessage`` would (it reads ``maskServerFrames``,
  ``_perMessageCompress``, ``autoFragmentSize``, ``logFrames``, ``trackedTimings``,
  ``maxMessagePayloadSize``, ``trafficStats``); ``onMessageEnd`` skips the Deferred
  autobahn's ``fire("message")`` builds per message with no listener (it reads
  ``_listeners``, ``_parent``, ``failedByMe``, ``_onMessage``, ``message_data``,
  ``message_is_binary``); the frame reader (:meth:`FastPathMixin._read_plain_frames`)
  reads what autobahn's ``processData`` reads and keeps (``current_frame``, ``data``,
  ``inside_message``, ``failedByMe``, ``_perMessageCompress``, ``websocket_version``,
  ``maxFramePayloadSize``, ``maxMessagePayloadSize``, ``autoPingTimeoutCall``,
  ``autoPingRestartOnAnyTraffic``, ``_cancelAutoPingTimeoutCall``, ``_onMessage``,
  ``logFrames``, ``logOctets``, ``trackedTimings``, the incoming traffic counters).
"""

import inspect
import logging
import struct
from typing import Any, Optional

import autobahn
import twisted
from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet import tcp

logger = logging.getLogger(__name__)

#: The one switch. False: Twisted's and autobahn's public write and read paths only.
ENABLED = True

#: Plain TCP transports (not TLS), which a ReadBatchWriter can stand in for.
TCP_TRANSPORTS = (tcp.Server, tcp.Client)

#: Attributes of Twisted's TCP connection class the ReadBatchWriter reads or calls.
TWISTED_TCP_CLASS_INTERNALS = ("dataBuffer", "offset", "writeSomeData", "connected",
                               "disconnecting")
#: ... and those a connected TCP transport instance has (set in its ``__init__``).
TWISTED_TCP_INTERNALS = ("_tempDataLen",) + TWISTED_TCP_CLASS_INTERNALS
#: Attributes of autobahn's WebSocketProtocol class the fast read and send paths use.
AUTOBAHN_CLASS_INTERNALS = ("_dataReceived", "sendData", "STATE_OPEN", "STATE_CONNECTING",
                            "STATE_PROXY_CONNECTING")
#: Attributes an open autobahn protocol instance has that the fast send path reads.
AUTOBAHN_INSTANCE_INTERNALS = ("send_queue", "logOctets", "trafficStats", "state")
#: Attributes an open client-side autobahn protocol has that the frame reader reads.
AUTOBAHN_READ_INTERNALS = ("current_frame", "data", "inside_message", "failedByMe",
                           "_perMessageCompress", "websocket_version", "maxFramePayloadSize",
                           "maxMessagePayloadSize", "autoPingTimeoutCall",
                           "autoPingRestartOnAnyTraffic", "_cancelAutoPingTimeoutCall",
                           "_onMessage", "logFrames", "logOctets", "trackedTimings")
#: The incoming traffic counters the frame reader increments, as autobahn's reader would.
AUTOBAHN_INCOMING_COUNTERS = ("incomingOctetsWireLevel", "incomingOctetsWebSocketLevel",
                              "incomingOctetsAppLevel", "incomingWebSocketFrames",
                              "incomingWebSocketMessages")
#: The parameters of autobahn's ``sendData`` our override mirrors.
AUTOBAHN_SENDDATA_PARAMS = ("self", "data", "sync", "chopsize")
#: The traffic counters the fast send path increments.
AUTOBAHN_TRAFFIC_COUNTERS = ("outgoingOctetsWireLevel", "preopenOutgoingOctetsWireLevel")

_warned_missing = False
_warned_read_missing = False


def versions() -> str:
    """The Twisted and autobahn versions, for messages about their internals."""
    return f"Twisted {twisted.__version__}, autobahn {autobahn.__version__}"


def internals_problems(
    tcp_class: type = tcp.Connection,
    websocket_class: type = WebSocketProtocol,
    protocol: Any = None,
    transport: Any = None,
) -> list[str]:
    """What the fast path relies on that these Twisted/autobahn classes lack (empty: all there).

    ``protocol``, an open autobahn protocol, and ``transport``, a connected TCP transport,
    add their per-instance attributes to the check.
    """
    problems = [f"twisted.internet.tcp.Connection.{name}"
                for name in TWISTED_TCP_CLASS_INTERNALS if not hasattr(tcp_class, name)]
    if transport is not None:
        problems += [f"twisted.internet.tcp.Connection instance .{name}"
                     for name in TWISTED_TCP_INTERNALS if not hasattr(transport, name)]
    problems += [f"autobahn WebSocketProtocol.{name}" for name in AUTOBAHN_CLASS_INTERNALS
                 if not hasattr(websocket_class, name)]
    send = getattr(websocket_class, "sendData", None)
    if send is not None:
        params = tuple(inspect.signature(send).parameters)
        if params != AUTOBAHN_SENDDATA_PARAMS:
            problems.append(f"autobahn WebSocketProtocol.sendData{params} (expected"
                            f" parameters {AUTOBAHN_SENDDATA_PARAMS})")
    if protocol is not None:
        problems += read_internals_problems(protocol)
        problems += [f"autobahn protocol instance .{name}"
                     for name in AUTOBAHN_INSTANCE_INTERNALS if not hasattr(protocol, name)]
        stats = getattr(protocol, "trafficStats", None)
        if stats is not None:
            problems += [f"autobahn TrafficStats.{name}" for name in AUTOBAHN_TRAFFIC_COUNTERS
                         if not hasattr(stats, name)]
    return problems


def read_internals_problems(protocol: Any) -> list[str]:
    """What the frame reader relies on that this open autobahn protocol lacks."""
    problems = [f"autobahn protocol instance .{name}"
                for name in AUTOBAHN_READ_INTERNALS if not hasattr(protocol, name)]
    stats = getattr(protocol, "trafficStats", None)
    problems += [f"autobahn TrafficStats.{name}" for name in AUTOBAHN_INCOMING_COUNTERS
                 if not hasattr(stats, name)]
    return problems


def describe(problems: list[str]) -> str:
    """A message naming the missing internals, the versions, and what to do."""
    return (f"the bus write fast path relies on internals that {versions()} no longer"
            f" have: {', '.join(problems)}. Update"
            " peek_vortex/transport/_fastpath.py to the new names, or set its"
            " ENABLED = False to use the public (slower) write path.")


def _can_batch(transport: Any) -> bool:
    """Whether this transport is a plain TCP one with the internals ReadBatchWriter uses."""
    global _warned_missing
    if type(transport) not in TCP_TRANSPORTS:
        return False
    missing = [name for name in TWISTED_TCP_INTERNALS if not hasattr(transport, name)]
    if missing:
        if not _warned_missing:
            _warned_missing = True
            logger.warning("%s", describe([f"twisted.internet.tcp.Connection.{name}"
                                           for name in missing]))
        return False
    return True


def batching_writer(transport: Any) -> Optional["ReadBatchWriter"]:
    """A ReadBatchWriter for this transport, or None (switch off, TLS, internals missing)."""
    if not ENABLED or not _can_batch(transport):
        return None
    return ReadBatchWriter(transport)


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

    Writes to other connections while a read is handled (the read carried an update that
    fans out to N connections) are collected the same way, per connection, and sent when
    that read is done (:func:`read_done`) instead of on Twisted's next loop turn: N sends
    instead of N write registrations, N more epoll rounds and 2N ``epoll_ctl`` calls.

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
        """Collect writes until :meth:`release` (keeping any already collected)."""
        if self._held is None:
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
        if held is None and _joined is not None:
            # Another connection's read is being handled (a fan-out): this connection's
            # writes leave when that read is done, each connection's in one send.
            held = self._held = []
            self._held_bytes = 0
            _joined.append(self)
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


#: While a read is handled: the writers of other connections that collected writes.
_joined: Optional[list[ReadBatchWriter]] = None


def read_started() -> bool:
    """Start collecting other connections' writes; True if this is the outermost read."""
    global _joined
    if _joined is not None:
        return False
    _joined = []
    return True


def read_done() -> None:
    """The outermost read is handled: send what other connections collected, in order."""
    global _joined
    joined, _joined = _joined, None
    for writer in joined or ():
        writer.release()


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


class FastPathMixin:
    """autobahn protocol overrides that skip its per-read and per-send overhead.

    Placed between the bus mixin and autobahn's protocol class. Each method checks the
    switch and otherwise leaves the work to autobahn.
    """

    _writer: Optional[ReadBatchWriter] = None
    #: Plain frames are read by :meth:`_read_plain_frames` (set by :meth:`_enable_frame_reader`).
    _fast_read = False
    # autobahn's, declared for readers and type checkers.
    transport: Any
    send_queue: Any
    logOctets: bool  # noqa: N815 - autobahn's name
    trafficStats: Any  # noqa: N815 - autobahn's name
    state: int
    STATE_OPEN: int
    STATE_CONNECTING: int
    STATE_PROXY_CONNECTING: int

    def _install_batching_writer(self) -> None:
        """From now on, what one read writes leaves in one send (if the fast path is on)."""
        writer = batching_writer(self.transport)
        if writer is not None:
            self._writer = writer
            self.transport = writer

    def _enable_frame_reader(self) -> None:
        """From now on, plain binary frames from a server are read by :meth:`_read_plain_frames`.

        Only on the client side of an open, uncompressed RFC 6455 (hybi) connection, and only when
        this autobahn has every internal the reader uses (else it logs once and stays off).
        """
        global _warned_read_missing
        if (not ENABLED or self.factory.isServer or self.state != self.STATE_OPEN
                or not getattr(self, "websocket_version", 0)  # 0: Hixie-76 framing
                or getattr(self, "_perMessageCompress", True) is not None):
            return
        problems = read_internals_problems(self)
        if problems:
            if not _warned_read_missing:
                _warned_read_missing = True
                logger.warning("%s", describe(problems))
            return
        self._fast_read = True

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - twisted API
        # autobahn's dataReceived only adds a debug line before _dataReceived, and builds
        # its arguments (click-coloured names, the peer) on every read even though our
        # autobahn logger stays at "error" and never emits it.
        if ENABLED:
            self._dataReceived(data)
        else:
            super().dataReceived(data)  # type: ignore[misc]

    def _dataReceived(self, data: bytes) -> None:  # noqa: N802 - autobahn API
        writer = self._writer
        if writer is None:
            if self._fast_read and ENABLED:
                data = self._read_plain_frames(data)
            if data:
                super()._dataReceived(data)  # type: ignore[misc]
            return
        writer.hold()
        outermost = read_started()
        try:
            if self._fast_read and ENABLED:
                data = self._read_plain_frames(data)
            if data:
                super()._dataReceived(data)  # type: ignore[misc]
        finally:
            writer.release()
            if outermost:
                read_done()

    def _read_plain_frames(self, data: bytes) -> bytes:
        """Deliver the whole plain frames at the start of ``data``; return the rest for autobahn.

        A plain frame is what a server sends for every bus frame: final, no RSV bits,
        binary, unmasked, length in its minimal encoding, within the size limits, and
        complete in this read. Each is delivered as autobahn's ``processData`` ..
        ``onMessageEnd`` would (same counters, the same ``_onMessage`` call, its ping
        timeout restarted the same way) without the per-frame header object, masker,
        buffer slicing and seven hook calls. Everything else -- a partial frame, a
        control, text, fragmented, masked or oversized frame, a bad length encoding, or
        anything while autobahn is part way through a frame or the connection is not
        open -- is left, with all that follows it in this read, to autobahn, which
        answers it as it always does (closing with 1002 or 1009 where it must).
        """
        if (self.state != self.STATE_OPEN or self.current_frame is not None or self.data
                or self.inside_message or self.failedByMe or self.logFrames
                or self.logOctets or self.trackedTimings):
            return data
        size = len(data)
        pos = 0
        stats = self.trafficStats
        while size - pos >= 2 and data[pos] == 0x82:
            length = data[pos + 1]
            if length < 126:
                start = pos + 2
            elif length == 126:
                start = pos + 4
                if start > size:
                    break
                length = int.from_bytes(data[pos + 2:start], "big")
                if length < 126:
                    break
            elif length == 127:
                start = pos + 10
                if start > size:
                    break
                length = int.from_bytes(data[pos + 2:start], "big")
                if length < 0x10000 or length > 0x7FFFFFFFFFFFFFFF:
                    break
            else:
                break  # masked
            end = start + length
            if (end > size or 0 < self.maxFramePayloadSize < length
                    or 0 < self.maxMessagePayloadSize < length):
                break
            stats.incomingOctetsWireLevel += end - pos
            stats.incomingOctetsWebSocketLevel += length
            stats.incomingOctetsAppLevel += length
            stats.incomingWebSocketFrames += 1
            if self.autoPingTimeoutCall and self.autoPingRestartOnAnyTraffic:
                self._cancelAutoPingTimeoutCall()
            stats.incomingWebSocketMessages += 1
            pos = end
            self._onMessage(data[start:end], True)
            if self.state != self.STATE_OPEN:
                # Closing or failed: autobahn decides what the rest still means (and, as
                # it counted the whole read while open, the rest's octets count here).
                stats.incomingOctetsWireLevel += size - pos
                break
        return data[pos:] if pos else data

    def sendData(self, data: bytes, sync: bool = False, chopsize: Any = None) -> None:  # noqa: N802
        """autobahn's immediate-write path minus its eagerly formatted debug line.

        Anything but a plain write (chopping, sync or queued sends, octet logging, the
        switch off) is left to autobahn itself.
        """
        if sync or chopsize or not ENABLED or self.send_queue or self.logOctets:
            super().sendData(data, sync, chopsize)  # type: ignore[misc]
            return
        self.transport.write(data)
        state = self.state
        if state == self.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        elif state == self.STATE_CONNECTING or state == self.STATE_PROXY_CONNECTING:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

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
            not ENABLED or self.state != self.STATE_OPEN or not self.factory.isServer
            or self.maskServerFrames or self._perMessageCompress is not None
            or self.autoFragmentSize or self.logFrames or self.trackedTimings
            or 0 < self.maxMessagePayloadSize < len(data)
        ):
            self.sendMessage(data, isBinary=True)  # type: ignore[attr-defined]
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
        if (not ENABLED or getattr(self, "_listeners", True) is not None
                or getattr(self, "_parent", True) is not None or self.trackedTimings):
            super().onMessageEnd()  # type: ignore[misc]
            return
        if not self.failedByMe:
            self._onMessage(b"".join(self.message_data), self.message_is_binary)
        self.message_data = None

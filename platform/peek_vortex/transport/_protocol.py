"""Behaviour shared by both ends of a bus websocket: hello gate, frame limits, close reasons."""

import logging
from typing import Any, Optional

import txaio
from twisted.internet.interfaces import IReactorTime

from peek_vortex.transport._connection import (
    CloseReason,
    TransportLimits,
    VortexConnection,
    VortexHandler,
)
from peek_vortex.transport._fastpath import FastPathMixin
from peek_vortex.transport._link import FrameRoute, LinkState, close_reason
from peek_vortex.wire._hello import HELLO_MAX_BYTES, CloseCode, HelloError

logger = logging.getLogger(__name__)

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

    def reject(self, error: HelloError) -> None:
        """Refuse the hello exchange: log once, close with the error's code and reason."""
        self._link.reject(error)

    # LinkActions: what the state machine asks of this adapter.
    def refuse(self, error: HelloError) -> None:
        """Log the refusal once and close with the error's code and reason."""
        self._log_reject(error)
        self.close_with(int(error.code), error.reason)

    def send_ping(self) -> None:
        """Send a websocket ping."""
        self.sendPing()

    def peer_dead(self) -> None:
        """No answer to a ping: autobahn's own dead-peer path records why and aborts TCP."""
        self.onAutoPingTimeout()

    def _log_reject(self, error: HelloError) -> None:
        logger.warning("bus connection from %s refused: %s %s", self.peer, int(error.code),
                       error.reason)

    def _accepted(self, conn: VortexConnection) -> None:
        """The hello exchange succeeded: lift the frame cap, become the transport's producer."""
        limits = conn.limits
        self.maxFramePayloadSize = limits.max_frame_bytes
        self.maxMessagePayloadSize = limits.max_frame_bytes
        self.conn = conn
        self._link.accepted()
        # A twisted.web channel that handed us its socket may still be its producer.
        if getattr(self.transport, "producer", None) is not None:
            self.transport.unregisterProducer()
        self.transport.registerProducer(conn, True)
        self._install_batching_writer()

    def _dataReceived(self, data: bytes) -> None:  # noqa: N802 - autobahn API
        # Any bytes prove the peer alive: a big frame arriving slowly holds its pong back.
        self._link.received()
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
            self._vortex_handler().on_frame(conn, payload)
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

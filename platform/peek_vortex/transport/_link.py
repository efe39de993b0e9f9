"""The hello gate, heartbeat and close-reason logic of one bus connection, as a state machine.

No Twisted transport and no autobahn inside (Autobahn's core/adapter split is the model):
:class:`LinkState` is driven by what happened (the socket opened, bytes or a pong arrived,
the hello was accepted, the socket closed) and an ``IReactorTime``, and asks its adapter
(:class:`LinkActions`, implemented by the autobahn protocols in ``protocol.py``) to ping,
to refuse, or to drop a dead peer. So its timing is tested on a ``task.Clock``.

Phases::

    HANDSHAKE --accepted()--> OPEN --closed()--> CLOSED
        |                      ^
        +--reject()/timeout--> REFUSED --closed()--> CLOSED
"""

import enum
from dataclasses import dataclass
from typing import Optional, Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from peek_vortex.errors import VortexHelloRefusedError
from peek_vortex.wire._hello import CloseCode


@dataclass(frozen=True)
class TransportLimits:
    """Per-connection limits and timers (config keys ``vortex.*``).

    ``max_decompressed_bytes`` is not enforced here (frames are opaque to the transport):
    the receiving router's codec caps inflation of one payload (the platform's
    ``attach_bus`` sets ``router.codec`` from the same setting).
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


class Phase(enum.Enum):
    """Where a connection is in its life."""

    HANDSHAKE = "handshake"
    OPEN = "open"
    REFUSED = "refused"
    CLOSED = "closed"


class FrameRoute(enum.Enum):
    """What to do with an arrived frame."""

    #: The hello (server side) or welcome (client side).
    FIRST = "first"
    #: An application frame, for the handler.
    APPLICATION = "application"
    #: Dropped: the connection is refused or closed, or the frame was refused here.
    DROP = "drop"


class LinkActions(Protocol):
    """What the state machine asks of its adapter."""

    def send_ping(self) -> None:
        """Send a websocket ping."""

    def refuse(self, error: VortexHelloRefusedError) -> None:
        """Log the refusal once and close with the error's code and reason."""

    def peer_dead(self) -> None:
        """The peer answered no ping in time: drop the connection."""


class LinkState:
    """One connection's hello gate and heartbeat, on ``clock``.

    Before the hello is accepted a timer of ``limits.hello_timeout_seconds`` runs; when it
    fires the connection is refused with 4408. Once accepted, a ping goes out every
    ``limits.heartbeat_seconds``; if nothing at all arrived since that ping when
    ``limits.heartbeat_timeout_seconds`` have passed, the peer is dead. Any bytes count
    as a sign of life: a large frame arriving slowly holds its pong back.
    """

    def __init__(self, clock: IReactorTime, limits: TransportLimits,
                 actions: LinkActions) -> None:
        self.clock = clock
        self.limits = limits
        self.actions = actions
        self.phase = Phase.HANDSHAKE
        #: True only in the OPEN phase (read on every frame, so a plain attribute).
        self.open = False
        #: Arrivals (bytes or pongs) so far: the adapter adds one per read (a plain
        #: attribute, as it runs on every read); a ping is answered if it moved.
        self.heard = 0
        self._heard_at_ping = 0
        self._hello_timer: Optional[IDelayedCall] = None
        self._heartbeat_timer: Optional[IDelayedCall] = None

    @property
    def refused(self) -> bool:
        """True once the hello exchange was refused."""
        return self.phase is Phase.REFUSED

    def opened(self) -> None:
        """The websocket handshake is done: the hello must arrive in time."""
        self._hello_timer = self.clock.callLater(self.limits.hello_timeout_seconds,
                                                 self._hello_timed_out)

    def _hello_timed_out(self) -> None:
        self._hello_timer = None
        self.reject(VortexHelloRefusedError(
            CloseCode.HELLO_TIMEOUT, f"no hello within {self.limits.hello_timeout_seconds}s"))

    def received(self) -> None:
        """Bytes arrived: the peer is alive."""
        self.heard += 1

    def route(self, is_binary: bool) -> FrameRoute:
        """Where a frame goes; a text frame refuses the connection (4415)."""
        if self.phase is Phase.REFUSED or self.phase is Phase.CLOSED:
            return FrameRoute.DROP
        if not is_binary:
            self.reject(VortexHelloRefusedError(
                CloseCode.TEXT_FRAME, "text frames are not accepted; the bus speaks binary frames"))
            return FrameRoute.DROP
        return FrameRoute.APPLICATION if self.open else FrameRoute.FIRST

    def reject(self, error: VortexHelloRefusedError) -> None:
        """Refuse the connection: later frames are dropped; the adapter logs and closes."""
        if self.phase is Phase.CLOSED:
            return
        self._cancel_timers()
        self.phase = Phase.REFUSED
        self.open = False
        self.actions.refuse(error)

    def accepted(self) -> None:
        """The hello exchange succeeded: stop the hello timer, start the heartbeat."""
        if self.phase is not Phase.HANDSHAKE:
            raise RuntimeError(f"cannot accept a connection in the {self.phase.value} phase")
        self._cancel(self._hello_timer)
        self._hello_timer = None
        self.phase = Phase.OPEN
        self.open = True
        self._schedule_ping()

    def _schedule_ping(self) -> None:
        self._heartbeat_timer = self.clock.callLater(self.limits.heartbeat_seconds,
                                                     self._send_ping)

    def _send_ping(self) -> None:
        """Ping, then expect the pong (or any bytes) within the heartbeat timeout."""
        self._heard_at_ping = self.heard
        self._heartbeat_timer = self.clock.callLater(self.limits.heartbeat_timeout_seconds,
                                                     self._check_alive)
        self.actions.send_ping()

    def _check_alive(self) -> None:
        if self.heard != self._heard_at_ping:
            self._schedule_ping()
            return
        self._heartbeat_timer = None
        self.actions.peer_dead()

    def pong(self) -> None:
        """A pong arrived: the peer is alive; the next ping goes one interval from now."""
        self.heard += 1
        if self.phase is not Phase.OPEN:
            return
        self._cancel(self._heartbeat_timer)
        self._schedule_ping()

    def closed(self) -> None:
        """The socket is gone: no timer may outlive it."""
        self._cancel_timers()
        self.phase = Phase.CLOSED
        self.open = False

    def pending_timers(self) -> list[IDelayedCall]:
        """The timers still scheduled (for tests and diagnostics)."""
        return [t for t in (self._hello_timer, self._heartbeat_timer)
                if t is not None and t.active()]

    @staticmethod
    def _cancel(timer: Optional[IDelayedCall]) -> None:
        if timer is not None and timer.active():
            timer.cancel()

    def _cancel_timers(self) -> None:
        self._cancel(self._hello_timer)
        self._cancel(self._heartbeat_timer)
        self._hello_timer = self._heartbeat_timer = None


def close_reason(
    *,
    closed_here: bool,
    local_code: Optional[int],
    local_reason: "str | bytes | None",
    remote_code: Optional[int],
    remote_reason: Optional[str],
    not_clean_reason: Optional[str],
    dropped_here: bool,
) -> CloseReason:
    """Who ended a connection and why, from the websocket's close bookkeeping.

    A close this side started (``closed_here``, with a code) wins; then the peer's close
    frame; otherwise the connection was dropped without one (1006), and an autobahn
    "ping timeout" is said in the bus's words.
    """
    if closed_here and local_code:
        local = local_reason or ""
        if isinstance(local, bytes):
            local = local.decode("utf-8", "replace")
        return CloseReason(local_code, local, by_us=True)
    if remote_code:
        return CloseReason(remote_code, remote_reason or "", by_us=False)
    reason = not_clean_reason or "connection lost"
    if "ping timeout" in reason:
        reason = "heartbeat timeout: the peer did not answer a ping in time"
    return CloseReason(int(CloseCode.ABNORMAL), reason, by_us=dropped_here)

"""The connection state machine alone, on a task.Clock: hello timeout, heartbeat, close reasons."""

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from peek_vortex.errors import VortexHelloRefusedError
from peek_vortex.transport import FrameRoute, LinkState, Phase, TransportLimits, close_reason
from peek_vortex.wire import CloseCode

LIMITS = TransportLimits(hello_timeout_seconds=5, heartbeat_seconds=10,
                         heartbeat_timeout_seconds=3)


class Actions:
    """Records what the state machine asks its adapter to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refusals: list[VortexHelloRefusedError] = []

    def send_ping(self) -> None:
        self.calls.append("ping")

    def refuse(self, error: VortexHelloRefusedError) -> None:
        self.calls.append(f"refuse {int(error.close_code)}")
        self.refusals.append(error)

    def peer_dead(self) -> None:
        self.calls.append("dead")


def link() -> tuple[LinkState, Actions, Clock]:
    clock, actions = Clock(), Actions()
    return LinkState(clock, LIMITS, actions), actions, clock


class HelloGateTests(TestCase):
    """Before the hello is accepted."""

    def test_no_hello_in_time_refuses_with_4408_exactly_at_the_timeout(self) -> None:
        """The hello timer fires at hello_timeout_seconds, not a moment before."""
        state, actions, clock = link()
        state.opened()
        clock.advance(4.999)
        assert actions.calls == []
        clock.advance(0.001)
        assert actions.calls == ["refuse 4408"] and state.phase is Phase.REFUSED
        assert "no hello within 5s" in actions.refusals[0].reason
        assert state.route(True) is FrameRoute.DROP  # a late hello is not looked at

    def test_accepting_stops_the_hello_timer(self) -> None:
        """An accepted hello is never timed out later."""
        state, actions, clock = link()
        state.opened()
        assert state.route(True) is FrameRoute.FIRST
        clock.advance(4)
        state.accepted()
        clock.advance(5)
        assert actions.calls == [] and state.route(True) is FrameRoute.APPLICATION

    def test_a_text_frame_refuses_with_4415_in_any_phase(self) -> None:
        """Text frames are refused before and after the hello; later frames are dropped."""
        for accept in (False, True):
            state, actions, _ = link()
            state.opened()
            if accept:
                state.accepted()
            assert state.route(False) is FrameRoute.DROP
            assert actions.calls == ["refuse 4415"] and state.refused
            assert state.route(True) is FrameRoute.DROP

    def test_accepting_twice_is_a_bug_not_a_silent_restart(self) -> None:
        """accepted() outside the handshake raises, naming the phase."""
        state, _, _ = link()
        state.opened()
        state.accepted()
        with self.assertRaises(RuntimeError) as caught:
            state.accepted()
        assert "open phase" in str(caught.exception)


class HeartbeatTests(TestCase):
    """After the hello is accepted."""

    def test_silent_peer_is_dead_at_interval_plus_timeout(self) -> None:
        """A ping goes out every heartbeat_seconds; no bytes for heartbeat_timeout_seconds
        after it means a dead peer."""
        state, actions, clock = link()
        state.opened()
        state.accepted()
        clock.advance(9.9)
        assert actions.calls == []
        clock.advance(0.1)
        assert actions.calls == ["ping"]
        clock.advance(2.9)
        assert actions.calls == ["ping"]
        clock.advance(0.1)
        assert actions.calls == ["ping", "dead"] and state.pending_timers() == []

    def test_any_bytes_after_the_ping_keep_the_peer_alive(self) -> None:
        """A slow large frame holds the pong back; its bytes count as life."""
        state, actions, clock = link()
        state.opened()
        state.accepted()
        clock.advance(10)
        clock.advance(2)
        state.received()
        clock.advance(1)  # the check: bytes arrived after the ping
        assert actions.calls == ["ping"]
        clock.advance(10)  # the next ping one interval after the check
        assert actions.calls == ["ping", "ping"]

    def test_a_pong_reschedules_the_next_ping_from_now(self) -> None:
        """The next ping goes one full interval after the pong."""
        state, actions, clock = link()
        state.opened()
        state.accepted()
        clock.advance(10)
        clock.advance(1)
        state.pong()
        clock.advance(9.99)
        assert actions.calls == ["ping"]
        clock.advance(0.01)
        assert actions.calls == ["ping", "ping"]

    def test_closing_cancels_every_timer(self) -> None:
        """No timer of a closed connection fires or stays scheduled."""
        for accept in (False, True):
            state, actions, clock = link()
            state.opened()
            if accept:
                state.accepted()
            state.closed()
            assert clock.getDelayedCalls() == [] and state.phase is Phase.CLOSED
            clock.advance(100)
            assert actions.calls == []
            state.reject(VortexHelloRefusedError(CloseCode.HELLO_MALFORMED, "late"))
            assert actions.calls == []  # nothing is refused after the socket is gone


class CloseReasonTests(TestCase):
    """Who closed and why, from the websocket's bookkeeping."""

    def test_our_close_wins_and_bytes_are_decoded(self) -> None:
        """A close this side sent is reported as ours, with its reason text."""
        reason = close_reason(closed_here=True, local_code=4401, local_reason=b"bad token",
                              remote_code=1000, remote_reason="bye", not_clean_reason=None,
                              dropped_here=False)
        assert (reason.code, reason.reason, reason.by_us) == (4401, "bad token", True)

    def test_the_peers_close_frame(self) -> None:
        """Otherwise the peer's close code and reason."""
        reason = close_reason(closed_here=False, local_code=None, local_reason=None,
                              remote_code=4403, remote_reason="name", not_clean_reason=None,
                              dropped_here=False)
        assert (reason.code, reason.reason, reason.by_us) == (4403, "name", False)

    def test_a_drop_is_1006_and_a_ping_timeout_is_said_plainly(self) -> None:
        """No close frame: 1006; autobahn's ping-timeout text becomes the bus's words."""
        reason = close_reason(closed_here=False, local_code=None, local_reason=None,
                              remote_code=None, remote_reason=None, dropped_here=True,
                              not_clean_reason="WebSocket ping timeout (peer did not respond)")
        assert reason.code == CloseCode.ABNORMAL and reason.by_us
        assert reason.reason.startswith("heartbeat timeout")
        lost = close_reason(closed_here=False, local_code=None, local_reason=None,
                            remote_code=None, remote_reason=None, not_clean_reason=None,
                            dropped_here=False)
        assert str(lost) == "1006 connection lost (closed by peer)"

"""A real client and server protocol pair in memory (iosim) on a Clock: hello, refusals,
heartbeats and closes, deterministic and without sockets or sleeps."""

from twisted.trial.unittest import TestCase

from peek_vortex.transport import TransportLimits
from peek_vortex.wire import CloseCode
from tests.vortex_transport.harness import FAST, LogRecords
from tests.vortex_transport.memory import memory_pair

HEARTBEAT = TransportLimits(heartbeat_seconds=10, heartbeat_timeout_seconds=3,
                            hello_timeout_seconds=5)


class MemoryHelloTests(TestCase):
    """The hello exchange between the real protocols."""

    def test_hello_welcome_and_frames_both_ways(self) -> None:
        """The client is accepted under its name, both ends share the uuid, frames echo."""
        pair = memory_pair()
        [client_conn] = pair.client_handler.opened
        [server_conn] = pair.vortex_server.connections
        assert client_conn.name == "peek-server" and server_conn.name == "peek-agent"
        assert client_conn.uuid == server_conn.uuid
        client_conn.send(b"\x00ping")
        pair.flush()
        assert pair.client_handler.frames_from(client_conn) == [b"\x00ping"]

    def test_wrong_token_is_refused_with_4401_and_nothing_opens(self) -> None:
        """The server closes a wrong token with 4401; the client sees the refusal."""
        records = LogRecords.attach(self)
        pair = memory_pair(token="w" * 40)
        assert pair.client_handler.opened == [] and pair.vortex_server.connections == []
        assert pair.client.remoteCloseCode == CloseCode.UNAUTHORISED
        assert records.warnings_mentioning("refused: 4401")

    def test_a_service_name_on_the_wrong_token_is_forbidden_4403(self) -> None:
        """A name the credentials may not claim is closed with 4403."""
        pair = memory_pair(name="peek-server")
        assert pair.client.remoteCloseCode in (CloseCode.NAME_FORBIDDEN,
                                               CloseCode.UNAUTHORISED)
        assert pair.vortex_server.connections == []

    def test_no_hello_in_time_is_4408_on_the_clock(self) -> None:
        """A client that never sends its hello is closed at the hello timeout, not before."""
        pair = memory_pair(greet=False, server_limits=HEARTBEAT)
        pair.client._on_open_socket = lambda: None  # this client stays silent
        pair.flush()
        pair.clock.advance(4.9)
        pair.flush()
        assert pair.client.remoteCloseCode is None
        pair.clock.advance(0.1)
        pair.flush()
        assert pair.client.remoteCloseCode == CloseCode.HELLO_TIMEOUT
        assert "no hello within 5s" in pair.client.remoteCloseReason


class MemoryHeartbeatTests(TestCase):
    """Dead peers found by the heartbeat, by advancing the Clock without pumping."""

    def test_a_frozen_server_is_dropped_by_the_client(self) -> None:
        """The server reads nothing: the client drops it at interval + timeout, saying why."""
        pair = memory_pair(client_limits=HEARTBEAT)
        [conn] = pair.client_handler.opened
        pair.clock.advance(10)  # the ping is written but never delivered
        pair.clock.advance(2.9)
        assert pair.client_handler.closed == []
        pair.clock.advance(0.1)
        pair.flush()
        [(closed, reason)] = pair.client_handler.closed
        assert closed is conn and reason.by_us and reason.code == CloseCode.ABNORMAL
        assert reason.reason.startswith("heartbeat timeout")
        assert conn.closed and pair.clock.getDelayedCalls() == []

    def test_a_frozen_client_is_dropped_by_the_server(self) -> None:
        """The server drops a client that answers no ping; its registry forgets it."""
        pair = memory_pair(server_limits=HEARTBEAT, client_limits=FAST)
        [server_conn] = pair.vortex_server.connections
        pair.clock.advance(10)  # the ping, never delivered
        pair.clock.advance(3)
        pair.flush()
        [(closed, reason)] = pair.server_handler.closed
        assert closed is server_conn and "heartbeat" in reason.reason
        assert pair.vortex_server.connections == []

    def test_a_live_pair_answers_pings_for_ever(self) -> None:
        """Pinged and answered many times over, nobody is dropped."""
        pair = memory_pair(server_limits=HEARTBEAT, client_limits=HEARTBEAT)
        for _ in range(50):
            pair.clock.advance(1)
            pair.flush()
        assert pair.server_handler.closed == [] and pair.client_handler.closed == []
        assert len(pair.vortex_server.connections) == 1


class MemoryCloseTests(TestCase):
    """Closes with codes and reasons reach both handlers."""

    def test_server_close_reaches_the_client_with_code_and_reason(self) -> None:
        """The server's 4507 close is seen by the client as the peer's, with its reason."""
        pair = memory_pair()
        [server_conn] = pair.vortex_server.connections
        server_conn.close(int(CloseCode.SLOW_CONSUMER), "resubscribe")
        pair.flush()
        [(_, client_reason)] = pair.client_handler.closed
        [(_, server_reason)] = pair.server_handler.closed
        assert (client_reason.code, client_reason.reason, client_reason.by_us) == (
            4507, "resubscribe", False)
        assert (server_reason.code, server_reason.by_us) == (4507, True)
        assert pair.clock.getDelayedCalls() == []

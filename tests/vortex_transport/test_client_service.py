"""The reconnecting client (Twisted's ClientService) on a MemoryReactorClock with iosim:
connect, welcome, loss, backoff and reconnect, refusals, stop; no sockets, no sleeps."""

import random
from typing import Any, Optional

import pytest
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.test.iosim import ConnectionCompleter, IOPump
from twisted.trial.unittest import TestCase

import peek_vortex.transport._client as client_module
from peek_vortex.transport import AccessPolicy, Backoff, VortexClientService, VortexServer
from peek_vortex.wire import CloseCode
from tests.vortex_transport.harness import FAST, TOKEN, LogRecords, RecordingHandler

# autobahn's handshake timers run on the global reactor; the bus's own run on the clock.
_NO_AUTOBAHN_TIMERS = {"openHandshakeTimeout": 0, "closeHandshakeTimeout": 0,
                       "serverConnectionDropTimeout": 0}
PORT = 9


class InMemoryBus:
    """A server websocket listening on a MemoryReactorClock and a client service using it."""

    def __init__(self, test: TestCase, token: Optional[str] = TOKEN,
                 backoff: Optional[Backoff] = None) -> None:
        original = client_module.protocol_options
        test.patch(client_module, "protocol_options",
                   lambda limits: {**original(limits), **_NO_AUTOBAHN_TIMERS})
        self.reactor = MemoryReactorClock()
        self.server_handler = RecordingHandler(echo=True)
        self.vortex_server = VortexServer(
            "peek-server", AccessPolicy.for_server(lambda: TOKEN), FAST, self.server_handler,
            clock=self.reactor)
        self.vortex_server.factory.setProtocolOptions(openHandshakeTimeout=0,
                                                 closeHandshakeTimeout=0)
        self.reactor.listenTCP(PORT, self.vortex_server.factory)
        self.handler = RecordingHandler()
        self.token = token
        self.service = VortexClientService(
            "vortex", f"ws://127.0.0.1:{PORT}/vortexws", "peek-agent", lambda: self.token,
            FAST, self.handler, backoff or Backoff(initial=1, maximum=8,
                                                   rand=random.Random(5).random),
            clock=self.reactor, reactor=self.reactor)
        self.service._attempts.socket_endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1",
                                                                    PORT)
        self.completer = ConnectionCompleter(self.reactor)
        self.pumps: list[IOPump] = []

    def complete(self) -> IOPump:
        """Let the pending TCP attempt connect and pump the hello exchange."""
        pump = self.completer.succeedOnce(greet=False)
        assert pump is not None, "no connection attempt was pending"
        self.pumps.append(pump)
        pump.flush(advanceClock=False)
        return pump

    def retry_delays(self) -> list[float]:
        """When the scheduled retries are due, seconds from now."""
        now = self.reactor.seconds()
        return [call.getTime() - now for call in self.reactor.getDelayedCalls()
                if "_reconnect" in repr(call.func)]


class ClientServiceTests(TestCase):
    """The whole connect/lose/reconnect loop, deterministic."""

    def test_start_fires_on_the_welcome_not_on_tcp(self) -> None:
        """The start Deferred (and when_connected) fire only once the welcome arrived."""
        bus = InMemoryBus(self)
        started = bus.service.startService()
        waiting = bus.service.when_connected()
        assert not started.called and bus.service.connection is None
        bus.complete()
        conn = bus.service.connection
        assert conn is not None and conn.name == "peek-server"
        assert started.called and self.successResultOf(waiting) is conn
        assert bus.handler.opened == [conn]
        assert [c.uuid for c in bus.vortex_server.connections] == [conn.uuid]

    def test_a_lost_connection_reconnects_after_the_first_backoff_delay(self) -> None:
        """After a loss the next attempt waits backoff.delay(0) on the clock, then connects
        with a new uuid; the handler saw open, close, open."""
        bus = InMemoryBus(self)
        records = LogRecords.attach(self)
        bus.service.startService()
        bus.complete()
        first = bus.service.connection
        [server_side] = bus.vortex_server.connections
        server_side.close(int(CloseCode.SLOW_CONSUMER), "resubscribe")
        bus.pumps[-1].flush(advanceClock=False)
        assert bus.service.connection is None and first.closed
        expected = Backoff(initial=1, maximum=8, rand=random.Random(5).random).delay(0)
        assert bus.retry_delays() == pytest.approx([expected])
        assert records.warnings_mentioning("lost the connection to peek-server")
        bus.reactor.advance(expected)
        bus.complete()
        second = bus.service.connection
        assert second is not None and second.uuid != first.uuid
        assert bus.handler.opened == [first, second] and len(bus.handler.closed) == 1

    def test_refused_hellos_back_off_and_count_as_failed_attempts(self) -> None:
        """A wrong token is refused (4401) before any welcome: ClientService counts failed
        attempts, delays follow the backoff, nothing opens; the right token connects."""
        bus = InMemoryBus(self, token="w" * 40)
        started = bus.service.startService()
        policy = Backoff(initial=1, maximum=8, rand=random.Random(5).random)
        for attempt in range(4):
            bus.complete()
            assert bus.service._failures == attempt + 1
            [delay] = bus.retry_delays()
            assert delay == pytest.approx(policy.delay(attempt))
            if attempt == 3:
                bus.token = TOKEN  # read when the next attempt starts
            bus.reactor.advance(delay)
        assert not started.called and bus.handler.opened == []
        bus.complete()
        assert started.called and bus.service.connection is not None

    def test_a_missing_token_is_a_failed_attempt_without_a_connection(self) -> None:
        """A token that cannot be read fails the attempt before any TCP connection."""
        bus = InMemoryBus(self)
        records = LogRecords.attach(self)

        def no_token() -> Any:
            from peek_platform.errors import VortexTokenError
            raise VortexTokenError("the platform token file /x/token does not exist yet")

        bus.service._token = no_token
        bus.service.startService()
        assert bus.reactor.tcpClients == [] and bus.service._failures == 1
        assert records.warnings_mentioning("token file /x/token does not exist")

    def test_stop_while_connected_closes_with_going_away(self) -> None:
        """Stopping sends 1001 with the service's name; the server sees the peer's close."""
        bus = InMemoryBus(self)
        bus.service.startService()
        bus.complete()
        stopped = bus.service.stopService()
        bus.pumps[-1].flush(advanceClock=False)
        self.successResultOf(stopped)
        [(_, reason)] = bus.server_handler.closed
        assert reason.code == CloseCode.GOING_AWAY and not reason.by_us
        assert "peek-agent shutting down" in reason.reason
        assert bus.retry_delays() == [] and bus.reactor.tcpClients == []

    def test_stop_while_waiting_for_the_welcome(self) -> None:
        """Stopping before the welcome drops the socket; the start Deferred never fires."""
        bus = InMemoryBus(self)
        started = bus.service.startService()
        pump = bus.completer.succeedOnce(greet=False)
        assert pump is not None
        stopped = bus.service.stopService()
        pump.flush(advanceClock=False)
        self.successResultOf(stopped)
        assert not started.called and bus.service.connection is None
        assert bus.service._protocol is None and bus.retry_delays() == []

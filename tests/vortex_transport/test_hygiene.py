"""Timing logic of connection hygiene on a task.Clock: header deadline, connection gate,
wrong-token throttle, slow-consumer close, throttled logging."""

import logging
from typing import Any, Optional

import pytest
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.static import Data

from peek_platform.errors import VortexBackPressureError
from peek_platform.web.guard import ConnectionGate, GuardedSite
from peek_vortex import LogThrottle
from peek_vortex.transport import TransportLimits, VortexConnection, WrongTokenThrottle
from peek_vortex.wire import CloseCode
from tests.vortex_transport.harness import (
    RecordingHandler,
    client,
    listen,
    probe,
    vortex_server,
    wait_for,
)

HALF_REQUEST = b"GET /vortexws HTTP/1.1\r\nHost: x\r\nUpgrade: web"


def connect(site: GuardedSite, host: str = "10.0.0.7") -> tuple[Any, StringTransport]:
    """A protocol of ``site`` for a connection from ``host`` on a StringTransport."""
    peer = IPv4Address("TCP", host, 40000)
    protocol = site.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    protocol.makeConnection(transport)
    return protocol, transport


def guarded_site(clock: Clock, gate: Optional[ConnectionGate] = None) -> GuardedSite:
    root = Resource()
    root.putChild(b"x", Data(b"ok", "text/plain"))
    return GuardedSite(root, gate or ConnectionGate(clock=clock), header_timeout=5,
                       reactor=clock)


def test_half_sent_request_is_aborted_at_the_header_deadline() -> None:
    """Headers dribbled a byte at a time still end at the deadline (Twisted's idle timeout
    alone would wait for ever), and the connection's slot is freed."""
    clock = Clock()
    gate = ConnectionGate(clock=clock)
    site = guarded_site(clock, gate)
    protocol, transport = connect(site)
    assert gate.count("10.0.0.7") == 1
    for byte in HALF_REQUEST:
        clock.advance(4.9 / len(HALF_REQUEST))
        protocol.dataReceived(bytes([byte]))
    assert not transport.disconnected
    clock.advance(0.2)
    assert transport.disconnected
    protocol.connectionLost(None)
    assert gate.count("10.0.0.7") == 0


def test_complete_headers_stop_the_deadline_and_keep_alive_rearms_it() -> None:
    """A request whose headers arrive in time is served; the kept-alive connection then has
    the same deadline for its next request."""
    clock = Clock()
    site = guarded_site(clock)
    protocol, transport = connect(site)
    clock.advance(4)
    protocol.dataReceived(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assert not transport.disconnected
    clock.advance(4.9)
    assert not transport.disconnected
    clock.advance(0.2)
    assert transport.disconnected


def test_gate_refuses_over_the_per_address_and_total_caps() -> None:
    """Per address, then in total: the extra connection is answered 429/503 with the reason
    and closed; other addresses still get in until the total is reached; slots free on close."""
    clock = Clock()
    gate = ConnectionGate(max_total=4, max_per_address=2, clock=clock)
    site = guarded_site(clock, gate)
    held = [connect(site, "10.0.0.1"), connect(site, "10.0.0.1")]
    _, refused = connect(site, "10.0.0.1")
    assert refused.value().startswith(b"HTTP/1.1 429 ")
    assert b"too many unauthenticated connections from 10.0.0.1" in refused.value()
    assert refused.disconnecting
    held += [connect(site, "10.0.0.2"), connect(site, "10.0.0.3")]
    _, full = connect(site, "10.0.0.4")
    assert full.value().startswith(b"HTTP/1.1 503 ") and full.disconnecting
    held[0][0].connectionLost(None)
    protocol, transport = connect(site, "10.0.0.4")
    assert transport.value() == b"" and not transport.disconnecting
    assert gate.total == 4


def test_wrong_tokens_block_an_address_for_growing_periods() -> None:
    """The 3rd wrong token blocks the address 1 s, then 2 s, 4 s, capped at 5 s; a block
    refuses with 4429 whatever the hello; other addresses are unaffected; a right token
    clears the count; a quiet address is forgotten."""
    clock = Clock()
    throttle = WrongTokenThrottle(attempts=3, first_block=1, max_block=5, clock=clock)
    assert [throttle.failed("a") for _ in range(3)] == [0, 0, 1]
    refusal = throttle.refusal("a")
    assert refusal is not None and refusal.close_code == CloseCode.TOO_MANY_ATTEMPTS
    assert throttle.refusal("b") is None
    clock.advance(1)
    assert throttle.refusal("a") is None
    blocks = []
    for _ in range(4):
        blocks.append(throttle.failed("a"))
        clock.advance(blocks[-1])
    assert blocks == [2, 4, 5, 5]
    throttle.succeeded("a")
    assert throttle.failed("a") == 0
    clock.advance(100)
    assert [throttle.failed("a") for _ in range(2)] == [0, 0]  # forgotten: a fresh count


class _FakeProtocol:
    """What a VortexConnection needs of its protocol: a clock, sends and closes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[bytes] = []
        self.closes: list[tuple[int, str]] = []

    def _vortex_clock(self) -> Clock:
        return self.clock

    def send_binary(self, data: bytes) -> None:
        self.sent.append(data)

    def close_with(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


def full_connection(clock: Clock) -> tuple[VortexConnection, _FakeProtocol]:
    protocol = _FakeProtocol(clock)
    limits = TransportLimits(max_queued_bytes=1024, slow_consumer_seconds=3)
    conn = VortexConnection(protocol, "peek-mobile", "u1", "peek-client", "tcp:x", limits)
    conn.pauseProducing()
    conn.send(b"x" * 1000)
    with pytest.raises(VortexBackPressureError):
        conn.send(b"x" * 100)
    return conn, protocol


def test_a_queue_that_stays_full_closes_the_connection_with_4507() -> None:
    """Once a send is refused, the queue has slow_consumer_seconds to drain; it does not,
    so the connection is closed with SLOW_CONSUMER and a reason, once."""
    clock = Clock()
    conn, protocol = full_connection(clock)
    for _ in range(50):
        with pytest.raises(VortexBackPressureError):
            conn.send(b"x" * 100)
        clock.advance(0.05)
    assert protocol.closes == []
    clock.advance(0.6)
    assert protocol.closes == [(CloseCode.SLOW_CONSUMER,
                                "send queue stayed full for 3s: reconnect and resubscribe")]
    assert not clock.getDelayedCalls()


def test_a_queue_that_drains_in_time_keeps_the_connection() -> None:
    """A slow but live reader that drains to half the limit in time is not closed."""
    clock = Clock()
    conn, protocol = full_connection(clock)
    clock.advance(2.9)
    conn.resumeProducing()
    clock.advance(10)
    assert protocol.closes == [] and not clock.getDelayedCalls()


def test_log_throttle_logs_first_event_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    """1,000 events of one key give one line at once and one count line after the
    interval; another key logs its own first line."""
    clock = Clock()
    log = logging.getLogger("tests.hygiene")
    throttle = LogThrottle(log, interval=60, clock=clock)
    with caplog.at_level(logging.WARNING, "tests.hygiene"):
        for i in range(1000):
            throttle.log("a", "wrong tokens from a", "wrong token from a (%d)", i)
        throttle.log("b", "wrong tokens from b", "wrong token from b")
        clock.advance(60)
        throttle.log("a", "wrong tokens from a", "wrong token from a (again)")
    assert [r.getMessage() for r in caplog.records] == [
        "wrong token from a (0)", "wrong token from b",
        "wrong tokens from a: 999 more in the last 60 s", "wrong token from a (again)",
    ]


class AdmissionOverRealSockets(TestCase):
    """The bus websocket behind a GuardedSite, over real sockets on 127.0.0.1."""

    def setUp(self) -> None:
        self.gate = ConnectionGate(max_total=10, max_per_address=10)
        root = Resource()
        root.putChild(b"vortexws", vortex_server().resource())
        site = GuardedSite(root, self.gate, header_timeout=5)
        site.noisy = False
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.port_number = self.port.getHost().port

    async def _scenario(self) -> None:
        service = client(self.port_number, "peek-agent")
        self.addCleanup(service.stopService)
        await service.startService()
        # Authenticated: no longer counted, though still open.
        assert service.connection is not None and self.gate.total == 0
        # A websocket refused at its hello frees the slot it took over from HTTP.
        refused = probe(self.port_number, [b"not a hello"])
        code, _ = await refused.closed
        assert code == CloseCode.HELLO_MALFORMED
        await wait_for(lambda: self.gate.total == 0, what="the refused socket's slot to free")

    def test_slot_moves_from_http_to_websocket_and_frees(self) -> Deferred[None]:
        """An upgraded socket keeps its slot until its hello is accepted or it closes."""
        return Deferred.fromCoroutine(self._scenario())


class FloodWithinOneRead(RecordingHandler):
    """Answers the first frame with 30 MB in 100 KB frames, all within that one read."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted = 0
        self.refused = 0

    def on_frame(self, conn: VortexConnection, data: bytes) -> None:
        super().on_frame(conn, data)
        for _ in range(300):
            try:
                conn.send(b"x" * 100_000)
                self.accepted += 1
            except VortexBackPressureError:
                self.refused += 1


class BackPressureWithinOneRead(TestCase):
    """Over real sockets on 127.0.0.1."""

    async def _scenario(self) -> None:
        handler = FloodWithinOneRead()
        limits = TransportLimits(max_queued_bytes=1024, hello_timeout_seconds=5,
                                 heartbeat_seconds=30, heartbeat_timeout_seconds=30)
        port = listen(vortex_server(handler, limits))
        self.addCleanup(port.stopListening)
        service = client(port.getHost().port)
        self.addCleanup(service.stopService)
        await service.startService()
        assert service.connection is not None
        service.connection.send(b"flood me")
        await wait_for(lambda: handler.accepted + handler.refused == 300, what="the flood")
        # The kernel takes a few MB at most; the rest must meet the 1 KB queue limit.
        assert handler.refused > 0 and handler.accepted < 200, (handler.accepted,
                                                                 handler.refused)

    def test_a_read_that_writes_a_lot_meets_back_pressure(self) -> Deferred[None]:
        """Sends made while handling one read stop with back-pressure once the socket and
        Twisted's buffer are full, instead of buffering 30 MB for one peer."""
        return Deferred.fromCoroutine(self._scenario())

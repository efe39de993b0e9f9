"""Heartbeats, reconnects and backoff."""

import random

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from peek_platform.errors import VortexConnectionClosedError
from peek_vortex.transport import Backoff, TransportLimits
from peek_vortex.wire import CloseCode
from tests.vortex_transport.harness import (
    FAST,
    RecordingHandler,
    client,
    listen,
    vortex_server,
    wait_for,
)

HEARTBEAT = TransportLimits(heartbeat_seconds=0.1, heartbeat_timeout_seconds=0.3,
                            hello_timeout_seconds=5)


class BackoffTests(TestCase):
    """The delay policy alone."""

    def test_capped_and_jittered(self) -> None:
        """Delays grow, never exceed the cap, and are spread within [base/2, base]."""
        backoff = Backoff(initial=0.5, maximum=8.0, factor=2.0, rand=random.Random(7).random)
        delays = [backoff.delay(n) for n in range(12)]
        bases = [backoff.base(n) for n in range(12)]
        assert bases[:5] == [0.5, 1.0, 2.0, 4.0, 8.0] and set(bases[4:]) == {8.0}
        assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True))
        assert max(delays) <= 8.0
        assert len(set(delays[4:])) == len(delays[4:])  # jittered, not a constant cap
        assert backoff.delay(10_000) <= 8.0  # no overflow after a long outage

    def test_rejects_nonsense(self) -> None:
        """An initial delay above the cap is a configuration error."""
        with self.assertRaises(ValueError):
            Backoff(initial=5, maximum=1)


class ResilienceTests(TestCase):
    """Over real sockets on 127.0.0.1."""

    def test_retry_delays_follow_backoff_on_clock(self) -> Deferred[None]:
        """While the server is down, attempts wait exactly the seeded backoff delays."""
        async def run() -> None:
            closed = listen(vortex_server())
            port = closed.getHost().port
            await closed.stopListening()  # nothing listens there now
            clock = Clock()
            policy = dict(initial=0.5, maximum=4.0, factor=2.0)
            service = client(port, backoff=Backoff(**policy, rand=random.Random(3).random),
                             clock=clock)
            self.addCleanup(service.stopService)
            started = service.startService()
            delays = []
            for _ in range(7):
                [call] = await wait_for(clock.getDelayedCalls, what="a scheduled retry")
                delays.append(call.getTime() - clock.seconds())
                clock.advance(delays[-1])
            expected = Backoff(**policy, rand=random.Random(3).random)
            assert delays == pytest.approx([expected.delay(n) for n in range(7)], abs=1e-9)
            assert max(delays) <= 4.0 and delays[-1] != delays[-2]
            assert not started.called  # plugins would still be waiting
        return Deferred.fromCoroutine(run())

    def test_heartbeat_timeout_detects_dead_server(self) -> Deferred[None]:
        """A server that stops answering is dropped by the client's heartbeat, which reconnects.

        End to end over a socket; the heartbeat's timing itself is tested on a Clock in
        test_link.py and, between real protocols in memory, in test_memory.py.
        """
        async def run() -> None:
            endpoint = vortex_server(RecordingHandler(), FAST)
            port = listen(endpoint)
            self.addCleanup(port.stopListening)
            handler = RecordingHandler()
            service = client(port.getHost().port, handler=handler, limits=HEARTBEAT)
            self.addCleanup(service.stopService)
            await service.startService()
            first = service.connection
            [server_side] = endpoint.connections
            frozen = server_side._protocol.transport
            frozen.pauseProducing()  # the server hangs: it reads nothing, answers no ping
            self.addCleanup(frozen.resumeProducing)
            await wait_for(lambda: handler.closed, what="the heartbeat timeout")
            [(conn, reason)] = handler.closed
            assert conn is first and reason.by_us and "heartbeat" in reason.reason
            frozen.resumeProducing()
            await wait_for(lambda: len(handler.opened) == 2, what="the reconnect")
            assert handler.opened[1].uuid != first.uuid
        return Deferred.fromCoroutine(run())

    def test_reconnect_after_server_returns(self) -> Deferred[None]:
        """Server stops listening and closes; the client waits, then reconnects when it returns."""
        async def run() -> None:
            endpoint = vortex_server(RecordingHandler(echo=True), FAST)
            port = listen(endpoint)
            number = port.getHost().port
            handler = RecordingHandler()
            service = client(number, handler=handler)
            self.addCleanup(service.stopService)
            await service.startService()
            first = service.connection
            await port.stopListening()
            await endpoint.close_all()
            await wait_for(lambda: handler.closed, what="the close")
            [(conn, reason)] = handler.closed
            assert conn is first and reason.code == CloseCode.GOING_AWAY
            await wait_for(lambda: service._failures >= 2, what="refused reconnect attempts")
            assert service.connection is None
            port = listen(endpoint, number)
            self.addCleanup(port.stopListening)
            second = await service.when_connected()
            assert second.uuid != first.uuid and handler.opened == [first, second]
            second.send(b"again")
            await wait_for(lambda: handler.frames, what="the echo after reconnecting")
            with self.assertRaises(VortexConnectionClosedError):
                first.send(b"stale")
        return Deferred.fromCoroutine(run())



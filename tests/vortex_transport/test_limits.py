"""Frame size limits, back-pressure and isolation between connections."""

import logging
import struct

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_platform.errors import VortexBackPressureError, VortexFrameTooLargeError
from peek_vortex.transport import TransportLimits
from peek_vortex.wire import CloseCode, Hello
from tests.vortex_transport.harness import (
    TOKEN,
    LogRecords,
    RecordingHandler,
    client,
    listen,
    probe,
    vortex_server,
    wait_for,
)

LIMITS = TransportLimits(max_frame_bytes=64 * 1024, max_queued_bytes=1024 * 1024,
                         hello_timeout_seconds=5, heartbeat_seconds=30,
                         heartbeat_timeout_seconds=30)


class LimitTests(TestCase):
    """Over real sockets on 127.0.0.1."""

    def setUp(self) -> None:
        self.server_handler = RecordingHandler(echo=True)
        self.vortex_server = vortex_server(self.server_handler, LIMITS)
        self.port = listen(self.vortex_server)
        self.addCleanup(self.port.stopListening)
        self.port_number = self.port.getHost().port
        self.logs = LogRecords.attach(self)

    async def _connected(self, name: str = "peek-agent"):
        handler = RecordingHandler()
        service = client(self.port_number, name, handler=handler, limits=LIMITS)
        self.addCleanup(service.stopService)
        await service.startService()
        return service, handler

    def test_oversized_frame_closes_only_that_connection(self) -> Deferred[None]:
        """A frame over the limit closes its sender with 1009, logged once; others carry on."""
        async def run() -> None:
            good, good_handler = await self._connected("peek-client")
            bad = probe(self.port_number, [Hello("peek-agent", TOKEN).encode(),
                                           b"x" * (LIMITS.max_frame_bytes + 1)])
            code, reason = await bad.closed
            assert code == CloseCode.TOO_BIG, (code, reason)
            await wait_for(lambda: self.server_handler.closed, what="the server-side close")
            [(closed_conn, close)] = self.server_handler.closed
            assert closed_conn.name == "peek-agent" and close.code == CloseCode.TOO_BIG
            assert close.by_us
            mentions = [r for r in self.logs.records
                        if closed_conn.uuid in r.getMessage() and r.levelno >= logging.WARNING]
            assert len(mentions) == 1, [r.getMessage() for r in mentions]

            good.connection.send(b"still here")
            await wait_for(lambda: good_handler.frames, what="the echo on the good connection")
            assert good_handler.frames_from(good.connection) == [b"still here"]
            assert [c.name for c in self.vortex_server.connections] == ["peek-client"]
        return Deferred.fromCoroutine(run())

    def test_send_refuses_frame_over_limit(self) -> Deferred[None]:
        """send() refuses a frame above the negotiated limit without closing anything."""
        async def run() -> None:
            service, _ = await self._connected()
            conn = service.connection
            with self.assertRaises(VortexFrameTooLargeError):
                conn.send(b"x" * (LIMITS.max_frame_bytes + 1))
            assert not conn.closed
        return Deferred.fromCoroutine(run())

    def test_back_pressure_when_queue_full(self) -> Deferred[None]:
        """A slow reader makes send() raise once the queue limit is hit; writable() then
        fires after the reader catches up, and every accepted frame arrives in order."""
        async def run() -> None:
            service, handler = await self._connected()
            reader = service._protocol.transport
            reader.pauseProducing()  # the client stops reading its socket
            [conn] = self.vortex_server.connections_named("peek-agent")
            chunk = b"y" * (32 * 1024)
            sent = 0
            with self.assertRaises(VortexBackPressureError):
                while sent < 10_000:
                    conn.send(struct.pack(">I", sent) + chunk)
                    sent += 1
            assert 0 < conn.queued_bytes <= LIMITS.max_queued_bytes
            # Not a blanket refusal: roughly the queue limit was accepted first.
            assert sent * len(chunk) >= LIMITS.max_queued_bytes // 2
            writable = conn.writable()
            assert not writable.called
            reader.resumeProducing()
            await writable
            await wait_for(lambda: len(handler.frames) == sent, what=f"{sent} frames")
            numbers = [struct.unpack(">I", data[:4])[0] for _, data in handler.frames]
            assert numbers == list(range(sent))
            assert conn.queued_bytes == 0
            conn.send(b"after")  # sending works again
        return Deferred.fromCoroutine(run())

"""A read writes the frames its handling produced on the same socket before the next loop turn."""

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_platform.vortex.transport import VortexConnection
from tests.vortex_transport.harness import (
    RecordingHandler,
    client,
    listen,
    server_endpoint,
    wait_for,
)


def unwritten_bytes(transport: Any) -> int:
    """Bytes a Twisted TCP transport still holds in its write buffers."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


class AnswerAndLook(RecordingHandler):
    """Answers every frame, then notes how much of the answer is still buffered once the
    read that carried the frame has been handled (a callLater(0) runs before the
    reactor's next poll, which is when Twisted would otherwise write)."""

    def __init__(self) -> None:
        super().__init__()
        self.left_after_read: list[int] = []

    def on_frame(self, conn: VortexConnection, data: bytes) -> None:
        super().on_frame(conn, data)
        for _ in range(3):
            conn.send(b"answer:" + data)
        transport = conn._protocol.transport
        reactor.callLater(0, lambda: self.left_after_read.append(unwritten_bytes(transport)))


class FlushTests(TestCase):
    """Over real sockets on 127.0.0.1."""

    def test_answers_leave_within_the_read_that_asked(self) -> Deferred[None]:
        """Frames a handler sends back while handling a read are on the socket when the
        read returns, all of them, in order; the peer gets each one."""
        handler = AnswerAndLook()
        port = listen(server_endpoint(handler))
        self.addCleanup(port.stopListening)

        async def run() -> None:
            received = RecordingHandler()
            service = client(port.getHost().port, handler=received)
            self.addCleanup(service.stopService)
            await service.startService()
            conn = await wait_for(lambda: received.opened and received.opened[0],
                                  what="the client connection")
            for n in range(5):
                conn.send(b"q%d" % n)
            await wait_for(lambda: len(received.frames) == 15, what="every answer")
            assert [data for _, data in received.frames] == [
                b"answer:q%d" % n for n in range(5) for _ in range(3)]
            await wait_for(lambda: len(handler.left_after_read) >= 1, what="the checks")
            assert set(handler.left_after_read) == {0}, handler.left_after_read

        return Deferred.fromCoroutine(run())

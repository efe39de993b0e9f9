"""A read sends the frames its handling wrote on the same socket before the next loop turn."""

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

import peek_vortex.transport._fastpath as fastpath
from peek_vortex.transport import ReadBatchWriter, VortexConnection
from tests.vortex_transport.harness import (
    RecordingHandler,
    client,
    listen,
    vortex_server,
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
        port = listen(vortex_server(handler))
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


class SendPathTests(TestCase):
    """The mixin's own sendData keeps autobahn's accounting and its queued path."""

    def test_frames_are_counted_and_queued_sends_still_go_through_autobahn(
            self) -> Deferred[None]:
        """Plain sends count their octets in autobahn's traffic stats as autobahn does;
        a sync send (autobahn's queued path) still arrives, in order."""
        handler = RecordingHandler()
        port = listen(vortex_server(handler))
        self.addCleanup(port.stopListening)

        async def run() -> None:
            service = client(port.getHost().port, handler=RecordingHandler())
            self.addCleanup(service.stopService)
            await service.startService()
            conn = await wait_for(lambda: handler.opened and handler.opened[0],
                                  what="the server side of the connection")
            protocol = conn._protocol
            before = protocol.trafficStats.outgoingOctetsWireLevel
            conn.send(b"x" * 100)
            assert protocol.trafficStats.outgoingOctetsWireLevel - before >= 102
            protocol.sendMessage(b"queued", isBinary=True, sync=True)
            conn.send(b"after")
            peer = service.handler
            await wait_for(lambda: len(peer.frames) == 3, what="the three frames")
            assert [data for _, data in peer.frames] == [b"x" * 100, b"queued", b"after"]

        return Deferred.fromCoroutine(run())


class RecordingTcpTransport:
    """Just the parts of a Twisted TCP transport the writer reads, with scripted sends."""

    def __init__(self, accepts: Any = None) -> None:
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataLen = 0
        self.connected = True
        self.disconnecting = False
        self.accepts = accepts  # bytes one send takes (None: all), or an exception
        self.sent: list[bytes] = []
        self.buffered: list[bytes] = []
        self.calls: list[str] = []

    def writeSomeData(self, data: bytes) -> Any:  # noqa: N802 - twisted API
        if isinstance(self.accepts, Exception):
            return self.accepts
        taken = len(data) if self.accepts is None else min(self.accepts, len(data))
        self.sent.append(data[:taken])
        return taken

    def write(self, data: bytes) -> None:
        self.buffered.append(data)
        self._tempDataLen += len(data)

    def loseConnection(self) -> None:  # noqa: N802 - twisted API
        self.calls.append("loseConnection")

    def abortConnection(self) -> None:  # noqa: N802 - twisted API
        self.calls.append("abortConnection")

    def getPeer(self) -> str:  # noqa: N802 - twisted API
        return "peer"


class ReadBatchWriterTests(TestCase):
    """The writer's decisions, one per case."""

    def test_one_read_leaves_in_one_send(self) -> None:
        """Writes during a read are joined into one send when nothing older waits."""
        transport = RecordingTcpTransport()
        writer = ReadBatchWriter(transport)
        writer.hold()
        writer.write(b"a")
        writer.writeSequence([b"b", b"c"])
        assert transport.sent == [] and transport.buffered == []
        writer.release()
        assert transport.sent == [b"abc"] and transport.buffered == []
        writer.write(b"outside a read")
        assert transport.buffered == [b"outside a read"]

    def test_older_buffered_bytes_keep_their_place(self) -> None:
        """When Twisted still holds older bytes, the new ones queue behind them."""
        transport = RecordingTcpTransport()
        transport.write(b"older")
        writer = ReadBatchWriter(transport)
        writer.hold()
        writer.write(b"newer")
        writer.release()
        assert transport.sent == [] and transport.buffered == [b"older", b"newer"]

    def test_what_the_socket_does_not_take_is_buffered(self) -> None:
        """A partial send hands the rest to the transport's write (back-pressure path)."""
        transport = RecordingTcpTransport(accepts=2)
        writer = ReadBatchWriter(transport)
        writer.hold()
        writer.write(b"abcdef")
        writer.release()
        assert transport.sent == [b"ab"] and transport.buffered == [b"cdef"]

    def test_a_failed_send_is_left_to_the_reactor(self) -> None:
        """A send error buffers everything, so the reactor's own write meets the error."""
        transport = RecordingTcpTransport(accepts=ConnectionResetError("gone"))
        writer = ReadBatchWriter(transport)
        writer.hold()
        writer.write(b"abc")
        writer.release()
        assert transport.buffered == [b"abc"]

    def test_close_sends_first_abort_discards(self) -> None:
        """loseConnection during a read sends what the read wrote first; abort drops it;
        other attributes are the transport's."""
        transport = RecordingTcpTransport()
        writer = ReadBatchWriter(transport)
        writer.hold()
        writer.write(b"last words")
        writer.loseConnection()
        assert transport.sent == [b"last words"] and transport.calls == ["loseConnection"]
        writer.hold()
        writer.write(b"never sent")
        writer.abortConnection()
        writer.release()
        assert transport.sent == [b"last words"] and transport.buffered == []
        assert transport.calls == ["loseConnection", "abortConnection"]
        assert writer.getPeer() == "peer"


class FanOutBatchTests(TestCase):
    """Writes to other connections while one read is handled leave when it is done."""

    def test_other_connections_writes_leave_when_the_read_is_done(self) -> None:
        """During a read, each other connection's writes are joined into one send at its
        end (not left to the reactor's next turn); outside a read they are Twisted's."""
        first, second = RecordingTcpTransport(), RecordingTcpTransport()
        writers = [ReadBatchWriter(first), ReadBatchWriter(second)]
        assert fastpath.read_started()
        try:
            assert not fastpath.read_started()  # a nested read leaves it to the outer one
            for writer in writers:
                writer.write(b"update 1;")
            writers[0].write(b"update 2;")
            assert first.sent == second.sent == [] and first.buffered == second.buffered == []
        finally:
            fastpath.read_done()
        assert first.sent == [b"update 1;update 2;"] and second.sent == [b"update 1;"]
        writers[1].write(b"later")
        assert second.buffered == [b"later"] and second.sent == [b"update 1;"]

    def test_a_connection_closed_during_the_read_sends_once(self) -> None:
        """A joined connection closed during the read sends what it had first, once."""
        transport = RecordingTcpTransport()
        writer = ReadBatchWriter(transport)
        fastpath.read_started()
        try:
            writer.write(b"last words")
            writer.loseConnection()
        finally:
            fastpath.read_done()
        assert transport.sent == [b"last words"] and transport.calls == ["loseConnection"]

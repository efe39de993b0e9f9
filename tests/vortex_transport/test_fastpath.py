"""The write fast path: its private internals still exist, and its one switch turns it off."""

from typing import Any

from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

import peek_vortex.transport._fastpath as fastpath
from tests.vortex_transport.harness import (
    RecordingHandler,
    client,
    listen,
    vortex_server,
    wait_for,
)
from tests.vortex_transport.memory import memory_pair


class _RenamedTcp(tcp.Connection):
    """Stands for a Twisted release that renamed one write-buffer internal."""

    @property
    def _tempDataLen(self) -> int:  # noqa: N802
        # hasattr() is False for an attribute that raises AttributeError.
        raise AttributeError("_tempDataLen")


class InternalsTests(TestCase):
    """Fails loudly, naming the attribute and versions, when a release renames an internal."""

    def test_the_installed_twisted_and_autobahn_have_every_internal(self) -> None:
        """Every private attribute the fast path reads exists in the installed releases."""
        problems = fastpath.internals_problems()
        assert not problems, fastpath.describe(problems)

    def test_a_renamed_internal_is_named_with_the_versions(self) -> None:
        """The message names the missing attribute, both versions and the switch."""
        class Bare:
            pass

        problems = fastpath.internals_problems(tcp_class=Bare)
        assert "twisted.internet.tcp.Connection.writeSomeData" in problems
        message = fastpath.describe(problems)
        assert "Twisted " in message and "autobahn " in message and "ENABLED" in message

    def test_a_changed_senddata_signature_is_named(self) -> None:
        """autobahn changing sendData's parameters is reported, not silently mirrored."""
        class NewAutobahn:
            _dataReceived = STATE_OPEN = STATE_CONNECTING = STATE_PROXY_CONNECTING = None

            def sendData(self, data: bytes, flush: bool = False) -> None:  # noqa: N802
                pass

        [problem] = fastpath.internals_problems(websocket_class=NewAutobahn)
        assert "sendData" in problem and "flush" in problem

    def test_live_connections_have_the_instance_internals(self) -> Deferred[None]:
        """An open connection's autobahn protocol and TCP transport carry what the fast path
        reads, and the batching writer is installed on both ends."""
        endpoint = vortex_server(RecordingHandler(echo=True))
        port = listen(endpoint)
        self.addCleanup(port.stopListening)

        async def run() -> None:
            received = RecordingHandler()
            service = client(port.getHost().port, handler=received)
            self.addCleanup(service.stopService)
            await service.startService()
            protocol = service.connection._protocol
            problems = fastpath.internals_problems(protocol=protocol,
                                                   transport=protocol._writer._transport)
            assert not problems, fastpath.describe(problems)
            [server_conn] = endpoint.connections
            for end in (protocol, server_conn._protocol):
                assert isinstance(end._writer, fastpath.ReadBatchWriter)
        return Deferred.fromCoroutine(run())


class SwitchTests(TestCase):
    """``fastpath.ENABLED = False`` keeps Twisted's and autobahn's public paths."""

    def test_switched_off_frames_flow_without_the_writer(self) -> Deferred[None]:
        """With the switch off no connection gets a batching writer, and frames still flow
        both ways in order."""
        self.patch(fastpath, "ENABLED", False)
        endpoint = vortex_server(RecordingHandler(echo=True))
        port = listen(endpoint)
        self.addCleanup(port.stopListening)

        async def run() -> None:
            received = RecordingHandler()
            service = client(port.getHost().port, handler=received)
            self.addCleanup(service.stopService)
            await service.startService()
            conn = service.connection
            for n in range(20):
                conn.send(b"frame %d" % n)
            await wait_for(lambda: len(received.frames) == 20, what="the echoes")
            assert received.frames_from(conn) == [b"frame %d" % n for n in range(20)]
            [server_conn] = endpoint.connections
            for end in (conn._protocol, server_conn._protocol):
                assert end._writer is None
                assert type(end.transport) in fastpath.TCP_TRANSPORTS
        return Deferred.fromCoroutine(run())

    def test_a_transport_missing_an_internal_keeps_the_public_path(self) -> None:
        """A TCP transport lacking an internal gets no writer (and one warning)."""
        self.patch(fastpath, "TCP_TRANSPORTS", (_RenamedTcp,))
        self.patch(fastpath, "_warned_missing", False)
        transport = _RenamedTcp.__new__(_RenamedTcp)
        assert fastpath.batching_writer(transport) is None
        assert fastpath._warned_missing


def _frame(payload: bytes, first: int = 0x82, length_bytes: bytes = b"") -> bytes:
    """A server-side (unmasked) frame: ``first`` is FIN/RSV/opcode; the length is minimal
    unless ``length_bytes`` (the second byte onwards of the header) is given."""
    return bytes((first,)) + (length_bytes or fastpath.binary_frame(payload)[1:-len(payload)
                                               or None]) + payload


#: Plain frames of every length encoding, with a ping and a fragmented message among them.
_STREAM = [
    (_frame(b"a" * 5), [b"a" * 5]),
    (_frame(b""), [b""]),
    (_frame(b"b" * 125), [b"b" * 125]),
    (_frame(b"c" * 126), [b"c" * 126]),
    (_frame(b"ping!", first=0x89), []),
    (_frame(b"d" * 300), [b"d" * 300]),
    (_frame(b"fir", first=0x02) + _frame(b"st", first=0x80), [b"first"]),
    (_frame(b"e" * 70_000), [b"e" * 70_000]),
    (_frame(b"f" * 3), [b"f" * 3]),
]

_INCOMING = fastpath.AUTOBAHN_INCOMING_COUNTERS


class FrameReaderTests(TestCase):
    """The client-side frame reader delivers exactly what autobahn's reader would."""

    def _pair(self, reader: bool) -> Any:
        pair = memory_pair()
        assert pair.client._fast_read and not pair.server._fast_read
        pair.client._fast_read = reader
        return pair

    def _feed(self, pair: Any, data: bytes, chunk: int) -> tuple[list[bytes], list[int]]:
        [conn] = pair.client_handler.opened
        before = len(pair.client_handler.frames_from(conn))
        stats = pair.client.trafficStats
        counts = [getattr(stats, name) for name in _INCOMING]
        for at in range(0, len(data), chunk):
            pair.client.dataReceived(data[at:at + chunk])
        return (pair.client_handler.frames_from(conn)[before:],
                [getattr(stats, name) - n for name, n in zip(_INCOMING, counts, strict=True)])

    def test_every_split_of_a_mixed_stream_delivers_what_autobahn_does(self) -> None:
        """Whatever the reads look like (one byte to all at once), plain frames, a ping
        and a fragmented message arrive in order with the same traffic counters as with
        the reader off; the reader really takes the whole plain frames."""
        data = b"".join(frame for frame, _ in _STREAM)
        expected = [m for _, messages in _STREAM for m in messages]
        for chunk in (1, 2, 3, 7, 64, 1000, 70_010, len(data)):
            off = self._feed(self._pair(reader=False), data, chunk)
            assert off[0] == expected, chunk
            on_pair = self._pair(reader=True)
            read = on_pair.client._read_plain_frames
            taken: list[int] = []

            def counting(d: bytes, read: Any = read, taken: list[int] = taken) -> bytes:
                rest = read(d)
                taken.append(len(d) - len(rest))
                return rest
            on_pair.client._read_plain_frames = counting
            assert self._feed(on_pair, data, chunk) == off, chunk
            if chunk == len(data):
                assert taken == [len(_frame(b"a" * 5) + _frame(b"") + _frame(b"b" * 125)
                                     + _frame(b"c" * 126))]

    def test_an_oversized_plain_frame_still_closes_with_1009(self) -> None:
        """A plain frame over the size limit is not delivered: autobahn closes with 1009,
        even when only its header has arrived."""
        for whole in (True, False):
            pair = self._pair(reader=True)
            pair.client.maxFramePayloadSize = pair.client.maxMessagePayloadSize = 100
            frame = _frame(b"x" * 101)
            frames, _ = self._feed(pair, _frame(b"ok") + (frame if whole else frame[:4]), 10**6)
            assert frames == [b"ok"]
            assert pair.client.localCloseCode == 1009

    def test_bad_frames_still_close_with_1002(self) -> None:
        """A non-minimal length, a masked server frame and a reserved bit are protocol
        errors (1002) after the plain frames before them were delivered."""
        for bad in (_frame(b"y" * 5, length_bytes=b"\x7e\x00\x05"),
                    _frame(b"y" * 200, length_bytes=b"\x7f" + (200).to_bytes(8, "big")),
                    b"\x82\x85abcd" + b"y" * 5,
                    _frame(b"y", first=0xC2)):
            pair = self._pair(reader=True)
            frames, _ = self._feed(pair, _frame(b"ok") + bad + _frame(b"after"), 10**6)
            assert frames == [b"ok"], bad
            assert pair.client.localCloseCode == 1002, bad

    def test_frames_after_a_close_are_left_to_autobahn(self) -> None:
        """When handling a frame closes the connection, the frames behind it in the same
        read are autobahn's to judge, as without the reader."""
        results = []
        for reader in (False, True):
            pair = self._pair(reader=reader)
            handler = pair.client_handler
            on_frame = handler.on_frame

            def closing(conn: Any, data: bytes, pair: Any = pair, on_frame: Any = on_frame) -> None:
                on_frame(conn, data)
                if data == b"close":
                    pair.client.close_with(4000, "enough")
            handler.on_frame = closing  # type: ignore[method-assign]
            results.append(self._feed(pair, _frame(b"close") + _frame(b"later"), 10**6))
        assert results[0] == results[1]

    def test_switched_off_no_frame_goes_through_the_reader(self) -> None:
        """With ``ENABLED`` False the reader is not used even where it was enabled."""
        pair = self._pair(reader=True)
        self.patch(fastpath, "ENABLED", False)
        pair.client._read_plain_frames = lambda d: self.fail("reader used")  # type: ignore
        frames, _ = self._feed(pair, _frame(b"z"), 10**6)
        assert frames == [b"z"]

"""The write fast path: its private internals still exist, and its one switch turns it off."""

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

"""The hello exchange: who may connect under which name, and how refusals look."""

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.trial.unittest import TestCase

from peek_vortex.transport import (
    AccessPolicy,
    TransportLimits,
    VortexClientService,
    VortexServer,
)
from peek_vortex.wire import CloseCode, Hello
from tests.vortex_transport.harness import (
    FAST,
    TOKEN,
    LogRecords,
    RecordingHandler,
    client,
    listen,
    probe,
    vortex_server,
    wait_for,
)


class HelloTests(TestCase):
    """Over real sockets on 127.0.0.1."""

    def setUp(self) -> None:
        self.server_handler = RecordingHandler(echo=True)
        self.vortex_server = vortex_server(self.server_handler)
        self.port = listen(self.vortex_server)
        self.addCleanup(self.port.stopListening)
        self.port_number = self.port.getHost().port

    def _started(self, service: VortexClientService) -> Deferred[None]:
        self.addCleanup(service.stopService)
        return service.startService()

    async def _hello_ok(self) -> None:
        handler = RecordingHandler()
        service = client(self.port_number, "peek-agent", handler=handler)
        await self._started(service)
        conn = service.connection
        assert conn is not None and conn.name == "peek-server"
        server_conns = self.vortex_server.connections_named("peek-agent")
        assert [c.uuid for c in server_conns] == [conn.uuid]
        assert handler.opened == [conn]
        conn.send(b"\x00\x01ping")
        await wait_for(lambda: handler.frames, what="the echo")
        assert handler.frames_from(conn) == [b"\x00\x01ping"]
        assert self.server_handler.frames_from(server_conns[0]) == [b"\x00\x01ping"]

    def test_hello_ok(self) -> Deferred[None]:
        """A token holder is accepted under its name; both sides share one uuid; frames flow."""
        return Deferred.fromCoroutine(self._hello_ok())

    async def _refused(self, frames: list[bytes], binary: bool = True) -> tuple[int, str]:
        """Send raw frames; the (code, reason) the server closed with."""
        factory = probe(self.port_number, frames, binary)
        code, reason = await factory.closed
        assert self.vortex_server.connections == []
        assert factory.received == []  # no welcome, no frames
        return code, reason

    def test_bad_token_rejected(self) -> Deferred[None]:
        """A wrong token closes with 4401 and a reason naming the problem."""
        async def run() -> None:
            logs = LogRecords.attach(self)
            code, reason = await self._refused([Hello("peek-agent", "x" * 40).encode()])
            assert code == CloseCode.UNAUTHORISED
            assert "wrong token" in reason
            # The refusal is logged before the close frame is sent, so it is already here.
            [line] = logs.warnings_mentioning("wrong token")
            assert "4401" in line and "x" * 40 not in line
        return Deferred.fromCoroutine(run())

    def test_missing_token_rejected(self) -> Deferred[None]:
        """A service name without a token closes with 4401."""
        async def run() -> None:
            code, reason = await self._refused([Hello("peek-client").encode()])
            assert code == CloseCode.UNAUTHORISED
            assert "must present the platform token" in reason
        return Deferred.fromCoroutine(run())

    def test_spoofed_server_name_rejected(self) -> Deferred[None]:
        """The platform token may not claim peek-server: 4403, even with a valid token."""
        async def run() -> None:
            code, reason = await self._refused([Hello("peek-server", TOKEN).encode()])
            assert code == CloseCode.NAME_FORBIDDEN
            assert "peek-server" in reason
        return Deferred.fromCoroutine(run())

    def test_malformed_hello_rejected(self) -> Deferred[None]:
        """Garbage as the first frame closes with 4400 and says a hello was expected."""
        async def run() -> None:
            code, reason = await self._refused([b"\xff\x00 not json"])
            assert code == CloseCode.HELLO_MALFORMED
            assert "hello" in reason
        return Deferred.fromCoroutine(run())

    def test_text_frame_rejected(self) -> Deferred[None]:
        """A text frame closes with 4415: the bus is binary only."""
        async def run() -> None:
            code, reason = await self._refused([Hello("peek-agent", TOKEN).encode()],
                                               binary=False)
            assert code == CloseCode.TEXT_FRAME
            assert "binary" in reason
        return Deferred.fromCoroutine(run())

    def test_oversized_hello_rejected(self) -> Deferred[None]:
        """Before the hello is accepted frames are capped small (1009), whatever the limit."""
        async def run() -> None:
            code, _reason = await self._refused([b"x" * 100_000])
            assert code == CloseCode.TOO_BIG
        return Deferred.fromCoroutine(run())

    def test_client_rejected_keeps_retrying(self) -> Deferred[None]:
        """A client with a wrong token is not connected and does not start its plugins."""
        async def run() -> None:
            service = client(self.port_number, "peek-agent", token="y" * 40)
            started = self._started(service)
            await wait_for(lambda: service._failures >= 2, what="two refused attempts")
            assert not started.called
            assert self.vortex_server.connections == []
        return Deferred.fromCoroutine(run())


class HelloTimeoutTests(TestCase):
    """A connection that never says hello."""

    def test_silent_peer_closed_after_hello_timeout(self) -> Deferred[None]:
        """No hello within the timeout: closed with 4408 and a reason naming the timeout."""
        async def run() -> None:
            endpoint = vortex_server(limits=TransportLimits(hello_timeout_seconds=0.2))
            port = listen(endpoint)
            self.addCleanup(port.stopListening)
            code, reason = await probe(port.getHost().port, []).closed
            assert code == CloseCode.HELLO_TIMEOUT and "no hello within 0.2s" in reason
        return Deferred.fromCoroutine(run())

    def test_stop_while_handshaking(self) -> Deferred[None]:
        """Stopping the client service before any welcome ends cleanly, nothing left open."""
        async def run() -> None:
            # A server that accepts TCP but never answers the websocket upgrade.
            silent = ServerFactory.forProtocol(Protocol)
            port = reactor.listenTCP(0, silent, interface="127.0.0.1")
            self.addCleanup(port.stopListening)
            service = client(port.getHost().port)
            started = service.startService()
            await wait_for(lambda: service._protocol is not None, what="the TCP connection")
            await service.stopService()
            await wait_for(lambda: service._protocol is None, what="the socket to close")
            assert not started.called and service.connection is None
        return Deferred.fromCoroutine(run())


class DeviceHelloTests(TestCase):
    """The client service's device websocket: anonymous devices, no service names."""

    def test_anonymous_device_accepted_service_name_refused(self) -> Deferred[None]:
        """peek-mobile connects without a token; peek-agent is refused there (4403)."""
        async def run() -> None:
            handler = RecordingHandler()
            endpoint = VortexServer("peek-client", AccessPolicy.for_devices(), FAST,
                                            handler)
            port = listen(endpoint)
            self.addCleanup(port.stopListening)
            number = port.getHost().port
            device = client(number, "peek-mobile", token=None)
            self.addCleanup(device.stopService)
            await device.startService()
            assert device.connection.name == "peek-client"
            assert [c.name for c in endpoint.connections] == ["peek-mobile"]
            code, _ = await probe(number, [Hello("peek-agent", TOKEN).encode()]).closed
            assert code == CloseCode.NAME_FORBIDDEN
        return Deferred.fromCoroutine(run())

    def test_configured_device_token(self) -> Deferred[None]:
        """With vortex.deviceToken set, a device without it gets 4401; with it, it connects."""
        async def run() -> None:
            endpoint = VortexServer("peek-client",
                                            AccessPolicy.for_devices("d" * 20), FAST)
            port = listen(endpoint)
            self.addCleanup(port.stopListening)
            number = port.getHost().port
            code, _ = await probe(number, [Hello("peek-desktop").encode()]).closed
            assert code == CloseCode.UNAUTHORISED
            device = client(number, "peek-desktop", token="d" * 20)
            self.addCleanup(device.stopService)
            await device.startService()
            assert [c.name for c in endpoint.connections] == ["peek-desktop"]
        return Deferred.fromCoroutine(run())

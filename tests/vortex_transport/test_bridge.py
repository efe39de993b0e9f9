"""The bridge joins routers over real websockets: requests, replies, names, bad frames, loss."""

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.vortex import Payload, PayloadEndpoint, TupleSelector
from peek_vortex.errors import ConnectionLostError, NoTransportError, RemoteError
from peek_vortex.routing import PayloadRouter
from peek_vortex.transport import CLOSE_MALFORMED_MESSAGE, VortexBridge
from peek_vortex.wire import VortexCodec
from tests.vortex_transport.harness import (
    RecordingHandler,
    client,
    listen,
    vortex_server,
    wait_for,
)


class BridgeTests(TestCase):
    """A server router and agent routers, each behind a VortexBridge, on 127.0.0.1."""

    def setUp(self) -> None:
        self.server_router = PayloadRouter()
        self.server_bridge = VortexBridge(self.server_router, "peek-server")
        self.vortex_server = vortex_server()
        self.vortex_server.handler = self.server_bridge
        self.port = listen(self.vortex_server)
        self.addCleanup(self.port.stopListening)

    async def _agent(self) -> tuple[PayloadRouter, VortexBridge, object]:
        router = PayloadRouter()
        bridge = VortexBridge(router, "peek-agent")
        service = client(self.port.getHost().port, "peek-agent")
        service.handler = bridge
        self.addCleanup(service.stopService)
        await service.startService()
        return router, bridge, service

    async def _request_reply(self) -> None:
        seen = []

        def handle(payloadEnvelope, vortexName, vortexUuid, sendResponse):
            seen.append(vortexName)
            sendResponse(Payload(payloadEnvelope.filt, result=payloadEnvelope.filt["n"] * 2))

        PayloadEndpoint({"key": "double"}, handle, router=self.server_router)
        agent_router, _, _ = await self._agent()
        reply = await agent_router.request(Payload({"key": "double", "n": 21}), "peek-server")
        assert reply.decodePayload().result == 42
        assert seen == ["peek-agent"]

    def test_request_reply_across_the_socket(self) -> Deferred[None]:
        """A request to peek-server reaches its endpoint, which sees the authenticated name,
        and the reply resolves the caller's Deferred."""
        return Deferred.fromCoroutine(self._request_reply())

    async def _broadcast(self) -> None:
        got: list[str] = []
        routers = []
        for i in range(2):
            router, _, _ = await self._agent()
            PayloadEndpoint({"key": "hello"}, lambda i=i, **_: got.append(f"agent{i}"),
                            router=router)
            routers.append(router)
        await wait_for(lambda: len(self.server_bridge.connections_named("peek-agent")) == 2)
        self.server_router.send(Payload({"key": "hello"}), "peek-agent")
        await wait_for(lambda: len(got) == 2, what="both agents")
        assert sorted(got) == ["agent0", "agent1"]
        with self.assertRaises(NoTransportError):
            self.server_router.send(Payload({"key": "hello"}), "peek-worker")

    def test_sending_to_a_name_reaches_every_connection_of_it(self) -> Deferred[None]:
        """Two agents connected: a message to peek-agent reaches both; an absent name is a
        clear error."""
        return Deferred.fromCoroutine(self._broadcast())

    async def _malformed(self) -> None:
        handler = RecordingHandler()
        bad = client(self.port.getHost().port, "peek-agent", handler=handler)
        self.addCleanup(bad.stopService)
        await bad.startService()
        good_router, _, _ = await self._agent()
        PayloadEndpoint({"key": "ping"}, lambda sendResponse, payloadEnvelope, **_:
                        sendResponse(Payload(payloadEnvelope.filt, result="pong")),
                        router=self.server_router)
        bad.connection.send(b"this is not a bus message")
        await wait_for(lambda: handler.closed, what="the close")
        assert handler.closed[0][1].code == CLOSE_MALFORMED_MESSAGE
        assert "malformed message" in handler.closed[0][1].reason
        reply = await good_router.request(Payload({"key": "ping"}), "peek-server")
        assert reply.decodePayload().result == "pong"

    def test_malformed_frame_closes_only_its_connection(self) -> Deferred[None]:
        """Garbage closes the sender with 4422 and a reason; another agent keeps working."""
        return Deferred.fromCoroutine(self._malformed())

    async def _loss(self) -> None:
        PayloadEndpoint({"key": "never"}, lambda **_: None, router=self.server_router)
        agent_router, _, service = await self._agent()
        waiting = agent_router.request(Payload({"key": "never"}), "peek-server", timeout=30)
        await wait_for(lambda: self.server_bridge.connections_named("peek-agent"))
        for conn in self.server_bridge.connections_named("peek-agent"):
            conn.close(4000, "test drops the agent")
        with self.assertRaises(ConnectionLostError):
            await waiting

    def test_lost_connection_fails_requests_in_flight(self) -> Deferred[None]:
        """Closing the connection fails the waiting request at once, not at its timeout."""
        return Deferred.fromCoroutine(self._loss())

    async def _zip_bomb(self) -> None:
        def handle(payloadEnvelope, sendResponse, **_):
            payloadEnvelope.decodePayload()  # inflating past the limit raises here
            sendResponse(Payload(payloadEnvelope.filt, result="decoded"))

        PayloadEndpoint({"key": "bomb"}, handle, router=self.server_router)
        agent_router, _, _ = await self._agent()
        # 16 MiB of one character compresses to under 128 KiB: a small frame, a huge body.
        bomb = Payload({"key": "bomb"}, [TupleSelector("x", {"s": "0" * (16 << 20)})])
        frame_body = bomb.makePayloadEnvelope()
        assert len(frame_body.toVortexMsg()) < 128 * 1024
        # The limit is the receiving router's codec (attach_bus sets it from config).
        self.server_router.codec = VortexCodec(max_inflated_bytes=1 << 20)
        with self.assertRaises(RemoteError) as raised:
            await agent_router.request(frame_body, "peek-server")
        assert raised.exception.code == "PayloadTooLargeError"
        small = Payload({"key": "bomb"}, [TupleSelector("x", {"s": "ok"})])
        reply = await agent_router.request(small, "peek-server")
        assert reply.decodePayload().result == "decoded"

    def test_zip_bomb_is_refused_and_the_connection_survives(self) -> Deferred[None]:
        """A tiny frame inflating past vortex.maxDecompressedBytes gets an error reply naming
        the limit error; the same connection keeps working."""
        return Deferred.fromCoroutine(self._zip_bomb())

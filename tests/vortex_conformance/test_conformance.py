"""The same bus cases on MemoryVortex and on real websockets: names, closes, requests, order.

:class:`ConformanceCases` holds the cases; :class:`OnMemoryVortex` runs them on the
in-memory bus tests and the plugin harness use, :class:`OnWebsockets` on a VortexServer
and VortexClientServices over TCP. A behaviour the fake had and the transport has not (or
the other way round) fails one of the two.
"""

from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_vortex.errors import (
    AccessDeniedError,
    ConnectionLostError,
    NoEndpointError,
    NoTransportError,
    RemoteError,
    VortexConnectionClosedError,
)
from peek_vortex.routing import PayloadEndpoint, VortexSender, connection_events
from peek_vortex.wire import Payload
from tests.vortex_conformance.buses import Bus, MemoryBus, Process, WebsocketBus


class EventLog:
    """A connection listener writing ("open"/"closed", connection) into a shared log."""

    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log

    def on_connection_open(self, connection: VortexSender) -> None:
        self.log.append(("open", connection))

    def on_connection_lost(self, connection: VortexSender) -> None:
        self.log.append(("closed", connection))


def answer_with(result: Any) -> Any:
    """An endpoint callback replying ``result`` to every request."""

    def answer(payloadEnvelope: Any, sendResponse: Any, **_: Any) -> None:
        sendResponse(Payload(payloadEnvelope.filt, result=result))

    return answer


def result_of(reply: Any) -> Any:
    return reply.decodePayload().result


class ConformanceCases:
    """The cases; a subclass (also a TestCase) says which bus they run on."""

    bus: Bus
    assertRaises: Any
    assertIn: Any

    def make_bus(self) -> Bus:
        raise NotImplementedError

    def setUp(self) -> None:
        self.bus = self.make_bus()

    # ---- unknown names

    def test_sending_to_a_name_without_a_connection_raises_no_transport(self) -> Deferred[None]:
        """A send or request to a vortex name the process holds no connection to raises
        NoTransportError (the request fails at once and is not left waiting), also when
        that name is connected elsewhere on the bus."""
        return Deferred.fromCoroutine(self._unknown_name())

    async def _unknown_name(self) -> None:
        server = self.bus.server
        agent = (await self.bus.service("peek-agent")).process
        await self.bus.service("peek-client")
        with self.assertRaises(NoTransportError):
            server.router.send(Payload({"key": "anything"}), "peek-worker")
        with self.assertRaises(NoTransportError):
            await server.router.request(Payload({"key": "anything"}), "peek-worker")
        assert server.router.pending_count == 0
        # The agent holds one connection, to the server: peek-client is not reachable.
        with self.assertRaises(NoTransportError):
            agent.router.send(Payload({"key": "anything"}), "peek-client")

    # ---- closed connections

    def test_sending_on_a_closed_connection_raises(self) -> Deferred[None]:
        """Once a link is closed, sending to its connection through the router raises
        ConnectionLostError (so does a request), the connection's own send raises
        VortexConnectionClosedError, and its name, with no connection left, NoTransportError."""
        return Deferred.fromCoroutine(self._closed_connection())

    async def _closed_connection(self) -> None:
        server = self.bus.server
        link = await self.bus.service("peek-agent")
        await self.bus.drop(link)
        assert link.accepting_end.closed and link.connecting_end.closed
        with self.assertRaises(ConnectionLostError):
            server.router.send(Payload({"key": "anything"}), link.accepting_end)
        with self.assertRaises(ConnectionLostError):
            link.process.router.send(Payload({"key": "anything"}), link.connecting_end)
        with self.assertRaises(ConnectionLostError):
            await server.router.request(Payload({"key": "anything"}), link.accepting_end)
        with self.assertRaises(VortexConnectionClosedError):
            link.accepting_end.send(Payload({"key": "anything"}).toVortexMsg())
        with self.assertRaises(NoTransportError):
            server.router.send(Payload({"key": "anything"}), "peek-agent")

    def test_a_reply_to_a_requester_that_left_raises_connection_lost(self) -> Deferred[None]:
        """An endpoint answering after its requester's connection closed gets
        ConnectionLostError from sendResponse; the requester's call failed with it too."""
        return Deferred.fromCoroutine(self._late_reply())

    async def _late_reply(self) -> None:
        held: list[Any] = []
        PayloadEndpoint({"key": "hold"}, lambda sendResponse, **_: held.append(sendResponse),
                        router=self.bus.server.router)
        link = await self.bus.service("peek-agent")
        waiting = link.process.router.request(Payload({"key": "hold"}), "peek-server")
        await self.bus.until(lambda: held, "the request at the server")
        await self.bus.drop(link)
        with self.assertRaises(ConnectionLostError):
            await waiting
        with self.assertRaises(ConnectionLostError):
            held[0](Payload({"key": "hold"}, result="too late"))

    # ---- requests in flight

    def test_requests_in_flight_fail_when_their_connection_closes(self) -> Deferred[None]:
        """Closing a link fails, at once and with ConnectionLostError, the requests both
        sides were waiting on over it: to the peer's name and to the connection."""
        return Deferred.fromCoroutine(self._pending_fail())

    async def _pending_fail(self) -> None:
        server = self.bus.server
        arrived: list[str] = []
        PayloadEndpoint({"key": "never"}, lambda **_: arrived.append("server"),
                        router=server.router)

        def prepare(process: Process) -> None:
            PayloadEndpoint({"key": "never"}, lambda **_: arrived.append("agent"),
                            router=process.router)

        link = await self.bus.service("peek-agent", prepare)
        agent = link.process
        waiting = [
            agent.router.request(Payload({"key": "never"}), "peek-server"),
            server.router.request(Payload({"key": "never"}), "peek-agent"),
            server.router.request(Payload({"key": "never"}), link.accepting_end),
        ]
        await self.bus.until(lambda: len(arrived) == 3, "all three requests delivered")
        await self.bus.drop(link)
        for d in waiting:
            with self.assertRaises(ConnectionLostError):
                await d
        assert (server.router.pending_count, agent.router.pending_count) == (0, 0)

    def test_a_request_to_a_name_outlives_one_of_its_connections(self) -> Deferred[None]:
        """A request sent to a name reaches every connection of it; losing one of them
        does not fail it while another remains, whose answer then resolves it."""
        return Deferred.fromCoroutine(self._name_survives())

    async def _name_survives(self) -> None:
        held: dict[str, list[Any]] = {"first": [], "second": []}

        def holding(which: str) -> Any:
            def prepare(process: Process) -> None:
                PayloadEndpoint(
                    {"key": "hold"},
                    lambda payloadEnvelope, sendResponse, **_: held[which].append(
                        (payloadEnvelope, sendResponse)),
                    router=process.router)
            return prepare

        first = await self.bus.service("peek-agent", holding("first"))
        await self.bus.service("peek-agent", holding("second"))
        waiting = self.bus.server.router.request(Payload({"key": "hold"}), "peek-agent")
        await self.bus.until(lambda: held["first"] and held["second"], "both agents asked")
        await self.bus.drop(first)
        assert not waiting.called
        envelope, respond = held["second"][0]
        respond(Payload(envelope.filt, result="second"))
        assert result_of(await waiting) == "second"

    # ---- order

    def test_events_and_messages_arrive_in_order(self) -> Deferred[None]:
        """Each side sees its connection open before any message on it and closed after
        the last; messages arrive in the order sent (also those sent from the open
        notice and from handlers), and the sender an endpoint sees is the connection
        the events name."""
        return Deferred.fromCoroutine(self._order())

    async def _order(self) -> None:
        server = self.bus.server
        count = 20
        at_server: list[tuple[Any, ...]] = []
        at_agent: list[tuple[Any, ...]] = []
        connection_events(server.router).add_listener(EventLog(at_server))

        def echo(payloadEnvelope: Any, vortexUuid: str, sendResponse: Any, **_: Any) -> None:
            at_server.append(("message", payloadEnvelope.filt["n"], vortexUuid))
            sendResponse(Payload({"key": "back", "n": payloadEnvelope.filt["n"]}))

        PayloadEndpoint({"key": "n"}, echo, router=server.router)

        class SendOnOpen(EventLog):
            def on_connection_open(self, connection: VortexSender) -> None:
                super().on_connection_open(connection)
                for n in range(3):
                    router.send(Payload({"key": "n", "n": n}), "peek-server")

        def prepare(process: Process) -> None:
            nonlocal router
            router = process.router
            connection_events(router).add_listener(SendOnOpen(at_agent))
            PayloadEndpoint({"key": "back"}, lambda payloadEnvelope, **_: at_agent.append(
                ("message", payloadEnvelope.filt["n"])), router=router)

        router = server.router  # set to the agent's by prepare
        link = await self.bus.service("peek-agent", prepare)
        for n in range(3, count):
            router.send(Payload({"key": "n", "n": n}), "peek-server")
        await self.bus.until(lambda: len(at_agent) == count + 1, "every echo back")
        await self.bus.drop(link)
        theirs, ours = link.accepting_end, link.connecting_end
        uuid = theirs.vortex_uuid
        assert at_server == ([("open", theirs)] + [("message", n, uuid) for n in range(count)]
                             + [("closed", theirs)])
        assert at_agent == ([("open", ours)] + [("message", n) for n in range(count)]
                            + [("closed", ours)])

    # ---- replies

    def test_replies_remote_errors_and_no_endpoint(self) -> Deferred[None]:
        """A request is answered by the endpoint whose filt it matches, which sees the
        caller's name and connection uuid; one matching no endpoint (unknown key, or a
        known key with another filt value) fails with NoEndpointError, a RemoteError; a
        failing endpoint's error arrives as a RemoteError with its type as the code; and
        requests work the other way, to a connection."""
        return Deferred.fromCoroutine(self._replies())

    async def _replies(self) -> None:
        server = self.bus.server
        seen: list[tuple[str, str]] = []

        def double(payloadEnvelope: Any, vortexName: str, vortexUuid: str,
                   sendResponse: Any) -> None:
            seen.append((vortexName, vortexUuid))
            sendResponse(Payload(payloadEnvelope.filt, result=payloadEnvelope.filt["n"] * 2))

        def fail(**_: Any) -> None:
            raise ValueError("the handler broke")

        PayloadEndpoint({"key": "double", "plugin": "a"}, double, router=server.router)
        PayloadEndpoint({"key": "fails"}, fail, router=server.router)
        link = await self.bus.service(
            "peek-agent", lambda p: PayloadEndpoint({"key": "who"}, answer_with("agent"),
                                                    router=p.router))
        agent = link.process.router
        reply = await agent.request(Payload({"key": "double", "plugin": "a", "n": 21}),
                                    "peek-server")
        assert result_of(reply) == 42
        assert seen == [("peek-agent", link.accepting_end.vortex_uuid)]
        with self.assertRaises(NoEndpointError) as other_filt:
            await agent.request(Payload({"key": "double", "plugin": "b", "n": 1}),
                                "peek-server")
        assert isinstance(other_filt.exception, RemoteError)
        with self.assertRaises(NoEndpointError):
            await agent.request(Payload({"key": "absent"}), "peek-server")
        with self.assertRaises(RemoteError) as failed:
            await agent.request(Payload({"key": "fails"}), "peek-server")
        assert failed.exception.code == "ValueError"
        reply = await server.router.request(Payload({"key": "who"}), link.accepting_end)
        assert result_of(reply) == "agent"
        assert (server.router.pending_count, agent.pending_count) == (0, 0)

    # ---- bad frames and devices

    def test_a_malformed_frame_closes_only_its_connection_with_4422(self) -> Deferred[None]:
        """Bytes that are not a bus message close the sender's connection with 4422 (its
        requests fail with ConnectionLostError saying so); another service's connection
        keeps working."""
        return Deferred.fromCoroutine(self._malformed())

    async def _malformed(self) -> None:
        server = self.bus.server
        PayloadEndpoint({"key": "never"}, lambda **_: None, router=server.router)
        PayloadEndpoint({"key": "ping"}, answer_with("pong"), router=server.router)
        bad = await self.bus.service("peek-agent")
        good = await self.bus.service("peek-worker")
        waiting = bad.process.router.request(Payload({"key": "never"}), "peek-server")
        bad.connecting_end.send(b"this is not a bus message")
        with self.assertRaises(ConnectionLostError) as lost:
            await waiting
        self.assertIn("4422 malformed message", str(lost.exception))
        await self.bus.until(lambda: bad.accepting_end.closed, "the server's end closed")
        assert result_of(await good.process.router.request(Payload({"key": "ping"}),
                                                            "peek-server")) == "pong"

    def test_a_device_reaches_only_its_client_service_as_itself(self) -> Deferred[None]:
        """A device's request to its client service is served and seen as the device's
        (name and connection uuid); one addressed past the client service is refused with
        AccessDeniedError."""
        return Deferred.fromCoroutine(self._device())

    async def _device(self) -> None:
        client = (await self.bus.service("peek-client")).process

        def who(payloadEnvelope: Any, vortexName: str, vortexUuid: str,
                sendResponse: Any) -> None:
            origin = payloadEnvelope.originator
            sendResponse(Payload(payloadEnvelope.filt,
                                 result=[vortexName, vortexUuid, origin.isDevice]))

        PayloadEndpoint({"key": "who"}, who, router=client.router)
        device = await self.bus.device("peek-mobile", client)
        reply = await device.process.router.request(Payload({"key": "who"}), "peek-client")
        assert result_of(reply) == ["peek-mobile", device.accepting_end.vortex_uuid, True]
        past = Payload({"key": "who"}).makePayloadEnvelope()
        past.destVortexName = "peek-server"
        with self.assertRaises(AccessDeniedError):
            await device.process.router.request(past, device.connecting_end)


class OnMemoryVortex(ConformanceCases, TestCase):
    """The cases on MemoryVortex (what unit tests and the plugin harness use)."""

    def make_bus(self) -> Bus:
        return MemoryBus()


class OnWebsockets(ConformanceCases, TestCase):
    """The cases on a VortexServer and VortexClientServices over TCP on 127.0.0.1."""

    def make_bus(self) -> Bus:
        return WebsocketBus(self)

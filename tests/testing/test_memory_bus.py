"""The in-memory bus delivers like a transport (its bridge is the transport's): by name, in
order, closes after the frames sent before them, failing lost requests."""

import pytest
from twisted.internet.task import Clock

from peek_plugin_base.testing import MemoryVortex
from peek_plugin_base.vortex import Payload, PayloadEndpoint
from peek_vortex.errors import ConnectionLostError
from peek_vortex.routing import connection_events
from peek_vortex.transport import VortexBridge
from tests.support import result_of


def test_request_reply_and_name_routing() -> None:
    """A request to a vortex name reaches that node's endpoint and the reply comes back."""
    bus = MemoryVortex(Clock())
    server, agent = bus.node("peek-server"), bus.node("peek-agent")
    bus.link(agent, server)
    seen = []

    def handle(payloadEnvelope, vortexName, vortexUuid, sendResponse):
        seen.append((vortexName, vortexUuid))
        sendResponse(Payload(filt=payloadEnvelope.filt, result="pong"))

    PayloadEndpoint({"key": "ping"}, handle, router=server.router)
    reply = result_of(agent.router.request(Payload({"key": "ping"}), "peek-server"))
    assert reply.decodePayload().result == "pong"
    assert seen == [("peek-agent", agent.uuid)]


def test_messages_sent_while_handling_are_delivered_after_in_order() -> None:
    """A handler's own sends are queued behind the current message, never re-entered."""
    bus = MemoryVortex(Clock())
    a, b = bus.node("a"), bus.node("b")
    bus.link(a, b)
    order = []

    def on_b(payloadEnvelope, **_):
        order.append(("b got", payloadEnvelope.filt["n"]))
        if payloadEnvelope.filt["n"] == 1:
            b.router.send(Payload({"key": "to-a", "n": 10}), "a")
            order.append(("b sent", 10))

    def on_a(payloadEnvelope, **_):
        order.append(("a got", payloadEnvelope.filt["n"]))

    PayloadEndpoint({"key": "to-b"}, on_b, router=b.router)
    PayloadEndpoint({"key": "to-a"}, on_a, router=a.router)
    a.router.send(Payload({"key": "to-b", "n": 1}), "b")
    assert order == [("b got", 1), ("b sent", 10), ("a got", 10)]


def test_unlink_fails_requests_in_flight() -> None:
    """Dropping the link fails a request waiting on it with ConnectionLostError."""
    bus = MemoryVortex(Clock())
    server, client = bus.node("peek-server"), bus.node("peek-client")
    link, _ = bus.link(client, server)
    PayloadEndpoint({"key": "slow"}, lambda **_: None, router=server.router)
    waiting = client.router.request(Payload({"key": "slow"}), "peek-server")
    bus.unlink(link)
    with pytest.raises(ConnectionLostError):
        result_of(waiting)


def test_frames_sent_before_a_close_arrive_before_it_and_none_after() -> None:
    """A node that answers and then closes the link: the peer gets the answer, then the
    close; what the peer sends back meanwhile is lost with the link, as on a socket."""
    bus = MemoryVortex(Clock())
    a, b = bus.node("a"), bus.node("b")
    bus.link(a, b)
    at_a: list[str] = []
    at_b: list[str] = []

    def on_b(payloadEnvelope, **_):
        at_b.append(payloadEnvelope.filt["key"])
        b.router.send(Payload({"key": "bye"}), "a")
        b.connection_to("a").close(1000, "done")

    def on_a(payloadEnvelope, **_):
        at_a.append("bye")
        a.router.send(Payload({"key": "ack"}), "b")  # b has already closed its end

    class Closed:
        def on_connection_open(self, connection):
            pass

        def on_connection_lost(self, connection):
            at_a.append("closed")

    connection_events(a.router).add_listener(Closed())
    PayloadEndpoint({"key": "hello"}, on_b, router=b.router)
    PayloadEndpoint({"key": "ack"}, on_b, router=b.router)
    PayloadEndpoint({"key": "bye"}, on_a, router=a.router)
    a.router.send(Payload({"key": "hello"}), "b")
    assert at_a == ["bye", "closed"]
    assert at_b == ["hello"]
    assert a.connections == [] and b.connections == []


def test_two_nodes_link_once_at_a_time() -> None:
    """Linking a linked pair again is refused (each end is known by its node's uuid);
    once unlinked, the pair can link again."""
    bus = MemoryVortex(Clock())
    a, b = bus.node("a"), bus.node("b")
    link, _ = bus.link(a, b)
    with pytest.raises(ValueError, match="already linked"):
        bus.link(b, a)
    bus.unlink(link)
    again, _ = bus.link(a, b)
    assert a.connection_to("b") is again


def test_each_node_is_joined_by_the_transports_bridge() -> None:
    """A node's router sends through a VortexBridge, the websocket transport's own, which
    lists the node's open links by peer name."""
    bus = MemoryVortex(Clock())
    a, b = bus.node("a"), bus.node("b")
    link, _ = bus.link(a, b)
    assert isinstance(a.bridge, VortexBridge)
    assert a.router._send == a.bridge.send
    assert a.bridge.connections_named("b") == [link]
    bus.unlink(link)
    assert a.bridge.connections_named("b") == []

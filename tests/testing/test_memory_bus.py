"""The in-memory bus delivers like a transport: by name, in order, failing lost requests."""

import pytest
from twisted.internet.task import Clock

from peek_plugin_base.testing import MemoryVortex
from peek_plugin_base.vortex import Payload, PayloadEndpoint
from peek_vortex.errors import ConnectionLostError
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

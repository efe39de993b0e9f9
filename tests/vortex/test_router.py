"""Routing: subset matching through the index, endpoint lifecycle, handler failures."""


import re

import pytest
from twisted.internet.defer import fail, succeed

from peek_plugin_base.vortex import (
    Payload,
    PayloadEndpoint,
    PayloadEnvelope,
    PayloadRouter,
    Tuple,
    TupleField,
)
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.errors import DecodeError, NoTransportError, RoutingError
from peek_vortex.routing import LocalSender
from peek_vortex.wire import Originator


class Sent:
    """A transport stand-in: records what the router hands it."""

    def __init__(self) -> None:
        self.messages: list[tuple[object, bytes]] = []

    def __call__(self, destination: object, data: bytes) -> None:
        self.messages.append((destination, data))


class Item(Tuple):
    __tupleType__ = "test.router.Item"
    n = TupleField()


@pytest.fixture
def router() -> PayloadRouter:
    return PayloadRouter(send=Sent())


@pytest.fixture
def peer() -> LocalSender:
    return LocalSender("peek-agent", "agent-uuid-1")


def listen(router: PayloadRouter, filt: dict, **kwargs) -> tuple[PayloadEndpoint, list]:
    calls: list = []

    def callback(payloadEnvelope, vortexName, vortexUuid, sendResponse):
        calls.append((payloadEnvelope, vortexName, vortexUuid))

    return PayloadEndpoint(filt, callback, router=router, **kwargs), calls


def msg(filt: dict, **kwargs) -> bytes:
    return Payload(filt, **kwargs).toVortexMsg()


def test_subset_match(router, peer):
    """An endpoint gets messages whose filt contains all its items, extra keys allowed;
    a missing item or a different value (incl. True vs 1, list order) does not match."""
    _, calls = listen(router, {"key": "obs", "name": "a", "flag": 1, "path": [1, 2]})
    base = {"key": "obs", "name": "a", "flag": 1, "path": [1, 2]}
    router.receive(msg({**base, "extra": {"x": 1}}), peer)
    for other in (
        {"key": "obs", "name": "a", "flag": 1},
        {**base, "name": "b"},
        {**base, "flag": True},
        {**base, "path": [2, 1]},
        {**base, "key": "other"},
    ):
        router.receive(msg(other), peer)
    assert len(calls) == 1
    envelope, name, uuid = calls[0]
    assert envelope.filt["extra"] == {"x": 1}
    assert (name, uuid) == ("peek-agent", "agent-uuid-1")


def test_every_matching_endpoint_gets_the_message(router, peer):
    """Several endpoints with the same or narrower filts all receive one message; their
    callbacks see the body still encoded and decode it on demand."""
    _, calls1 = listen(router, {"key": "k"})
    _, calls2 = listen(router, {"key": "k"})
    _, calls3 = listen(router, {"key": "k", "sub": 2})
    _, calls4 = listen(router, {"key": "k", "sub": 3})
    router.receive(msg({"key": "k", "sub": 2}), peer)
    assert (len(calls1), len(calls2), len(calls3), len(calls4)) == (1, 1, 1, 0)


def test_endpoint_filt_requires_key(router):
    """Endpoints must name a key: it is what the index is built on."""
    with pytest.raises(RoutingError, match="'key'"):
        PayloadEndpoint({"name": "x"}, lambda **kw: None, router=router)


def test_lookup_goes_through_the_index(router):
    """A lookup only looks at endpoints filed under the message's key: with 20 000
    endpoints on other keys, none of their buckets is even iterated."""
    target, _ = listen(router, {"key": "target", "name": "t"})
    filt = {"key": "target", "name": "t", "x": 1}
    for i in range(20000):
        listen(router, {"key": f"other-{i}", "name": "t"})

    class Untouchable(dict):
        def items(self):
            raise AssertionError("the lookup scanned endpoints of an unrelated key")

        __iter__ = values = items

    for key in list(router._index):
        if key != "target":
            router._index[key] = Untouchable(router._index[key])
    assert router.endpoints_for(filt) == [target]
    assert sum(len(b) for b in dict.values(router._index["target"])) == 1


def test_shutdown_stops_delivery(router, peer):
    """After shutdown (twice is fine) the endpoint gets nothing and leaves the index."""
    endpoint, calls = listen(router, {"key": "k"})
    endpoint.shutdown()
    endpoint.shutdown()
    router.receive(msg({"key": "k"}), peer)
    assert calls == [] and router.endpoint_count == 0


def test_plugin_rollback_shuts_endpoints_down(router, peer):
    """An endpoint created while a plugin loads is recorded and removed by its rollback."""
    log = OwnershipScope("peek_plugin_demo")
    with owned_by(log):
        _, calls = listen(router, {"key": "k"})
    assert log.descriptions == ["bus websocket {'key': 'k'}"]
    log.rollback()
    router.receive(msg({"key": "k"}), peer)
    assert calls == [] and router.endpoint_count == 0


def test_accept_only_from_vortex(router):
    """acceptOnlyFromVortex filters by the sender's (authenticated) vortex name."""
    _, calls = listen(router, {"key": "k"}, acceptOnlyFromVortex="peek-server")
    router.receive(msg({"key": "k"}), LocalSender("peek-agent", "a"))
    router.receive(msg({"key": "k"}), LocalSender("peek-server", "s"))
    assert [c[1] for c in calls] == ["peek-server"]


def test_failing_handler_sends_error_code_not_traceback(router, peer):
    """A handler that raises (or whose Deferred fails) is logged; a request gets one error
    reply with the exception type as code and an error id instead of its message (the
    message and traceback are in the log under that id); other endpoints still run."""
    seen = []

    def boom(**kwargs):
        raise ValueError("bad input 42")

    def fails_later(**kwargs):
        return fail(KeyError("later"))

    PayloadEndpoint({"key": "k"}, boom, router=router)
    PayloadEndpoint({"key": "k"}, fails_later, router=router)
    PayloadEndpoint({"key": "k"}, lambda **kw: seen.append(1) or succeed(None), router=router)
    router.receive(msg({"key": "k"}, ), peer)  # not a request: no replies
    assert router._send.messages == []
    router.receive(Payload({"key": "k"}).toVortexMsg(messageId="req-1"), peer)
    replies = [PayloadEnvelope.fromVortexMsg(d) for _, d in router._send.messages]
    assert [(r.replyToId, r.error[0]) for r in replies] == [
        ("req-1", "ValueError"), ("req-1", "KeyError")]
    for reply in replies:
        assert re.fullmatch(r"internal error, id [0-9a-f]{12}", reply.error[1]), reply.error
    assert all(dest is peer for dest, _ in router._send.messages)
    assert "Traceback" not in repr(replies) and seen == [1, 1]


def test_async_handler_and_send_response(router, peer):
    """A coroutine handler may reply with a Payload; the reply goes back to the sender's
    connection marked with the request's id."""

    async def handler(payloadEnvelope, sendResponse, **kwargs):
        payload = payloadEnvelope.decodePayload()
        sendResponse(Payload(payload.filt, [Item(n=payload.tuples[0].n + 1)]))

    PayloadEndpoint({"key": "inc"}, handler, router=router)
    router.receive(Payload({"key": "inc"}, [Item(n=1)]).toVortexMsg(messageId="m7"), peer)
    (dest, data), = router._send.messages
    reply = PayloadEnvelope.fromVortexMsg(data)
    assert dest is peer and reply.replyToId == "m7"
    assert reply.decodePayload().tuples == [Item(n=2)]


@pytest.fixture(autouse=True)
def _item_type(register):
    register(Item)


def test_send_response_with_bytes_rewrites_only_the_header(router, peer):
    """Replying with ready-made bytes (e.g. a cached observable body) keeps the body bytes."""
    cached = Payload({"key": "k"}, [Item(n=i) for i in range(3)]).toVortexMsg()
    PayloadEndpoint({"key": "k"}, lambda sendResponse, **kw: sendResponse(cached), router=router)
    router.receive(Payload({"key": "k"}).toVortexMsg(messageId="m1"), peer)
    (_, data), = router._send.messages
    assert data.split(b"\n", 1)[1] == cached.split(b"\n", 1)[1]
    assert PayloadEnvelope.fromVortexMsg(data).replyToId == "m1"


def test_messages_for_other_vortexes(peer):
    """A message addressed to another vortex is not delivered here and never forwarded."""
    sent = Sent()
    router = PayloadRouter(send=sent, local_vortex_names=("peek-client",))
    _, calls = listen(router, {"key": "k"})
    data = Payload({"key": "k"}, [Item(n=1)]).toVortexMsg(destVortexName="peek-server")
    router.receive(data, peer)
    assert calls == [] and sent.messages == []
    router.receive(Payload({"key": "k"}).toVortexMsg(destVortexName="peek-client"), peer)
    assert len(calls) == 1


@pytest.mark.parametrize("header", [
    {"destVortexName": "peek-server"}, {"destVortexName": "peek-agent"},
    {"destVortexName": "peek-mobile"}, {"destVortexUuid": "another-connection"},
    {"destVortexName": "peek-client", "destVortexUuid": "another-connection"},
])
def test_device_may_only_address_this_process(header):
    """A device's request addressed past this process reaches no endpoint and nothing is
    sent on: it gets an AccessDeniedError reply naming what it addressed."""
    sent = Sent()
    router = PayloadRouter(send=sent, local_vortex_names=("peek-client",))
    _, calls = listen(router, {"key": "k"})
    device = LocalSender("peek-mobile", "device-1")
    data = Payload({"key": "k"}).toVortexMsg(messageId="m1", **header)
    router.receive(data, device, device=True)
    assert calls == []
    [(destination, data)] = sent.messages
    reply = PayloadEnvelope.fromVortexMsg(data)
    assert destination is device and reply.replyToId == "m1"
    code, message = reply.error
    target = header.get("destVortexUuid") or header["destVortexName"]
    assert code == "AccessDeniedError" and target in message and "peek-client" in message


def test_originator_stamped_by_first_hop_kept_from_services_replaced_for_devices():
    """Handlers see the originator: the connection itself for a fresh message, the stamp a
    service connection forwarded, and never a stamp a device wrote."""
    router = PayloadRouter(send=Sent(), local_vortex_names=("peek-server",))
    _, calls = listen(router, {"key": "k"})
    client = LocalSender("peek-client", "client-1")
    forged = Originator("peek-client", "client-1", False)
    router.receive(msg({"key": "k"}), client)
    router.receive(Payload({"key": "k"}).toVortexMsg(
        originator=Originator("peek-mobile", "device-9", True)), client)
    router.receive(Payload({"key": "k"}).toVortexMsg(originator=forged),
                   LocalSender("peek-mobile", "device-1"), device=True)
    assert [(c[0].originator, c[1], c[2]) for c in calls] == [
        (Originator("peek-client", "client-1", False), "peek-client", "client-1"),
        (Originator("peek-mobile", "device-9", True), "peek-mobile", "device-9"),
        (Originator("peek-mobile", "device-1", True), "peek-mobile", "device-1"),
    ]


def test_accept_only_checks_the_originator():
    """acceptOnlyFromVortex="peek-client" refuses a device's message a client forwarded."""
    router = PayloadRouter(send=Sent(), local_vortex_names=("peek-server",))
    _, calls = listen(router, {"key": "k"}, acceptOnlyFromVortex="peek-client")
    client = LocalSender("peek-client", "client-1")
    router.receive(Payload({"key": "k"}).toVortexMsg(
        originator=Originator("peek-mobile", "device-9", True)), client)
    assert calls == []
    router.receive(msg({"key": "k"}), client)
    assert len(calls) == 1


def test_bad_originator_header_is_a_decode_error(router, peer):
    """Header 'o' must be [name, uuid, is device]; anything else is refused as malformed."""
    for bad in (b'"x"', b'["a","b"]', b'["a","b",1]', b'[1,"b",true]'):
        with pytest.raises(DecodeError, match="'o'"):
            router.receive(b'{"v":1,"f":{"key":"k"},"o":' + bad + b'}\n', peer)


def test_malformed_message_raises_to_transport_and_delivers_nothing(router, peer):
    """Bad bytes raise DecodeError from receive() and reach no endpoint."""
    _, calls = listen(router, {"key": "k"})
    with pytest.raises(DecodeError):
        router.receive(b'{"v":1,"f":{"key":"k"}', peer)
    assert calls == []


def test_no_transport_is_a_clear_error(peer):
    """Sending before a transport is attached raises NoTransportError."""
    router = PayloadRouter()
    with pytest.raises(NoTransportError):
        router.send(Payload({"key": "k"}), "peek-server")


def test_send_sets_destination_name_and_local_delivery(router, peer):
    """send() to a name stamps it in the header; send_locally() reaches own endpoints."""
    router.send(Payload({"key": "k"}), "peek-server")
    (dest, data), = router._send.messages
    assert dest == "peek-server"
    assert PayloadEnvelope.fromVortexMsg(data).destVortexName == "peek-server"
    _, calls = listen(router, {"key": "k"})
    router.send_locally(Payload({"key": "k"}, [Item(n=3)]))
    assert calls[0][0].decodePayload().tuples == [Item(n=3)]


def test_endpoint_shut_down_mid_dispatch_is_skipped(router, peer):
    """A handler that shuts another endpoint down stops it from getting the same message."""
    second_calls: list = []
    second = PayloadEndpoint(
        {"key": "k"}, lambda **kw: second_calls.append(1), router=router
    )
    router.remove_endpoint(second)  # re-file it after the first so dispatch order is known
    PayloadEndpoint({"key": "k"}, lambda **kw: second.shutdown(), router=router)
    router.add_endpoint(second)
    router.receive(msg({"key": "k"}), peer)
    assert second_calls == [] and router.endpoint_count == 1


def test_string_filt_values_match_only_equal_strings(router, peer):
    """A string item of an endpoint filt matches only the same string: not a number or
    list spelling the same text, and a number item is not matched by its string."""
    _, calls = listen(router, {"key": "obs", "name": "1"})
    _, numbered = listen(router, {"key": "obs", "id": 1})
    for filt in ({"key": "obs", "name": 1}, {"key": "obs", "name": ["1"]},
                 {"key": "obs", "name": "1 "}, {"key": "obs", "id": "1"}):
        router.receive(msg(filt), peer)
    assert calls == [] and numbered == []
    router.receive(msg({"key": "obs", "name": "1", "id": 1}), peer)
    assert len(calls) == 1 and len(numbered) == 1


def test_send_response_after_the_request_gained_an_id_marks_the_reply(router, peer):
    """Whether a response is a reply is read when it is sent: a handler that gives a
    one-way message an id first (forwarding it as a request) replies marked with it."""

    def handler(payloadEnvelope, sendResponse, **kwargs):
        sendResponse(Payload({"key": "k"}))
        payloadEnvelope.messageId = "m9"
        sendResponse(Payload({"key": "k"}))

    PayloadEndpoint({"key": "k"}, handler, router=router)
    router.receive(msg({"key": "k"}), peer)
    first, second = (PayloadEnvelope.fromVortexMsg(data) for _, data in router._send.messages)
    assert first.replyToId is None and second.replyToId == "m9"

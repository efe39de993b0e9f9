"""Request/reply: matching by id, timeouts on a task.Clock, connection loss, two routers."""

import pytest
from twisted.internet import task
from twisted.internet.defer import CancelledError

from peek_plugin_base.vortex import (
    ConnectionLostError,
    Payload,
    PayloadEndpoint,
    PayloadEnvelope,
    PayloadRouter,
    RemoteError,
    ReplyTimeoutError,
    Tuple,
    TupleField,
)
from peek_vortex.errors import NoTransportError
from peek_vortex.routing import LocalSender


class Num(Tuple):
    __tupleType__ = "test.replies.Num"
    n = TupleField()


@pytest.fixture(autouse=True)
def _num_type(register):
    register(Num)


class Outbox:
    """Transport stand-in that remembers sent requests so the test can answer them."""

    def __init__(self) -> None:
        self.sent: list[tuple[object, PayloadEnvelope]] = []

    def __call__(self, destination: object, data: bytes) -> None:
        self.sent.append((destination, PayloadEnvelope.fromVortexMsg(data)))


def results(deferred) -> list:
    out: list = []
    deferred.addBoth(out.append)
    return out


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def router(clock, outbox) -> PayloadRouter:
    return PayloadRouter(send=outbox, clock=clock)


SERVER = LocalSender("peek-server", "server-uuid")


def reply_to(request: PayloadEnvelope, tuples=(), error=None) -> bytes:
    """The bytes a remote side would send back for ``request``."""
    if error is not None:
        reply = PayloadEnvelope(filt=request.filt, replyToId=request.messageId, error=error)
        return reply.toVortexMsg()
    return Payload(request.filt, list(tuples)).toVortexMsg(replyToId=request.messageId)


def test_replies_are_matched_by_id_in_any_order(router, outbox):
    """Many requests in flight each get their own reply, whatever order replies come in;
    the replies do not reach endpoints and the pending table empties."""
    endpoint_calls: list = []
    PayloadEndpoint({"key": "calc"}, lambda **kw: endpoint_calls.append(kw), router=router)
    got = [results(router.request(Payload({"key": "calc"}, [Num(n=i)]), "peek-server"))
           for i in range(100)]
    assert router.pending_count == 100
    for _, request in reversed(outbox.sent):
        n = request.decodePayload().tuples[0].n
        router.receive(reply_to(request, [Num(n=n * 10)]), SERVER)
    assert [g[0].decodePayload().tuples[0].n for g in got] == [i * 10 for i in range(100)]
    assert router.pending_count == 0 and endpoint_calls == []
    assert len({r.messageId for _, r in outbox.sent}) == 100


def test_timeout_on_the_clock(router, outbox, clock):
    """No reply within the timeout fails the request with ReplyTimeoutError naming the
    destination; a late reply is then dropped."""
    got = results(router.request(Payload({"key": "slow"}), "peek-server", timeout=5))
    clock.advance(4.9)
    assert got == []
    clock.advance(0.2)
    assert isinstance(got[0].value, ReplyTimeoutError)
    assert "peek-server" in str(got[0].value) and "'slow'" in str(got[0].value)
    assert router.pending_count == 0
    (_, request), = outbox.sent
    router.receive(reply_to(request), SERVER)  # late: ignored, no error
    assert len(got) == 1


def test_default_timeout_applies(clock, outbox):
    """Requests without a timeout use the router's default."""
    router = PayloadRouter(send=outbox, clock=clock, default_timeout=2.0)
    got = results(router.request(Payload({"key": "k"}), "peek-server"))
    clock.advance(2.0)
    assert isinstance(got[0].value, ReplyTimeoutError)


def test_reply_cancels_the_timer(router, outbox, clock):
    """A replied request leaves no timer behind on the clock."""
    got = results(router.request(Payload({"key": "k"}), "peek-server", timeout=5))
    (_, request), = outbox.sent
    router.receive(reply_to(request), SERVER)
    assert isinstance(got[0], PayloadEnvelope)
    assert clock.getDelayedCalls() == []


def test_a_request_sent_from_a_reply_callback_keeps_the_timer(router, outbox, clock):
    """One call after another (each sent from the previous reply's callback) reuses the
    one timer instead of cancelling and re-making it; each call still times out at its
    own deadline, and once the chain stops the clock is left empty."""
    got: list = []

    def next_call(reply: object = None, left: int = 3) -> None:
        if reply is not None:
            got.append(reply)
        if left:
            d = router.request(Payload({"key": "k"}), "peek-server", timeout=5)
            d.addBoth(next_call, left - 1)

    next_call()
    [timer] = clock.getDelayedCalls()
    for n in range(2):
        clock.advance(1)
        router.receive(reply_to(outbox.sent[n][1]), SERVER)
        assert clock.getDelayedCalls() == [timer]
    # t=2: the third call waits; the timer still holds the first call's deadline (t=5).
    clock.advance(2.99)
    assert len(got) == 2
    clock.advance(0.01)  # t=5: nothing due; re-armed for the third call's t=7
    assert len(got) == 2 and len(clock.getDelayedCalls()) == 1
    clock.advance(1.99)
    assert len(got) == 2
    clock.advance(0.01)  # t=7
    assert isinstance(got[2].value, ReplyTimeoutError)
    assert router.pending_count == 0 and clock.getDelayedCalls() == []


def test_many_requests_share_one_timer(router, outbox, clock):
    """However many requests wait, the clock holds one timer, and each request still
    fails exactly at its own deadline, including shorter timeouts sent later."""
    early = results(router.request(Payload({"key": "a"}), "peek-server", timeout=3))
    clock.advance(1)
    late = [results(router.request(Payload({"key": "b"}), "peek-server", timeout=5))
            for _ in range(50)]
    short = results(router.request(Payload({"key": "c"}), "peek-server", timeout=0.5))
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(0.49)
    assert short == []
    clock.advance(0.01)  # t=1.5: the 0.5 s request sent at t=1
    assert isinstance(short[0].value, ReplyTimeoutError) and early == []
    clock.advance(1.49)
    assert early == []
    clock.advance(0.01)  # t=3
    assert isinstance(early[0].value, ReplyTimeoutError)
    assert all(g == [] for g in late) and router.pending_count == 50
    clock.advance(2.99)
    assert all(g == [] for g in late)
    clock.advance(0.01)  # t=6
    assert all(isinstance(g[0].value, ReplyTimeoutError) for g in late)
    assert router.pending_count == 0 and clock.getDelayedCalls() == []


def test_replied_requests_do_not_delay_later_timeouts(router, outbox, clock):
    """After the timer fires for an already-answered request it re-arms for the next
    waiting one, which still fails at its own deadline."""
    first = results(router.request(Payload({"key": "k"}), "peek-server", timeout=2))
    clock.advance(1)
    second = results(router.request(Payload({"key": "k"}), "peek-server", timeout=2))
    router.receive(reply_to(outbox.sent[0][1]), SERVER)
    assert isinstance(first[0], PayloadEnvelope)
    clock.advance(1)  # t=2: the timer finds only the answered first request's deadline
    assert second == []
    clock.advance(0.99)
    assert second == []
    clock.advance(0.01)  # t=3
    assert isinstance(second[0].value, ReplyTimeoutError)


def test_remote_error_arrives_as_code_and_message(router, outbox):
    """An error reply fails the request with RemoteError(code, message)."""
    got = results(router.request(Payload({"key": "k"}), "peek-server"))
    (_, request), = outbox.sent
    router.receive(reply_to(request, error=("ValueError", "no such item")), SERVER)
    err = got[0].value
    assert isinstance(err, RemoteError) and (err.code, err.message) == (
        "ValueError", "no such item")


def test_reply_from_the_wrong_peer_is_ignored(router, outbox, clock):
    """Only the vortex (or connection) a request went to can answer it."""
    got = results(router.request(Payload({"key": "k"}), "peek-server", timeout=5))
    (_, request), = outbox.sent
    router.receive(reply_to(request), LocalSender("peek-agent", "evil"))
    assert got == [] and router.pending_count == 1
    router.receive(reply_to(request), SERVER)
    assert isinstance(got[0], PayloadEnvelope)

    conn = LocalSender("peek-agent", "agent-1")
    got = results(router.request(Payload({"key": "k"}), conn, timeout=5))
    _, request = outbox.sent[-1]
    router.receive(reply_to(request), LocalSender("peek-agent", "agent-2"))
    assert got == []
    router.receive(reply_to(request), conn)
    assert isinstance(got[0], PayloadEnvelope)


def test_connection_loss_fails_its_requests_only(router, clock):
    """fail_pending fails the requests to the lost connection with ConnectionLostError and
    leaves requests to others waiting."""
    conn_a, conn_b = LocalSender("peek-agent", "a"), LocalSender("peek-agent", "b")
    got_a = results(router.request(Payload({"key": "k"}), conn_a))
    got_b = results(router.request(Payload({"key": "k"}), conn_b))
    assert router.fail_pending(conn_a, "socket closed") == 1
    assert isinstance(got_a[0].value, ConnectionLostError)
    assert "socket closed" in str(got_a[0].value)
    assert got_b == [] and router.pending_count == 1
    assert len(clock.getDelayedCalls()) == 1


def test_cancel_forgets_the_request(router, clock):
    """Cancelling the Deferred removes the pending entry and its timer."""
    d = router.request(Payload({"key": "k"}), "peek-server")
    got = results(d)
    d.cancel()
    assert isinstance(got[0].value, CancelledError)
    assert router.pending_count == 0 and clock.getDelayedCalls() == []


def test_send_failure_fails_the_request(clock):
    """Without a transport the request fails at once and nothing stays pending."""
    router = PayloadRouter(clock=clock)
    got = results(router.request(Payload({"key": "k"}), "peek-server"))
    assert isinstance(got[0].value, NoTransportError)
    assert router.pending_count == 0 and clock.getDelayedCalls() == []


def test_two_routers_wired_back_to_back(clock):
    """Two routers joined by byte-passing send callables (the shape of a real transport):
    an agent's request reaches the server's endpoint and the reply resolves the call;
    a reply delivered before request() returns leaves no timer on the clock."""
    agent_side = LocalSender("peek-agent", "agent-uuid")
    server_side = LocalSender("peek-server", "server-uuid")
    server = PayloadRouter(clock=clock, local_vortex_names=("peek-server",))
    agent = PayloadRouter(clock=clock, local_vortex_names=("peek-agent",))
    frames: list[int] = []

    def agent_send(destination, data):
        frames.append(len(data))
        server.receive(data, agent_side)

    def server_send(destination, data):
        assert destination is agent_side
        frames.append(len(data))
        agent.receive(data, server_side)

    agent.set_send(agent_send)
    server.set_send(server_send)

    def add(payloadEnvelope, sendResponse, vortexName, **kwargs):
        nums = [t.n for t in payloadEnvelope.decodePayload().tuples]
        sendResponse(Payload(payloadEnvelope.filt, [Num(n=sum(nums))], result=vortexName))

    PayloadEndpoint({"key": "add"}, add, router=server, acceptOnlyFromVortex="peek-agent")
    got = results(agent.request(Payload({"key": "add"}, [Num(n=5), Num(n=35)]), "peek-server"))
    reply = got[0].decodePayload()
    assert reply.tuples == [Num(n=40)] and reply.result == "peek-agent"
    assert len(frames) == 2 and agent.pending_count == 0
    # The reply came back inside send: no timeout timer may be left behind for it.
    assert clock.getDelayedCalls() == []

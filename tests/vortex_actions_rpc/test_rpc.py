"""@vortexRPC between simulated services: both directions, errors, timeouts, access, lifecycle."""

import datetime
import logging
import math
import re
import threading
from decimal import Decimal
from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

import peek_vortex.routing._threads as peek_threads
from peek_plugin_base.testing import MemoryNode, MemoryVortex
from peek_plugin_base.vortex import (
    AccessDeniedError,
    ConnectionLostError,
    Payload,
    RemoteError,
    ReplyTimeoutError,
    RpcTimeoutError,
    vortexRPC,
)
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.errors import EncodeError, NoEndpointError, RoutingError
from tests.support import result_of
from tests.vortex_actions_rpc.helpers import StringIntTuple, record_received

FILT = {"plugin": "peek_plugin_tutorial"}


class RpcForAgent:
    """The seed's server-side RPCs that agents call."""

    def __init__(self) -> None:
        self.updates: list[str] = []
        self.stored: list[StringIntTuple] = []

    def makeHandlers(self, router: Any) -> Any:
        yield self.addInts.start(funcSelf=self, router=router)
        yield self.updateStatus.start(funcSelf=self, router=router)
        yield self.addStringInt.start(funcSelf=self, router=router)

    @vortexRPC("peek-server", acceptOnlyFromVortex="peek-agent", additionalFilt=FILT)
    def addInts(self, val1: int, kwval1: int = 9) -> int:
        return val1 + kwval1

    @vortexRPC("peek-server", acceptOnlyFromVortex="peek-agent", additionalFilt=FILT)
    def updateStatus(self, updateStr: str) -> None:
        self.updates.append(updateStr)

    @vortexRPC("peek-server", acceptOnlyFromVortex="peek-agent", additionalFilt=FILT)
    def addStringInt(self, stringInt: StringIntTuple) -> StringIntTuple:
        stringInt.id = len(self.stored) + 1
        self.stored.append(stringInt)
        return stringInt


class RpcForServer:
    """The seed's agent-side RPC that the server calls, plus one telling agents apart."""

    def __init__(self, label: str = "agent") -> None:
        self.label = label
        self.calls = 0

    @vortexRPC("peek-agent", additionalFilt=FILT)
    def subInts(self, val1: int, kwval1: int = 9) -> int:
        self.calls += 1
        return val1 - kwval1

    @vortexRPC("peek-agent", additionalFilt=FILT)
    def whoAnswers(self) -> str:
        self.calls += 1
        return self.label


@vortexRPC("peek-server", additionalFilt=FILT)
def serverSubInts(val1: int, kwval1: int = 9) -> int:
    """The tutorial's subtraction, served by the server this time."""
    return val1 - kwval1


@vortexRPC("peek-server")
def echo(*args: Any, **kwargs: Any) -> list[Any]:
    """Returns what it was given, to check what survives the trip."""
    return [list(args), kwargs]


@vortexRPC("peek-server")
def appendOne(values: list[int]) -> list[int]:
    """Mutates its argument: a caller must never see that."""
    values.append(1)
    return values


@vortexRPC("peek-server")
def failWith(message: str) -> None:
    """Always raises, to check how remote errors arrive."""
    raise ValueError(message)


@vortexRPC("peek-server", timeoutSeconds=5)
def neverAnswers() -> Deferred[None]:
    """Returns a Deferred that never fires."""
    return Deferred()


WAITING: list[Deferred[int]] = []


@vortexRPC("peek-server")
async def doubleLater(value: int) -> int:
    """A coroutine RPC that waits for the test to release it."""
    d: Deferred[int] = Deferred()
    WAITING.append(d)
    return 2 * await d


@vortexRPC("peek-server", deferToThread=True)
def blockingWork(value: int) -> list[int]:
    """Blocking work that must run off the reactor thread; returns its thread id."""
    return [value * 10, threading.get_ident()]


def server_agent(bus: MemoryVortex) -> tuple[MemoryNode, MemoryNode]:
    """A server and one agent linked to it."""
    server, agent = bus.node("peek-server"), bus.node("peek-agent")
    bus.link(agent, server)
    return server, agent


def test_agent_calls_server_with_args_kwargs_and_tuples(bus: MemoryVortex) -> None:
    """Agent-to-server calls carry args, kwargs and tuples; the 5 + 7 chain ends at 40."""
    server, agent = server_agent(bus)
    rpcs = RpcForAgent()
    handles = list(rpcs.makeHandlers(server.router))
    assert len(handles) == 3

    async def chain() -> int:
        await RpcForAgent.updateStatus.via(agent.router)("Agent RPC Example Started")
        seed = 5
        for _ in range(5):
            seed = await RpcForAgent.addInts.via(agent.router)(seed, kwval1=7)
        return seed

    assert result_of(Deferred.fromCoroutine(chain())) == 40
    assert rpcs.updates == ["Agent RPC Example Started"]
    stored = result_of(RpcForAgent.addStringInt.via(agent.router)(
        StringIntTuple(int1=50, string1="Created from Agent RPC")
    ))
    assert stored == StringIntTuple(id=1, int1=50, string1="Created from Agent RPC")
    assert rpcs.stored == [stored] and rpcs.stored[0] is not stored


def test_values_survive_the_trip(bus: MemoryVortex) -> None:
    """Positional and keyword arguments of every codec type come back equal."""
    server, agent = server_agent(bus)
    echo.start(router=server.router)
    when = datetime.datetime(2026, 11, 21, 7, 0, tzinfo=datetime.UTC)
    args = [1, 2.5, None, True, "x", b"\x00\xff", when, Decimal("1.50"), [1, [2]],
            StringIntTuple(id=3, string1="s")]
    kwargs = {"nested": {"row": StringIntTuple(id=4), "n": [when]}, "empty": {}}
    assert result_of(echo.via(agent.router)(*args, **kwargs)) == [args, kwargs]


def test_plain_and_tagged_values_take_their_paths_and_arrive_equal(bus: MemoryVortex) -> None:
    """JSON-native calls and answers (sent as plain rows, big ones compressed) and values
    that need tags (NaN, 2**70, tuples inside) all arrive as sent."""
    server, agent = server_agent(bus)
    echo.start(router=server.router)
    call = echo.via(agent.router)
    big = "x" * 100_000
    assert result_of(call(big, n=[1, (2, 3)])) == [[big], {"n": [1, [2, 3]]}]
    nan, huge = result_of(call(math.nan, 2**70))[0]
    assert math.isnan(nan) and huge == 2**70
    assert result_of(call(k={"row": StringIntTuple(id=5)})) == [
        [], {"k": {"row": StringIntTuple(id=5)}}]


@pytest.mark.parametrize(
    ("listener", "caller", "rpc"),
    [("peek-agent", "peek-server", "agent"), ("peek-server", "peek-agent", "server")],
)
def test_sub_ints_7_kwval1_5_is_2_in_both_directions(
    bus: MemoryVortex, listener: str, caller: str, rpc: str
) -> None:
    """The tutorial's subInts(7, kwval1=5) returns 2, served by the agent or by the server."""
    nodes = dict(zip(("peek-server", "peek-agent"), server_agent(bus), strict=True))
    if rpc == "agent":
        RpcForServer.subInts.start(funcSelf=RpcForServer(), router=nodes[listener].router)
        call = RpcForServer.subInts.via(nodes[caller].router)
    else:
        serverSubInts.start(router=nodes[listener].router)
        call = serverSubInts.via(nodes[caller].router)
    assert result_of(call(7, kwval1=5)) == 2


def test_remote_exception_arrives_with_type_name_and_message(bus: MemoryVortex) -> None:
    """A raised ValueError arrives as RemoteError(code 'ValueError', an error id), no trace
    and not its message (that is in the server's log under the id)."""
    server, agent = server_agent(bus)
    failWith.start(router=server.router)
    with pytest.raises(RemoteError) as info:
        result_of(failWith.via(agent.router)("no such row 7"))
    assert info.value.code == "ValueError"
    assert re.fullmatch(r"internal error, id [0-9a-f]{12}", info.value.message), info.value


def test_timeout_names_function_and_target(bus: MemoryVortex, clock: Clock) -> None:
    """No answer within timeoutSeconds fails the call with RpcTimeoutError naming both."""
    server, agent = server_agent(bus)
    neverAnswers.start(router=server.router)
    called = neverAnswers.via(agent.router)()
    clock.advance(4.9)
    assert not called.called
    clock.advance(0.2)
    with pytest.raises(RpcTimeoutError) as info:
        result_of(called)
    assert neverAnswers.rpcName in str(info.value) and "'peek-server'" in str(info.value)
    assert isinstance(info.value, ReplyTimeoutError) and agent.router.pending_count == 0


def test_accept_only_refuses_other_names_with_an_error_logged_once(
    bus: MemoryVortex, caplog: pytest.LogCaptureFixture
) -> None:
    """A caller whose authenticated name is not accepted gets AccessDeniedError at once."""
    server, agent = server_agent(bus)
    client = bus.node("peek-client")
    bus.link(client, server)
    RpcForAgent.addInts.start(funcSelf=RpcForAgent(), router=server.router)
    with caplog.at_level(logging.DEBUG, "peek_vortex"):
        for _ in range(3):
            with pytest.raises(RemoteError) as info:
                result_of(RpcForAgent.addInts.via(client.router)(1, kwval1=2))
            assert info.value.code == AccessDeniedError.code
            assert "'peek-client'" in info.value.message
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert result_of(RpcForAgent.addInts.via(agent.router)(1, kwval1=2)) == 3


def test_shutdown_stops_answering_and_allows_a_new_start(bus: MemoryVortex, clock: Clock) -> None:
    """After shutdown() calls fail at once with NoEndpointError; the RPC can be started
    again afterwards."""
    server, agent = server_agent(bus)
    handle = serverSubInts.start(router=server.router)
    handle.shutdown()
    handle.shutdown()
    called = serverSubInts.via(agent.router)(3, kwval1=1)
    with pytest.raises(RemoteError) as info:
        result_of(called)
    assert info.value.code == NoEndpointError.code
    serverSubInts.start(router=server.router)
    assert result_of(serverSubInts.via(agent.router)(3, kwval1=1)) == 2


def test_plugin_rollback_unregisters_the_rpc(bus: MemoryVortex, clock: Clock) -> None:
    """An RPC started while a plugin loads stops answering when the plugin is rolled back."""
    server, agent = server_agent(bus)
    log = OwnershipScope("peek_plugin_tutorial")
    with owned_by(log):
        serverSubInts.start(router=server.router)
    assert f"RPC {serverSubInts.rpcName}" in log.descriptions
    log.rollback()
    assert server.router.endpoint_count == 0
    called = serverSubInts.via(agent.router)(3)
    with pytest.raises(RemoteError) as info:
        result_of(called)
    assert info.value.code == NoEndpointError.code
    serverSubInts.start(router=server.router)  # a reload can start it again


def test_several_connections_with_the_name_all_run_first_answer_wins(bus: MemoryVortex) -> None:
    """Two agents sharing 'peek-agent' both run the call; the first answer settles it."""
    server = bus.node("peek-server")
    first, second = bus.node("peek-agent"), bus.node("peek-agent")
    bus.link(server, first)
    bus.link(server, second)
    one, two = RpcForServer("agent-1"), RpcForServer("agent-2")
    RpcForServer.whoAnswers.start(funcSelf=one, router=first.router)
    RpcForServer.whoAnswers.start(funcSelf=two, router=second.router)
    answers = record_received(server)
    assert result_of(RpcForServer.whoAnswers.via(server.router)()) == "agent-1"
    assert (one.calls, two.calls) == (1, 1)
    assert len(answers) == 2 and server.router.pending_count == 0
    bus.unlink(server.connection_to("peek-agent"))
    assert result_of(RpcForServer.whoAnswers.via(server.router)()) == "agent-2"


def test_call_in_the_listening_process_runs_locally_with_copied_values(bus: MemoryVortex) -> None:
    """A call where the RPC is served runs it locally; arguments and results are copies."""
    server, agent = server_agent(bus)
    appendOne.start(router=server.router)
    failWith.start(router=server.router)
    on_the_wire = record_received(agent)
    values = [5]
    result = result_of(appendOne.via(server.router)(values))
    assert result == [5, 1] and values == [5]
    with pytest.raises(RemoteError) as info:
        result_of(failWith.via(server.router)("local failure"))
    assert info.value.code == "ValueError" and "local failure" not in info.value.message
    assert on_the_wire == [] and server.router.pending_count == 0


def test_coroutine_rpc_answers_when_it_completes(bus: MemoryVortex) -> None:
    """An async def RPC is awaited; the caller gets its return value."""
    server, agent = server_agent(bus)
    doubleLater.start(router=server.router)
    called = doubleLater.via(agent.router)(21)
    assert not called.called
    WAITING.pop().callback(21)
    assert result_of(called) == 42


def test_defer_to_thread_runs_the_function_off_the_calling_thread(
    bus: MemoryVortex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deferToThread=True hands the function to the thread runner, not the reactor thread."""
    server, agent = server_agent(bus)
    blockingWork.start(router=server.router)
    used: list[str] = []

    def run_in_a_thread(func: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
        out: list[Any] = []
        worker = threading.Thread(target=lambda: out.append(func(*args, **kwargs)))
        worker.start()
        worker.join(10)
        used.append(func.__name__)
        return succeed(out[0])

    # The one thread runner's switch (routing._threads): RPCs have no runner of their own.
    monkeypatch.setattr(peek_threads, "inline_runner", run_in_a_thread)
    value, thread_id = result_of(blockingWork.via(agent.router)(4))
    assert value == 40 and thread_id != threading.get_ident()
    assert used == ["blockingWork"]


def test_unencodable_arguments_fail_the_deferred(bus: MemoryVortex) -> None:
    """Arguments the codec cannot carry fail the returned Deferred, nothing is sent."""
    server, agent = server_agent(bus)
    echo.start(router=server.router)
    received = record_received(server)
    with pytest.raises(EncodeError):
        result_of(echo.via(agent.router)({1, 2}))
    assert received == []


def test_lost_connection_fails_the_call(bus: MemoryVortex) -> None:
    """A call in flight when the link drops fails with ConnectionLostError."""
    server, agent = server_agent(bus)
    neverAnswers.start(router=server.router)
    called = neverAnswers.via(agent.router)()
    bus.unlink(agent.connection_to("peek-server"))
    with pytest.raises(ConnectionLostError):
        result_of(called)


def test_malformed_call_gets_an_error_reply(bus: MemoryVortex) -> None:
    """A call whose body is not the arguments tuple is answered with an error."""
    server, agent = server_agent(bus)
    echo.start(router=server.router)
    with pytest.raises(RemoteError) as info:
        result_of(agent.router.request(Payload(echo.filt, [StringIntTuple()]), "peek-server"))
    assert echo.rpcName in info.value.message


def test_start_in_the_wrong_service_or_twice_is_an_error(bus: MemoryVortex) -> None:
    """Starting where the listening name is not ours, or twice on one bus, fails clearly."""
    server, agent = server_agent(bus)
    with pytest.raises(RoutingError, match="'peek-agent'.*peek-server"):
        RpcForServer.subInts.start(funcSelf=RpcForServer(), router=server.router)
    serverSubInts.start(router=server.router)
    with pytest.raises(RoutingError, match="already started"):
        serverSubInts.start(router=server.router)


def test_calling_an_rpc_this_process_should_serve_but_does_not_fails_fast(
    bus: MemoryVortex,
) -> None:
    """In the listening service, calling an RPC that was never started fails at once."""
    server, _ = server_agent(bus)
    with pytest.raises(RoutingError, match="not been started"):
        result_of(serverSubInts.via(server.router)(1))


def test_a_reimported_rpc_of_the_same_name_cannot_serve_twice(bus: MemoryVortex) -> None:
    """A second RPC object with the same name (e.g. a module imported twice) is refused
    while the first serves, so one call never gets two answers from one process."""
    server, _ = server_agent(bus)
    handle = serverSubInts.start(router=server.router)
    twin = vortexRPC("peek-server", additionalFilt=FILT)(serverSubInts.__wrapped__)
    assert twin.rpcName == serverSubInts.rpcName
    with pytest.raises(RoutingError, match="already handled"):
        twin.start(router=server.router)
    handle.shutdown()
    twin.start(router=server.router)

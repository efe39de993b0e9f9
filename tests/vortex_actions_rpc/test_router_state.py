"""What the bus keeps per bus lives on each router: RPC handles and observer, heartbeat
answering; no module keeps tables keyed by router."""

import ast

import pytest
from twisted.internet.task import Clock

from peek_plugin_base.testing import MemoryVortex
from peek_plugin_base.vortex import vortexRPC
from peek_vortex.errors import RoutingError
from peek_vortex.transport import answer_heartbeats
from peek_vortex.wire.constants import HEARTBEAT_KEY
from tests.support import REPO, result_of

FILT = {"plugin": "router_state"}


@vortexRPC("peek-server", additionalFilt=FILT)
def double(value: int) -> int:
    """The RPC the tests serve."""
    return value * 2


def test_each_router_tells_only_its_own_rpc_observer(bus: MemoryVortex) -> None:
    """A call answered by the server's router reaches that router's ``rpc_observer`` (name,
    caller, status); the calling agent's router observer hears nothing."""
    server, agent = bus.node("peek-server"), bus.node("peek-agent")
    bus.link(agent, server)
    heard: dict[str, list[tuple[str, str, str]]] = {"server": [], "agent": []}
    server.router.rpc_observer = lambda name, caller, status, _: heard["server"].append(
        (name, caller, status))
    agent.router.rpc_observer = lambda *call: heard["agent"].append(call[:3])
    handle = double.start(router=server.router)
    try:
        assert result_of(double.via(agent.router)(21)) == 42
    finally:
        handle.shutdown()
    assert heard == {"server": [(double.rpcName, "peek-agent", "ok")], "agent": []}


def test_an_rpc_serves_each_router_on_its_own(clock: Clock) -> None:
    """One RPC started on two routers is a handle on each (``router.rpc_handles``); stopping
    one leaves the other answering local calls."""
    first = MemoryVortex(clock).node("peek-server").router
    second = MemoryVortex(clock).node("peek-server").router
    handles = [double.start(router=first), double.start(router=second)]
    try:
        assert [r.rpc_handles[double.filt["key"]] for r in (first, second)] == handles
        handles[0].shutdown()
        assert double.filt["key"] not in first.rpc_handles
        assert double.filt["key"] not in first.handler_claims
        assert result_of(double.via(second)(4)) == 8
        with pytest.raises(RoutingError, match="not been started"):
            result_of(double.via(first)(4))
    finally:
        handles[1].shutdown()


def test_heartbeats_are_answered_once_per_router(clock: Clock) -> None:
    """``answer_heartbeats`` adds one endpoint to a router however often it is called, and
    each router gets its own."""
    routers = [MemoryVortex(clock).node("peek-client").router for _ in range(2)]
    for router in (*routers, routers[0]):
        answer_heartbeats(router)
    assert [len(r.endpoints_for({"key": HEARTBEAT_KEY})) for r in routers] == [1, 1]


#: Module-level weak tables the bus may keep: none is keyed by router (this one is keyed by
#: tuple class: classes constructed without being registered).
ALLOWED_WEAK_TABLES = {"tuples/_tuples.py:_unregistered"}


def test_the_bus_keeps_no_module_level_weak_tables() -> None:
    """No peek_vortex module keeps a module-level WeakKeyDictionary, WeakValueDictionary or
    WeakSet (the way per-router state used to hide) other than the allowed ones."""
    bus = REPO / "platform" / "peek_vortex"
    found = set()
    for path in bus.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                    and value.func.attr.startswith("Weak")):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update(f"{path.relative_to(bus)}:{ast.unparse(t)}" for t in targets)
    assert found == ALLOWED_WEAK_TABLES

"""The skeleton the bus handlers share: ownership, one-time shutdown, the subscriber table
and the one accepted-sender normaliser."""

from collections.abc import Callable
from typing import Any

import pytest

from peek_plugin_base.storage.OrmCrudHandler import OrmCrudHandler
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.handlers import (
    DeviceForwarder,
    HandlerBase,
    TupleActionProcessor,
    TupleActionProcessorProxy,
    TupleDataObservableHandler,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
    vortexRPC,
)
from peek_vortex.handlers._subscribers import SubscriberTable
from peek_vortex.routing import (
    LocalSender,
    PayloadEndpoint,
    PayloadRouter,
    accept_set,
    connection_events,
)
from peek_vortex.tuples import TupleSelector
from peek_vortex.wire import PayloadEnvelope
from tests.storage_crud.crud_tables import CrudRow


@vortexRPC("peek-server", acceptOnlyFromVortex="peek-client")
def skeletonRpc() -> int:
    """The RPC the skeleton tests start."""
    return 1


#: One of each handler built on HandlerBase, on the given router.
HANDLERS: dict[str, Callable[[PayloadRouter], Any]] = {
    "observable": lambda r: TupleDataObservableHandler("skeleton", router=r),
    "observable proxy": lambda r: TupleDataObservableProxyHandler(
        "skeleton", "peek-server", router=r),
    "observer": lambda r: TupleDataObserverClient("skeleton", "peek-server", router=r),
    "action processor": lambda r: TupleActionProcessor("skeleton", router=r),
    "action proxy": lambda r: TupleActionProcessorProxy("skeleton", "peek-server", router=r),
    "device forwarder": lambda r: DeviceForwarder(["skeleton.key"], router=r),
    "rpc": lambda r: skeletonRpc.start(router=r),
    "crud": lambda r: OrmCrudHandler(
        lambda: None, CrudRow, {"key": "skeleton.crud"}, router=r),  # type: ignore[arg-type,return-value]
}


@pytest.mark.parametrize("make", HANDLERS.values(), ids=HANDLERS.keys())
def test_a_failed_plugins_handler_is_shut_down_with_it(
    make: Callable[[PayloadRouter], Any],
) -> None:
    """A handler made while a plugin loads is recorded with it; rolling the plugin back
    removes the handler's endpoints, its connection listening and its key claim (the same
    handler can be made again)."""
    router = PayloadRouter()
    scope = OwnershipScope("skeleton-plugin")
    with owned_by(scope):
        handler = make(router)
    assert isinstance(handler, HandlerBase)
    assert handler in scope.undo_owners()
    assert router.endpoint_count > 0 and handler.active
    scope.rollback()
    assert router.endpoint_count == 0 and not handler.active
    assert handler not in connection_events(router)._listeners
    again = make(router)  # would be a RoutingError if a key were still claimed
    again.shutdown()


def test_shutdown_runs_once() -> None:
    """A second shutdown does nothing: the proxy tells its upstream to unsubscribe once."""
    router = PayloadRouter()
    sent: list[PayloadEnvelope] = []
    router.set_send(lambda destination, data: sent.append(PayloadEnvelope.fromVortexMsg(data)))
    proxy = TupleDataObservableProxyHandler("skeleton", "peek-server", router=router)
    subscribe = proxy._messages.subscribe(TupleSelector("Thing", {}).toJsonStr())
    router.send_locally(subscribe, LocalSender("peek-mobile", "device-1"))
    assert proxy.watchedSelectorCount == 1
    sent.clear()
    proxy.shutdown()
    proxy.shutdown()
    assert [e.filt["op"] for e in sent] == ["unsubscribe"]
    assert not proxy.active and router.endpoint_count == 0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("peek-server", frozenset({"peek-server"})),
        (["peek-server", "peek-client"], frozenset({"peek-server", "peek-client"})),
        (("peek-agent",), frozenset({"peek-agent"})),
        ({"peek-worker"}, frozenset({"peek-worker"})),
        (frozenset(), frozenset()),
    ],
)
def test_accepted_senders_normalise_one_way(given: Any, expected: Any) -> None:
    """acceptOnlyFromVortex: None accepts everyone; one name is one name (not its letters);
    several names are a set."""
    assert accept_set(given) == expected


def test_every_handler_reads_a_single_name_as_one_sender() -> None:
    """The endpoint, the RPC, the action processor and the observable all normalise a
    single accepted name the same way."""
    router = PayloadRouter()
    name = frozenset({"peek-client"})
    endpoint = PayloadEndpoint({"key": "skeleton.accept"}, lambda **_: None, "peek-client", router)
    processor = TupleActionProcessor("skeleton", acceptOnlyFromVortex="peek-client", router=router)
    observable = TupleDataObservableHandler(
        "skeleton", router=router, acceptOnlyFromVortex="peek-client")
    assert endpoint.accept_only == name
    assert skeletonRpc.acceptOnly == name
    assert processor._accept == name
    assert {e.accept_only for e in observable._endpoints} == {name}
    for handler in (endpoint, processor, observable):
        handler.shutdown()


def test_subscriber_table_tracks_both_directions() -> None:
    """Subscribers per key and keys per subscriber stay in step through add, remove, drop
    and close; the entry open() returns is the live one."""
    table = SubscriberTable()
    a = table.open("a")
    table.open("b")
    table.add("a", "u1", print)
    table.add("b", "u1", print)
    table.add("a", "u2", repr)
    assert a == {"u1": print, "u2": repr} and table.open("a") is a
    assert table.keys_of("u1") == {"a", "b"} and table.count("a") == 2
    table.remove("a", "u2")
    assert table.keys_of("u2") is None and table.count("a") == 1
    assert table.drop("u1") == {"a", "b"}
    assert a == {} and table.count("b") == 0 and table.keys_of("u1") is None
    table.add("a", "u3", print)
    table.close("a")
    assert table.keys_of("u3") is None and table.count("a") == 0
    assert table.open("a") is not a  # a closed key starts over

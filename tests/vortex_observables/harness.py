"""A simulated platform for observable tests: server, client service and devices on a MemoryVortex.

Links and unlinks also report the connection to both routers' connection notices, as
the websocket transport does, so handlers see connections open and close.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from peek_plugin_base.testing import MemoryConnection, MemoryNode, MemoryVortex
from peek_plugin_base.vortex import (
    Payload,
    Tuple,
    TupleDataObservableHandler,
    TupleField,
    TupleSelector,
    TuplesProviderABC,
    addTupleType,
)
from peek_vortex.wire import default_codec


@addTupleType
class ItemTuple(Tuple):
    """One observed record: which revision of the store it was read at, and its value."""

    __tupleType__ = "tests.vortex_observables.ItemTuple"

    rev = TupleField()
    value = TupleField()


OBSERVABLE = "tests.observable"
FILT = {"plugin": "tests_observables"}


def selector(group: str) -> TupleSelector:
    return TupleSelector(ItemTuple.tupleName(), {"group": group})


class Store:
    """The server's data: a list of values per group, with a global revision counter."""

    def __init__(self) -> None:
        self.rev = 0
        self.values: dict[str, list[Any]] = defaultdict(list)

    def set(self, group: str, values: list[Any]) -> None:
        self.rev += 1
        self.values[group] = list(values)

    def tuples(self, group: str) -> list[ItemTuple]:
        return [ItemTuple(rev=self.rev, value=v) for v in self.values[group]]


class StoreProvider(TuplesProviderABC):
    """Reads the store when called; synchronous, or a Deferred the test fires later.

    In deferred mode the read happens at call time and the result is held back, the
    worst case for staleness. ``in_flight`` tracks concurrent runs per selector.
    """

    def __init__(self, store: Store, deferred: bool = False) -> None:
        self.store = store
        self.deferred = deferred
        self.calls = 0
        self.pending: list[tuple[str, Deferred, bytes]] = []
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight = 0
        self.fail_next = False

    def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> Any:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the database is on fire")
        group = tupleSelector.selector["group"]
        data = Payload(filt, self.store.tuples(group)).toVortexMsg()
        if not self.deferred:
            return data
        key = tupleSelector.toJsonStr()
        self.in_flight[key] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight[key])
        d: Deferred = Deferred()
        self.pending.append((key, d, data))
        return d

    def fire(self, index: int = 0) -> None:
        """Complete the pending run at ``index`` (runs of different selectors in any order)."""
        key, d, data = self.pending.pop(index)
        self.in_flight[key] -= 1
        d.callback(data)


class Platform:
    """A server node with a handler, plus helpers to add client services and devices."""

    def __init__(self, deferred: bool = False, with_handler: bool = True) -> None:
        self.clock = Clock()
        self.bus = MemoryVortex(self.clock)
        self.server = self.bus.node("peek-server")
        self.store = Store()
        self.provider = StoreProvider(self.store, deferred=deferred)
        self.handler: Optional[TupleDataObservableHandler] = None
        if with_handler:
            self.handler = self.make_handler()

    def make_handler(self) -> TupleDataObservableHandler:
        handler = TupleDataObservableHandler(OBSERVABLE, FILT, router=self.server.router)
        handler.addTupleProvider(ItemTuple.tupleName(), self.provider)
        return handler

    def link(self, a: MemoryNode, b: MemoryNode) -> MemoryConnection:
        """Connect two nodes and report the new connection on both sides; returns a's end."""
        a_end, _ = self.bus.link(a, b)
        return a_end

    def unlink(self, a_end: MemoryConnection) -> None:
        """Drop a link and report it closed on both sides."""
        self.bus.unlink(a_end)

    def settle(self) -> None:
        """Run everything due now (provider runs are scheduled on the next turn)."""
        self.clock.advance(0)

    def finish(self) -> None:
        """Complete every deferred provider run, including the re-runs they queue."""
        self.settle()
        while self.provider.pending:
            self.provider.fire()
            self.settle()


def record(subject: Any) -> list[list[Any]]:
    """Every tuple list ``subject`` announces, in order."""
    seen: list[list[Any]] = []
    subject.subscribe(seen.append)
    return seen


def values(tuples: Optional[list[Any]]) -> Optional[list[Any]]:
    return None if tuples is None else [t.value for t in tuples]


class EncodeCounter:
    """Counts tuple-body encodes (the expensive step) on the default codec."""

    def __init__(self, monkeypatch: Any) -> None:
        self.count = 0
        original: Callable[[list[Any]], bytes] = default_codec.encode_body

        def counting(tuples: list[Any]) -> bytes:
            self.count += 1
            return original(tuples)

        monkeypatch.setattr(default_codec, "encode_body", counting)


def sent_by(node: MemoryNode) -> list[tuple[Any, bytes]]:
    """Record every (destination, bytes) ``node`` sends from now on."""
    sent: list[tuple[Any, bytes]] = []
    original = node.router._send
    assert original is not None

    def recording(destination: Any, data: bytes) -> None:
        sent.append((destination, data))
        original(destination, data)

    node.router.set_send(recording)
    return sent

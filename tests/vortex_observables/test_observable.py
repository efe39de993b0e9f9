"""The server-side observable: first data, ordered updates, coalescing, encode-once, cleanup."""

import random
import re

import pytest

from peek_plugin_base.testing import MemoryConnection, MemoryNode
from peek_plugin_base.vortex import (
    PayloadEnvelope,
    RemoteError,
    TupleDataObservableHandler,
    TupleDataObserverClient,
    TupleSelector,
    connection_events,
)
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.handlers import ObservableMessages
from tests.support import result_of
from tests.vortex_observables.harness import (
    FILT,
    OBSERVABLE,
    EncodeCounter,
    ItemTuple,
    Platform,
    record,
    selector,
    sent_by,
    values,
)


def device(
    platform: Platform, name: str = "peek-mobile", dest: str = "peek-server"
) -> tuple[MemoryNode, MemoryConnection, TupleDataObserverClient]:
    """A device node linked to ``dest`` with an observer client; returns (node, link, client)."""
    node = platform.bus.node(name)
    target = platform.server if dest == "peek-server" else next(
        n for n in platform.bus.nodes if n.name == dest
    )
    link = platform.link(node, target)
    client = TupleDataObserverClient(OBSERVABLE, dest, FILT, router=node.router)
    return node, link, client


def test_subscriber_gets_current_data_then_every_update_in_order() -> None:
    """A subscriber's first data is the current state, then each later state, in order."""
    p = Platform()
    p.store.set("a", [1])
    _, _, client = device(p)
    observed = client.subscribeToTupleSelector(selector("a"))
    seen = record(observed)
    p.settle()
    assert [values(t) for t in seen] == [[1]]
    for state in ([1, 2], [3], []):
        p.store.set("a", state)
        p.handler.notifyOfTupleUpdate(selector("a"))
        p.settle()
    assert [values(t) for t in seen] == [[1], [1, 2], [3], []]
    assert values(observed.tuples) == []


def test_notify_for_tuple_name_refreshes_every_selector_of_that_name() -> None:
    """notifyOfTupleUpdateForTuple re-runs the provider for each watched selector of a type."""
    p = Platform()
    _, _, client = device(p)
    a = client.subscribeToTupleSelector(selector("a"))
    b = client.subscribeToTupleSelector(selector("b"))
    p.settle()
    p.store.set("a", ["x"])
    p.store.set("b", ["y"])
    p.handler.notifyOfTupleUpdateForTuple(ItemTuple.tupleName())
    p.settle()
    assert (values(a.tuples), values(b.tuples)) == (["x"], ["y"])


@pytest.mark.parametrize("seed", range(40))
def test_rapid_notifies_with_out_of_order_providers_converge(seed: int) -> None:
    """Under random interleavings of writes, notifies, late subscribers and Deferred
    providers finishing out of order (across selectors), every subscriber only moves
    forward and ends on the server's final state; one provider run per selector at most."""
    rng = random.Random(seed)
    p = Platform(deferred=True)
    groups = ["a", "b", "c"]
    clients = [device(p, f"peek-mobile-{i}")[2] for i in range(3)]
    subjects = []

    def subscribe_someone() -> None:
        client, group = rng.choice(clients), rng.choice(groups)
        subject = client.subscribeToTupleSelector(selector(group))
        subjects.append((group, subject, record(subject)))

    subscribe_someone()
    for step in range(200):
        action = rng.random()
        if action < 0.45:
            group = rng.choice(groups)
            p.store.set(group, [f"{group}{step}"] * rng.randint(0, 3))
            p.handler.notifyOfTupleUpdate(selector(group))
        elif action < 0.75 and p.provider.pending:
            p.provider.fire(rng.randrange(len(p.provider.pending)))
        elif action < 0.9:
            p.settle()
        else:
            subscribe_someone()
    p.finish()

    assert p.provider.max_in_flight == 1
    for group, subject, seen in subjects:
        assert values(subject.tuples) == p.store.values[group], (group, seed)
        revs = [t[0].rev for t in seen if t]
        assert revs == sorted(revs), "a subscriber went back to an older state"


def test_notifies_faster_than_the_provider_are_coalesced() -> None:
    """Any number of notifies costs at most the run in flight plus one queued re-run."""
    p = Platform(deferred=True)
    _, _, client = device(p)
    observed = client.subscribeToTupleSelector(selector("a"))
    p.finish()
    assert p.provider.calls == 1

    for i in range(100):  # one reactor turn: one run
        p.store.set("a", [i])
        p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert p.provider.calls == 2
    for i in range(100, 150):  # while that run is in flight: one re-run queued
        p.store.set("a", [i])
        p.handler.notifyOfTupleUpdate(selector("a"))
        p.settle()
    assert p.provider.calls == 2
    p.finish()
    assert p.provider.calls == 3
    assert values(observed.tuples) == [149]


def test_an_update_is_encoded_once_and_the_same_bytes_reach_every_subscriber(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 5 subscribers, each update costs one tuple encode and all get identical bytes."""
    p = Platform()
    clients = [device(p, f"peek-mobile-{i}")[2] for i in range(5)]
    subjects = [c.subscribeToTupleSelector(selector("a")) for c in clients]
    p.settle()
    counter = EncodeCounter(monkeypatch)
    sent = sent_by(p.server)
    p.store.set("a", ["new"] * 50)
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert counter.count == 1
    assert len(sent) == 5
    assert len({id(data) for _, data in sent}) == 1  # the very same bytes object
    assert len({dest.vortex_uuid for dest, _ in sent}) == 5
    assert all(values(s.tuples) == ["new"] * 50 for s in subjects)
    header = PayloadEnvelope.fromVortexMsg(sent[0][1]).filt
    assert header["op"] == "update" and header["epoch"] == p.handler.epoch


def test_a_late_subscriber_is_served_from_the_cache() -> None:
    """A second subscriber to a watched selector gets the cached data without a provider run."""
    p = Platform()
    p.store.set("a", [1])
    _, _, first = device(p, "peek-mobile-1")
    first.subscribeToTupleSelector(selector("a"))
    p.settle()
    _, _, late = device(p, "peek-mobile-2")
    observed = late.subscribeToTupleSelector(selector("a"))
    assert values(observed.tuples) == [1]  # no clock advance needed: it came from the cache
    assert p.provider.calls == 1


def test_closing_a_subscriber_connection_drops_its_subscriptions() -> None:
    """When a subscriber's connection closes its subscriptions go; notifies cost nothing."""
    p = Platform()
    _, link, client = device(p)
    client.subscribeToTupleSelector(selector("a"))
    client.subscribeToTupleSelector(selector("b"))
    p.settle()
    assert p.handler.subscriberCount(selector("a")) == 1
    p.unlink(link)
    assert p.handler.subscriberCount(selector("a")) == 0
    assert p.handler.watchedSelectorCount == 0
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert p.provider.calls == 2  # the two initial runs only


def test_unsubscribing_the_last_local_observer_unsubscribes_remotely() -> None:
    """Local subscriptions share one remote one, which ends with the last of them."""
    p = Platform()
    _, _, client = device(p)
    one = client.subscribeToTupleSelector(selector("a"))
    two = client.subscribeToTupleSelector(selector("a"))
    p.settle()
    assert p.handler.subscriberCount(selector("a")) == 1
    assert values(two.tuples) == []
    one.unsubscribe()
    assert p.handler.subscriberCount(selector("a")) == 1
    two.unsubscribe()
    assert p.handler.watchedSelectorCount == 0


def test_poll_returns_current_data_once() -> None:
    """pollForTuples answers with the data as of now, and subscribes to nothing."""
    p = Platform()
    p.store.set("a", ["polled"])
    _, _, client = device(p)
    d = client.pollForTuples(selector("a"))
    p.settle()
    assert values(result_of(d)) == ["polled"]
    assert p.handler.watchedSelectorCount == 0


def test_poll_waits_for_a_run_started_after_a_notify() -> None:
    """A poll arriving after a notify is not answered with data read before that notify."""
    p = Platform(deferred=True)
    _, _, client = device(p)
    client.subscribeToTupleSelector(selector("a"))
    p.finish()
    p.store.set("a", ["old"])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()  # a run reading "old" is now in flight
    p.store.set("a", ["new"])
    p.handler.notifyOfTupleUpdate(selector("a"))
    polled = client.pollForTuples(selector("a"))
    p.provider.fire()
    p.settle()
    assert not polled.called
    p.finish()
    assert values(result_of(polled)) == ["new"]


def test_provider_failure_reaches_subscribers_and_later_data_still_flows() -> None:
    """A failing provider sends an error (code + error id, not its text) and later updates
    still arrive."""
    p = Platform()
    _, _, client = device(p)
    observed = client.subscribeToTupleSelector(selector("a"))
    errors: list[RemoteError] = []
    observed.subscribe(lambda tuples: None, errors.append)
    p.settle()
    p.provider.fail_next = True
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert [e.code for e in errors] == ["RuntimeError"]
    assert re.fullmatch(r"internal error, id [0-9a-f]{12}", errors[0].message), errors
    p.store.set("a", [7])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert values(observed.tuples) == [7] and observed.error is None
    p.provider.fail_next = True
    polled = client.pollForTuples(selector("b"))
    p.settle()
    with pytest.raises(RemoteError, match=r"^RuntimeError: internal error, id [0-9a-f]{12}$"):
        result_of(polled)


def test_a_selector_without_provider_gets_a_clear_error() -> None:
    """Subscribing to a tuple name nobody provides answers NoTupleProvider, naming it."""
    p = Platform()
    _, _, client = device(p)
    observed = client.subscribeToTupleSelector(TupleSelector("nobody.Provides", {}))
    assert observed.error is not None and observed.error.code == "NoTupleProvider"
    assert "nobody.Provides" in observed.error.message
    with pytest.raises(RemoteError, match="NoTupleProvider"):
        result_of(client.pollForTuples(TupleSelector("nobody.Provides", {})))


def test_observables_with_different_additional_filt_do_not_cross() -> None:
    """Two observables of one name apart only by additionalFilt serve their own data."""
    p = Platform()
    second = TupleDataObservableHandler(OBSERVABLE, {"plugin": "other"}, router=p.server.router)
    second.addTupleProvider(ItemTuple.tupleName(), type(p.provider)(p.store))
    node, _, client = device(p)
    other_client = TupleDataObserverClient(
        OBSERVABLE, "peek-server", {"plugin": "other"}, router=node.router
    )
    client.subscribeToTupleSelector(selector("a"))
    p.settle()
    assert p.handler.subscriberCount(selector("a")) == 1
    assert second.subscriberCount(selector("a")) == 0
    other_client.subscribeToTupleSelector(selector("a"))
    assert second.subscriberCount(selector("a")) == 1


def test_reserved_keys_in_additional_filt_are_refused() -> None:
    """additionalFilt may not override the keys the observable messages are built from."""
    with pytest.raises(ValueError, match="tupleSelector"):
        ObservableMessages(OBSERVABLE, {"tupleSelector": "x"})
    with pytest.raises(ValueError, match="non-empty"):
        ObservableMessages("", None)


def test_plugin_rollback_drops_the_handler() -> None:
    """A handler made while a plugin loads is shut down when that plugin is rolled back."""
    p = Platform(with_handler=False)
    log = OwnershipScope("peek_plugin_observed")
    with owned_by(log):
        handler = p.make_handler()
    assert p.server.router.endpoint_count == 3
    _, _, client = device(p)
    client.subscribeToTupleSelector(selector("a"))
    p.settle()
    assert handler.subscriberCount(selector("a")) == 1
    log.rollback()
    assert p.server.router.endpoint_count == 0
    assert handler not in connection_events(p.server.router)._listeners
    assert handler.watchedSelectorCount == 0
    handler.notifyOfTupleUpdate(selector("a"))
    fresh = client.subscribeToTupleSelector(selector("b"))
    p.settle()
    assert fresh.tuples is None and p.provider.calls == 1


def test_a_poll_waiting_when_the_handler_shuts_down_gets_an_error() -> None:
    """Shutting down answers polls still waiting for a provider run with a clear error."""
    p = Platform(deferred=True)
    _, _, client = device(p)
    polled = client.pollForTuples(selector("a"))
    p.settle()
    assert not polled.called
    p.handler.shutdown()
    with pytest.raises(RemoteError, match="ObservableShutdown"):
        result_of(polled)

"""The Python observer client: shared subscriptions, listeners, resubscribe on reconnect."""

from peek_plugin_base.vortex import TupleDataObserverClient
from tests.vortex_observables.harness import FILT, OBSERVABLE, Platform, selector, values


def test_the_observer_resubscribes_when_its_server_connection_returns() -> None:
    """A service observing the server directly converges after its link drops and returns."""
    p = Platform()
    p.store.set("a", [1])
    agent = p.bus.node("peek-agent")
    link = p.link(agent, p.server)
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=agent.router)
    observed = client.subscribeToTupleSelector(selector("a"))
    p.settle()
    p.unlink(link)
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert values(observed.tuples) == [1]
    p.link(agent, p.server)
    p.settle()
    assert values(observed.tuples) == [2]
    p.store.set("a", [3])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert values(observed.tuples) == [3]


def test_subscribing_before_the_connection_exists_works_once_it_opens() -> None:
    """A subscription made while offline is sent when the connection opens."""
    p = Platform()
    p.store.set("a", ["x"])
    agent = p.bus.node("peek-agent")
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=agent.router)
    observed = client.subscribeToTupleSelector(selector("a"))
    p.settle()
    assert observed.tuples is None
    p.link(agent, p.server)
    p.settle()
    assert values(observed.tuples) == ["x"]


def test_listeners_get_current_data_at_once_and_next_tuples_waits() -> None:
    """subscribe() replays the current list; nextTuples() fires with the following one."""
    p = Platform()
    p.store.set("a", [1])
    agent = p.bus.node("peek-agent")
    p.link(agent, p.server)
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=agent.router)
    observed = client.subscribeToTupleSelector(selector("a"))
    p.settle()
    got: list = []
    undo = observed.subscribe(got.append)
    assert [values(t) for t in got] == [[1]]
    following = observed.nextTuples()
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert values(following.result) == [2]
    undo()
    p.store.set("a", [3])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert [values(t) for t in got] == [[1], [2]]
    assert observed.updateCount == 3


def test_a_failing_listener_does_not_stop_the_others() -> None:
    """One listener raising is logged; the other listeners still get the data."""
    p = Platform()
    agent = p.bus.node("peek-agent")
    p.link(agent, p.server)
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=agent.router)
    observed = client.subscribeToTupleSelector(selector("a"))

    def broken(tuples: list) -> None:
        raise RuntimeError("listener bug")

    got: list = []
    observed.subscribe(broken)
    observed.subscribe(got.append)
    p.settle()
    assert got == [[]]


def test_shutdown_unsubscribes_everything() -> None:
    """Shutting the client down ends its remote subscriptions and its endpoints."""
    p = Platform()
    agent = p.bus.node("peek-agent")
    p.link(agent, p.server)
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=agent.router)
    client.subscribeToTupleSelector(selector("a"))
    client.subscribeToTupleSelector(selector("b"))
    p.settle()
    assert p.handler.watchedSelectorCount == 2
    client.shutdown()
    assert p.handler.watchedSelectorCount == 0
    assert agent.router.endpoint_count == 0

"""The service tree's lifecycle model: order from ``requires``, reverse stop, reconfigure."""

import random
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater

from peek_platform.config import ServiceConfig
from peek_platform.errors import PeekError, ServiceTreeError
from peek_platform.service.runner import restart_only_changes
from peek_platform.service.tree import (
    PeekServiceTree,
    PluginHostService,
    declare_requires,
    start_order,
)


class Step(Service):
    """A child whose start and stop take a clock tick, noting what happened in a journal."""

    def __init__(self, name: str, journal: list[str], clock: Clock,
                 requires: tuple[str, ...] = (), live_keys: frozenset[str] = frozenset(),
                 fail_stop: bool = False, fail_reconfigure: bool = False) -> None:
        self.name = name
        self.requires = requires
        self.live_keys = live_keys
        self._journal = journal
        self._clock = clock
        self._fail_stop = fail_stop
        self._fail_reconfigure = fail_reconfigure

    def _later(self, what: str, fail: bool = False) -> Deferred[None]:
        self._journal.append(f"{what} {self.name} begins")

        def done() -> None:
            self._journal.append(f"{what} {self.name} ends")
            if fail:
                raise RuntimeError(f"{self.name} cannot {what}")

        return deferLater(self._clock, 1, done)

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().startService()
        return self._later("start")

    def stopService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().stopService()
        return self._later("stop", self._fail_stop)

    def reconfigure(self, config: Any) -> Deferred[None]:
        """Notes the config it was given (the journal shows it was awaited)."""
        return self._later(f"reconfigure({config['logging.level']})", self._fail_reconfigure)


def _names(services: list[Any]) -> list[str]:
    return [service.name for service in services]


def _run(clock: Clock, d: Deferred[Any]) -> list[Any]:
    """Advance the clock until ``d`` fires; returns [result] (a Failure when it failed)."""
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    for _ in range(100):
        if outcome:
            break
        clock.advance(1)
    assert outcome, "the Deferred never fired"
    return outcome


def test_order_follows_requires_whatever_the_order_added() -> None:
    """Each child comes after everything it requires, however the children were added;
    children with no constraint between them keep the order they were added in."""
    clock, journal = Clock(), []
    children = [
        Step("sites", journal, clock, ("plugins",)),
        Step("plugins", journal, clock, ("bus", "db")),
        Step("bus", journal, clock, ("db",)),
        Step("db", journal, clock),
        Step("tasks", journal, clock),
    ]
    assert _names(start_order("t", children)) == ["db", "bus", "plugins", "sites", "tasks"]
    for seed in range(20):
        shuffled = list(children)
        random.Random(seed).shuffle(shuffled)
        order = _names(start_order("t", shuffled))
        for child in children:
            assert all(order.index(other) < order.index(child.name)
                       for other in child.requires), (seed, order)


def test_unknown_requirement_is_a_clear_error() -> None:
    """A requirement naming no sibling fails with the child, the missing name and the
    children that are there."""
    clock, journal = Clock(), []
    with pytest.raises(ServiceTreeError) as raised:
        start_order("peek-test", [Step("db", journal, clock),
                                  Step("plugins", journal, clock, ("db", "bus"))])
    message = str(raised.value)
    assert "peek-test" in message
    assert "'plugins' requires 'bus', which is not in the tree" in message
    assert "(its children: db, plugins)" in message
    assert isinstance(raised.value, PeekError)


def test_cycle_is_a_clear_error_naming_it() -> None:
    """Requirements that go round in a circle fail with the circle spelled out."""
    clock, journal = Clock(), []
    children = [Step("db", journal, clock), Step("a", journal, clock, ("db", "c")),
                Step("b", journal, clock, ("a",)), Step("c", journal, clock, ("b",))]
    with pytest.raises(ServiceTreeError, match=r"a cycle: a -> c -> b -> a"):
        start_order("t", children)
    with pytest.raises(ServiceTreeError, match=r"a cycle: self -> self"):
        start_order("t", [Step("self", journal, clock, ("self",))])


def test_children_need_names_and_requires_needs_a_collection() -> None:
    """A nameless child, two children of one name and ``requires="db"`` (a string, which
    would read as letters) are refused."""
    clock, journal = Clock(), []
    with pytest.raises(ServiceTreeError, match="has no name"):
        start_order("t", [Service()])
    with pytest.raises(ServiceTreeError, match="two children are named 'db'"):
        start_order("t", [Step("db", journal, clock), Step("db", journal, clock)])
    odd = Step("plugins", journal, clock)
    odd.requires = "db"  # type: ignore[assignment]
    with pytest.raises(ServiceTreeError, match=r"'plugins' declares requires='db'"):
        start_order("t", [Step("db", journal, clock), odd])


def _tree(journal: list[str], clock: Clock, **options: Any) -> PeekServiceTree:
    tree = PeekServiceTree("test", None)
    for child in [
        Step("sites", journal, clock, ("plugins",), frozenset({"httpServer.apiKeys"})),
        Step("plugins", journal, clock, ("bus",), frozenset({"plugin.enabled"}),
             fail_reconfigure=options.get("fail_reconfigure", False)),
        Step("bus", journal, clock, ("db",), fail_stop=options.get("fail_stop", False)),
        Step("db", journal, clock),
    ]:
        child.setServiceParent(tree)
    return tree


def test_tree_starts_in_order_each_awaited_and_stops_in_reverse() -> None:
    """The tree starts a child only once the one before has finished starting, and stops
    them backwards, each stop finished before the next begins, even past a failing one."""
    clock, journal = Clock(), []
    tree = _tree(journal, clock, fail_stop=True)
    assert _run(clock, tree.startService()) == [None]
    assert journal == [f"start {n} {w}" for n in ("db", "bus", "plugins", "sites")
                       for w in ("begins", "ends")]
    journal.clear()
    assert _run(clock, tree.stopService()) == [None]
    assert journal == [f"stop {n} {w}" for n in ("sites", "plugins", "bus", "db")
                       for w in ("begins", "ends")]


def test_tree_that_cannot_be_ordered_fails_its_start_without_starting_anything() -> None:
    """An unknown requirement added after the build fails startService with the error and
    starts no child."""
    clock, journal = Clock(), []
    tree = _tree(journal, clock)
    Step("late", journal, clock, ("nothing",)).setServiceParent(tree)
    outcome = _run(clock, tree.startService())
    assert outcome[0].check(ServiceTreeError)
    assert "'late' requires 'nothing'" in outcome[0].getErrorMessage()
    assert journal == []


def test_reconfigure_reaches_each_running_child_in_order_and_goes_past_a_failure(
    tmp_path: Path,
) -> None:
    """reconfigure hands the config to every running child in start order, awaiting each;
    one that fails is named in the result and the others still get the config; the tree
    applies logging.level itself."""
    import logging

    clock, journal = Clock(), []
    tree = _tree(journal, clock, fail_reconfigure=True)
    _run(clock, tree.startService())
    journal.clear()
    config = ServiceConfig.load("server", tmp_path)
    config.data["logging"]["level"] = "WARNING"
    root_level = logging.getLogger().level
    try:
        assert _run(clock, tree.reconfigure(config)) == [["plugins"]]
        assert logging.getLogger().level == logging.WARNING
    finally:
        logging.getLogger().setLevel(root_level)
    assert journal == [f"reconfigure(WARNING) {n} {w}"
                       for n in ("db", "bus", "plugins", "sites") for w in ("begins", "ends")]


def test_reconfigure_skips_children_that_are_not_running(tmp_path: Path) -> None:
    """A child that is not running (its start failed or has not come) is not reconfigured."""
    clock, journal = Clock(), []
    tree = _tree(journal, clock)
    tree.resolve_order()
    config = ServiceConfig.load("server", tmp_path)
    assert _run(clock, tree.reconfigure(config)) == [[]]
    assert journal == []


def test_live_keys_are_what_the_children_declare(tmp_path: Path) -> None:
    """The keys SIGHUP applies are the tree's own and its children's; a changed key no
    child applies is reported as needing a restart."""
    clock, journal = Clock(), []
    tree = _tree(journal, clock)
    assert tree.live_keys == {"logging.level", "plugin.enabled", "httpServer.apiKeys"}
    running = ServiceConfig.load("server", tmp_path).data
    fresh = {**running, "plugin": {**running["plugin"], "enabled": ["x"]},
             "httpServer": {**running["httpServer"], "apiKeys": ["k"],
                            "corsOrigins": ["https://example.org"]}}
    assert restart_only_changes("server", running, fresh, tree.live_keys) == [
        "httpServer.corsOrigins"]


class _FakeHost:
    """Records what the plugin host child asks of the host."""

    def __init__(self) -> None:
        self.applied: list[list[str]] = []

    async def apply_enabled(self, enabled: list[str]) -> None:
        self.applied.append(enabled)


def test_plugin_host_child_applies_plugin_enabled_on_reconfigure(tmp_path: Path) -> None:
    """The plugin host child hands the reloaded plugin.enabled to the host's reload path."""
    host = _FakeHost()
    child = PluginHostService(host, lambda: [])  # type: ignore[arg-type]
    config = ServiceConfig.load("server", tmp_path)
    config.data["plugin"]["enabled"] = ["peek_plugin_noop"]
    outcome: list[Any] = []
    child.reconfigure(config).addBoth(outcome.append)
    assert outcome == [None]
    assert host.applied == [["peek_plugin_noop"]]


def _position(names: list[str]) -> dict[str, int]:
    return {name: index for index, name in enumerate(names)}


def _assert_requires_hold(children: list[Any]) -> None:
    at = _position(_names(children))
    for child in children:
        for other in getattr(child, "requires", ()):
            assert at[other] < at[child.name], (child.name, other)


def _shuffled_orders(tree: PeekServiceTree) -> list[list[str]]:
    """The start order of the tree's children added in 20 random orders."""
    orders = []
    for seed in range(20):
        children = list(tree)
        random.Random(seed).shuffle(children)
        ordered = start_order(tree.name, children)
        _assert_requires_hold(ordered)
        orders.append(_names(ordered))
    return orders


def test_server_order_comes_from_requires(tmp_path: Path) -> None:
    """The server's order, computed from what each child requires whatever the order they
    are added in: storage, then the action outcome record, then the bus, then the admin
    bus and login, the state registry and reporter, the task caller, then plugins, then
    the sites."""
    from peek_server.main import build

    tree = build(ServiceConfig.load("server", tmp_path))
    _assert_requires_hold(list(tree))
    for order in [_names(list(tree))] + _shuffled_orders(tree):
        at = _position(order)
        assert at["storage"] < at["action-outcomes"] < at["vortex"] < at["vortex-admin"]
        assert at["vortex-admin"] < at["admin-auth"] < at["plugins"]
        assert at["storage"] < at["admin-auth"]
        assert at["vortex"] < at["admin-state-registry"] < at["admin-state-reporter"]
        assert at["admin-state-reporter"] < at["plugins"]
        assert at["worker-tasks"] < at["plugins"]
        assert at["plugins"] < at["admin-site"] and at["plugins"] < at["platform-site"]


def test_client_and_agent_orders_come_from_requires(tmp_path: Path) -> None:
    """The client connects upstream before it takes devices and reports both before its
    plugins start, then opens its sites; the agent connects before it reports and hosts
    plugins."""
    from peek_agent.main import build as build_agent
    from peek_client.main import build as build_client

    server_home = tmp_path / "server"
    client = build_client(ServiceConfig.load("client", tmp_path / "c", server_home=server_home))
    for order in [_names(list(client))] + _shuffled_orders(client):
        at = _position(order)
        assert at["vortex"] < at["vortex-devices"] < at["admin-state-reporter"] < at["plugins"]
        assert at["plugins"] < at["mobile-site"] and at["plugins"] < at["desktop-site"]
    agent = build_agent(ServiceConfig.load("agent", tmp_path / "a", server_home=server_home))
    for order in [_names(list(agent))] + _shuffled_orders(agent):
        at = _position(order)
        assert at["vortex"] < at["admin-state-reporter"] < at["plugins"]


def test_declare_requires_replaces_a_class_default() -> None:
    """declare_requires sets what this instance needs, over what its class declares."""
    from peek_platform.admin.service import AdminAuthService

    assert AdminAuthService.requires == ("storage",)
    service = Service()
    assert declare_requires(service, "a", "b") is service
    assert service.requires == ("a", "b")  # type: ignore[attr-defined]

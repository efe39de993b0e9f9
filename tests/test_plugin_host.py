"""The plugin host: filtering, ordering, failure isolation, rollback, lifecycle and reload."""

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from peek_plugin_noop.server.NoopApiABC import NoopApiABC
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from peek_agent.platform_hook import AgentPlatformHook
from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost, PluginState, ServicePluginSpec
from peek_platform.web.plugin_site import PluginSiteRoot
from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_server.platform_hook import ServerPlatformHook
from peek_vortex import OwnershipScope
from tests import host_journal
from tests.support import result_of, write_plugin


@pytest.fixture
def plugin_root(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for fixture plugins; their modules are forgotten afterwards."""
    root = tmp_path / "plugins"
    root.mkdir()
    sys.path.insert(0, str(root))
    host_journal.JOURNAL.clear()
    host_journal.LIVE_REGISTRATIONS.clear()
    host_journal.PENDING.clear()
    before = set(sys.modules)
    yield root
    sys.path.remove(str(root))
    for name in set(sys.modules) - before:
        if name.startswith("fx_"):
            del sys.modules[name]


def make_host(tmp_path: Path, clock: Clock | None = None) -> PluginHost:
    config = ServiceConfig.load("agent", tmp_path / "home")

    def hook(host: PluginHost, name: str, log: OwnershipScope) -> AgentPlatformHook:
        return AgentPlatformHook(host, name, log, config)

    spec = ServicePluginSpec("agent", PluginAgentEntryHookABC, frozenset({"agent"}), hook)
    return PluginHost(spec, clock=clock)


def start(host: PluginHost, names: list[str]) -> None:
    result_of(Deferred.fromCoroutine(host.start_plugins(names)))


def states(host: PluginHost) -> dict[str, str]:
    return {r.name: r.state.value for r in host.records.values()}


def steps(step: str) -> list[str]:
    return [name for name, s in host_journal.JOURNAL if s == step]


def test_loads_then_starts_all_and_stops_then_unloads_in_reverse(
    plugin_root: Path, tmp_path: Path
) -> None:
    """Every plugin loads before any starts; shutdown stops all in reverse, then unloads."""
    for name in ("fx_a", "fx_b", "fx_c"):
        write_plugin(plugin_root, name)
    host = make_host(tmp_path)
    start(host, ["fx_a", "fx_b", "fx_c"])
    result_of(Deferred.fromCoroutine(host.stop_all()))
    assert host_journal.JOURNAL == [
        ("fx_a", "load"), ("fx_b", "load"), ("fx_c", "load"),
        ("fx_a", "start"), ("fx_b", "start"), ("fx_c", "start"),
        ("fx_c", "stop"), ("fx_b", "stop"), ("fx_a", "stop"),
        ("fx_c", "unload"), ("fx_b", "unload"), ("fx_a", "unload"),
    ]
    assert set(states(host).values()) == {"stopped"}


def test_requires_services_filters_with_info_line(
    plugin_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin whose requiresServices omits this service is skipped with an INFO line."""
    write_plugin(plugin_root, "fx_server_only", services=("server",))
    write_plugin(plugin_root, "fx_everywhere")
    host = make_host(tmp_path)
    with caplog.at_level(logging.INFO):
        start(host, ["fx_server_only", "fx_everywhere"])
    assert states(host) == {"fx_server_only": "skipped", "fx_everywhere": "running"}
    assert "does not run on the agent service" in host.records["fx_server_only"].reason
    line = next(r for r in caplog.records if "fx_server_only skipped" in r.getMessage())
    assert line.levelno == logging.INFO
    assert steps("load") == ["fx_everywhere"]


def test_requirements_start_first_whatever_the_enabled_order(
    plugin_root: Path, tmp_path: Path
) -> None:
    """requiresPlugins orders plugins topologically; otherwise plugin.enabled order holds."""
    write_plugin(plugin_root, "fx_app", requires=("fx_lib",))
    write_plugin(plugin_root, "fx_lib", requires=("fx_base",))
    write_plugin(plugin_root, "fx_base")
    write_plugin(plugin_root, "fx_other")
    host = make_host(tmp_path)
    start(host, ["fx_app", "fx_other", "fx_lib", "fx_base"])
    assert steps("start") == ["fx_base", "fx_lib", "fx_app", "fx_other"]
    result_of(Deferred.fromCoroutine(host.stop_all()))
    assert steps("stop") == ["fx_other", "fx_app", "fx_lib", "fx_base"]


def test_dependency_cycle_is_a_clear_error_and_others_run(
    plugin_root: Path, tmp_path: Path
) -> None:
    """Plugins in a requiresPlugins cycle fail naming the cycle; dependants are skipped."""
    write_plugin(plugin_root, "fx_x", requires=("fx_y",))
    write_plugin(plugin_root, "fx_y", requires=("fx_x",))
    write_plugin(plugin_root, "fx_needs_x", requires=("fx_x",))
    write_plugin(plugin_root, "fx_free")
    host = make_host(tmp_path)
    start(host, ["fx_needs_x", "fx_x", "fx_y", "fx_free"])
    assert states(host) == {
        "fx_needs_x": "skipped", "fx_x": "failed", "fx_y": "failed", "fx_free": "running",
    }
    assert "dependency cycle: " in host.records["fx_x"].reason
    assert "fx_x -> fx_y -> fx_x" in host.records["fx_x"].reason or (
        "fx_y -> fx_x -> fx_y" in host.records["fx_x"].reason
    )
    assert "requires plugin fx_x, which failed" in host.records["fx_needs_x"].reason


def test_missing_requirement_skips_the_dependant(plugin_root: Path, tmp_path: Path) -> None:
    """A requirement that is not in plugin.enabled skips the plugin with that reason."""
    write_plugin(plugin_root, "fx_lonely", requires=("fx_absent",))
    host = make_host(tmp_path)
    start(host, ["fx_lonely"])
    record = host.records["fx_lonely"]
    assert record.state is PluginState.SKIPPED
    assert record.reason == "requires plugin fx_absent, which is not in plugin.enabled"


def test_load_failure_is_isolated_rolled_back_and_dependants_skipped(
    plugin_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin raising in load() is logged with its traceback, its registrations are undone,
    plugins requiring it are skipped with the reason, and the others run."""
    write_plugin(plugin_root, "fx_ok")
    write_plugin(plugin_root, "fx_broken", behaviour={"load": "register"})
    write_plugin(plugin_root, "fx_dependant", requires=("fx_broken",))
    host = make_host(tmp_path)
    with caplog.at_level(logging.ERROR):
        start(host, ["fx_ok", "fx_broken", "fx_dependant"])
    assert states(host) == {"fx_ok": "running", "fx_broken": "failed", "fx_dependant": "skipped"}
    assert host_journal.LIVE_REGISTRATIONS == set()
    assert "fx_broken load broke after registering" in host.records["fx_broken"].reason
    assert host.records["fx_dependant"].reason.startswith(
        "requires plugin fx_broken, which failed: load() raised"
    )
    failure = next(r for r in caplog.records if "Plugin fx_broken failed" in r.getMessage())
    assert failure.exc_info is not None  # the traceback is in the log
    assert ("fx_dependant", "load") not in host_journal.JOURNAL


def test_start_failure_unloads_plugin_and_its_loaded_dependants(
    plugin_root: Path, tmp_path: Path
) -> None:
    """start() failing (as a failed Deferred) unloads the plugin; dependants never start."""
    write_plugin(plugin_root, "fx_bad_start", behaviour={"start": "fail-deferred"})
    write_plugin(plugin_root, "fx_after", requires=("fx_bad_start",))
    write_plugin(plugin_root, "fx_fine")
    host = make_host(tmp_path)
    start(host, ["fx_bad_start", "fx_after", "fx_fine"])
    assert states(host) == {"fx_bad_start": "failed", "fx_after": "skipped", "fx_fine": "running"}
    assert "failed later" in host.records["fx_bad_start"].reason
    assert ("fx_bad_start", "unload") in host_journal.JOURNAL
    assert ("fx_after", "unload") in host_journal.JOURNAL
    assert ("fx_after", "start") not in host_journal.JOURNAL
    assert host.active_names == ["fx_fine"]


@pytest.mark.parametrize(
    ("init_source", "package_json", "reason"),
    [
        ("raise ImportError('no such thing')", None, "import failed"),
        ("", None, "has no peekAgentEntryHook() function"),
        ("def peekAgentEntryHook():\n    return dict\n", None, "must return a subclass of"),
        ("", "{not json", "invalid JSON at line 1 column 2"),
        ("", "", "plugin_package.json: file not found"),
    ],
)
def test_broken_packages_fail_with_a_reason(
    plugin_root: Path, tmp_path: Path, init_source: str, package_json: str | None, reason: str
) -> None:
    """Import errors, missing hooks, wrong classes and bad plugin_package.json fail one plugin."""
    write_plugin(plugin_root, "fx_broken_pkg", init_source=init_source or "\n",
                 package_json=package_json)
    write_plugin(plugin_root, "fx_good")
    host = make_host(tmp_path)
    before = sorted(p.name for p in (plugin_root / "fx_broken_pkg").iterdir())
    start(host, ["fx_broken_pkg", "fx_good"])
    assert states(host) == {"fx_broken_pkg": "failed", "fx_good": "running"}
    assert reason in host.records["fx_broken_pkg"].reason
    # plugin_package.json is never created or rewritten
    assert sorted(p.name for p in (plugin_root / "fx_broken_pkg").iterdir()) == before


def test_duplicate_name_is_an_error_and_others_load(
    plugin_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A name listed twice is reported, loaded once, and the other plugins still load."""
    write_plugin(plugin_root, "fx_twice")
    write_plugin(plugin_root, "fx_single")
    host = make_host(tmp_path)
    with caplog.at_level(logging.ERROR):
        start(host, ["fx_twice", "fx_single", "fx_twice"])
    assert states(host) == {"fx_twice": "running", "fx_single": "running"}
    assert steps("load") == ["fx_twice", "fx_single"]
    assert any("lists fx_twice more than once" in r.getMessage() for r in caplog.records)


def test_get_other_plugin_api_returns_published_api(plugin_root: Path, tmp_path: Path) -> None:
    """getOtherPluginApi returns the other plugin's published API, or None if not loaded."""
    write_plugin(plugin_root, "fx_provider")
    write_plugin(plugin_root, "fx_consumer")
    host = make_host(tmp_path)
    start(host, ["fx_provider", "fx_consumer"])
    consumer = host.records["fx_consumer"].entry_hook
    assert consumer is not None
    assert consumer.platform.getOtherPluginApi("fx_provider") == "api of fx_provider"
    assert consumer.platform.getOtherPluginApi("fx_nobody") is None
    storage = consumer.platform.fileStorageDirectory
    assert storage.is_dir() and storage.name == "fx_consumer"
    assert consumer.platform.serviceId.startswith("agent|")


def test_async_and_deferred_steps_are_awaited_in_sequence(
    plugin_root: Path, tmp_path: Path
) -> None:
    """stop() returning a Deferred is awaited before the next plugin stops and before unload."""
    write_plugin(plugin_root, "fx_first", behaviour={"start": "async"})
    write_plugin(plugin_root, "fx_slow_stop", behaviour={"stop": "deferred"})
    host = make_host(tmp_path, clock=Clock())
    start(host, ["fx_first", "fx_slow_stop"])
    assert ("fx_first", "start-async-done") in host_journal.JOURNAL
    stopping = Deferred.fromCoroutine(host.stop_all())
    assert steps("stop") == ["fx_slow_stop"]  # fx_first waits for fx_slow_stop
    assert steps("unload") == []
    host_journal.PENDING[("fx_slow_stop", "stop")].callback(None)
    result_of(stopping)
    assert steps("stop") == ["fx_slow_stop", "fx_first"]
    assert steps("unload") == ["fx_slow_stop", "fx_first"]


def test_hung_stop_times_out_and_shutdown_continues(plugin_root: Path, tmp_path: Path) -> None:
    """A stop() that never finishes is abandoned after the timeout; unload still runs."""
    write_plugin(plugin_root, "fx_hangs", behaviour={"stop": "deferred"})
    clock = Clock()
    host = make_host(tmp_path, clock=clock)
    start(host, ["fx_hangs"])
    stopping = Deferred.fromCoroutine(host.stop_all())
    clock.advance(4.9)
    assert steps("unload") == []
    clock.advance(0.2)
    result_of(stopping)
    assert steps("unload") == ["fx_hangs"]


def test_apply_enabled_adds_and_removes_plugins(plugin_root: Path, tmp_path: Path) -> None:
    """Reload stops removed plugins (and their dependants) and starts added ones."""
    write_plugin(plugin_root, "fx_keep")
    write_plugin(plugin_root, "fx_drop")
    write_plugin(plugin_root, "fx_rides_on_drop", requires=("fx_drop",))
    write_plugin(plugin_root, "fx_new", requires=("fx_keep",))
    host = make_host(tmp_path)
    start(host, ["fx_keep", "fx_drop", "fx_rides_on_drop"])
    host_journal.JOURNAL.clear()
    result_of(Deferred.fromCoroutine(host.apply_enabled(["fx_keep", "fx_rides_on_drop",
                                                          "fx_new"])))
    assert steps("stop") == ["fx_rides_on_drop", "fx_drop"]
    assert steps("start") == ["fx_new"]
    assert host.active_names == ["fx_keep", "fx_new"]
    assert states(host)["fx_rides_on_drop"] == "skipped"
    assert "fx_drop" not in sys.modules


def make_server_host(tmp_path: Path) -> tuple[PluginHost, PluginSiteRoot]:
    config = ServiceConfig.load("server", tmp_path / "server-home")
    admin, platform = PluginSiteRoot("admin"), PluginSiteRoot("platform")

    def hook(host: PluginHost, name: str, log: OwnershipScope) -> ServerPlatformHook:
        return ServerPlatformHook(host, name, log, config, {"Admin": admin, "Server": platform})

    spec = ServicePluginSpec("server", PluginServerEntryHookABC, frozenset({"server"}), hook)
    return PluginHost(spec), admin


def test_noop_server_api_reached_through_get_other_plugin_api(
    plugin_root: Path, tmp_path: Path
) -> None:
    """Another server plugin calls the noop plugin's published API."""
    write_plugin(plugin_root, "fx_caller")
    host, _ = make_server_host(tmp_path)
    start(host, ["peek_plugin_noop", "fx_caller"])
    caller = host.records["fx_caller"].entry_hook
    assert caller is not None
    api = caller.platform.getOtherPluginApi("peek_plugin_noop")
    assert isinstance(api, NoopApiABC)
    assert api.ping("hi") == "pong: hi"
    result_of(Deferred.fromCoroutine(host.stop_all()))
    assert caller.platform.getOtherPluginApi("peek_plugin_noop") is None


def test_http_mounts_are_removed_when_a_plugin_fails_or_unloads(
    plugin_root: Path, tmp_path: Path
) -> None:
    """Admin pages mounted by a plugin that then fails, or that unloads, leave the site."""
    write_plugin(plugin_root, "fx_mounts_then_fails", behaviour={"load": "mount-then-raise"})
    write_plugin(plugin_root, "fx_mounts", behaviour={"load": "mount"})
    host, admin = make_server_host(tmp_path)
    start(host, ["fx_mounts_then_fails", "fx_mounts"])
    assert set(admin.children) == {b"fx_mounts"}
    assert b"page" in admin.children[b"fx_mounts"].children
    result_of(Deferred.fromCoroutine(host.stop_all()))
    assert admin.children == {}

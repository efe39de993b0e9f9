"""Plugin lifecycle control in one process: reload, enable, disable, and what callers see
while a plugin is between stop and start (bus PluginReloadingError, HTTP 503)."""

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from peek_agent.platform_hook import AgentPlatformHook
from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError, PluginControlError
from peek_platform.plugin.host import PluginHost, ServicePluginSpec
from peek_platform.web.plugin_site import PluginResource, PluginSiteRoot, PluginUnavailable
from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_vortex import OwnershipScope
from peek_vortex.routing import LocalSender, PayloadRouter
from peek_vortex.wire import PayloadEnvelope
from tests import host_journal
from tests.support import result_of, write_plugin

#: A fixture plugin serving a bus websocket whose reply carries the module's MARK.
ENDPOINT_PLUGIN = '''
"""Fixture plugin {name}: a bus websocket answering with MARK."""
from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_vortex.wire import PayloadEnvelope
from peek_vortex.routing import PayloadEndpoint
from tests import host_journal

MARK = {mark!r}
ROUTER = None


class Hook(PluginAgentEntryHookABC):
    def load(self):
        host_journal.JOURNAL.append(("{name}", "load"))

    def start(self):
        host_journal.JOURNAL.append(("{name}", "start"))
        if MARK == "broken":
            raise RuntimeError("{name} start broke on purpose")
        PayloadEndpoint({{"key": "{name}.mark"}}, self._answer, router=ROUTER)

    def _answer(self, payloadEnvelope, sendResponse, **_):
        sendResponse(PayloadEnvelope(filt={{"key": "{name}.mark", "mark": MARK}}))

    def stop(self):
        host_journal.JOURNAL.append(("{name}", "stop"))
        pending = host_journal.PENDING.get(("{name}", "stop-gate"))
        return pending

    def unload(self):
        host_journal.JOURNAL.append(("{name}", "unload"))


def peekAgentEntryHook():
    import sys
    sys.modules[__name__].ROUTER = host_journal.ROUTER
    return Hook
'''


@pytest.fixture
def plugin_root(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for fixture plugins; their modules are forgotten afterwards."""
    root = tmp_path / "plugins"
    root.mkdir()
    sys.path.insert(0, str(root))
    host_journal.JOURNAL.clear()
    host_journal.PENDING.clear()
    before = set(sys.modules)
    yield root
    sys.path.remove(str(root))
    host_journal.ROUTER = None  # type: ignore[attr-defined]
    for name in set(sys.modules) - before:
        if name.startswith("fx_"):
            del sys.modules[name]


class Wire:
    """A router whose replies are captured, as a connection would carry them."""

    def __init__(self) -> None:
        self.sent: list[PayloadEnvelope] = []
        self.router = PayloadRouter(send=lambda _dest, data: self.sent.append(
            PayloadEnvelope.fromVortexMsg(data)))

    def ask(self, key: str, message_id: str) -> PayloadEnvelope:
        """Deliver a request for ``key`` and return the reply it got at once."""
        before = len(self.sent)
        envelope = PayloadEnvelope(filt={"key": key})
        envelope.messageId = message_id
        self.router.deliver(envelope, LocalSender())
        assert len(self.sent) == before + 1, f"no reply to {key}"
        return self.sent[-1]

    def tell(self, key: str) -> None:
        """Deliver a one-way message (no reply id) for ``key``."""
        self.router.deliver(PayloadEnvelope(filt={"key": key}), LocalSender())


def write_endpoint_plugin(root: Path, name: str, mark: str,
                          requires: tuple[str, ...] = ()) -> Path:
    """(Re)write fixture plugin ``name`` whose endpoint answers with ``mark``."""
    package = root / name
    if not package.exists():
        write_plugin(root, name, services=("agent",), requires=requires,
                     init_source=ENDPOINT_PLUGIN.format(name=name, mark=mark))
    else:
        init = package / "__init__.py"
        init.write_text(ENDPOINT_PLUGIN.format(name=name, mark=mark))
        # A rewrite within the same clock tick must still look newer to the import system.
        stat = init.stat()
        os.utime(init, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    return package


def make_host(tmp_path: Path, wire: Wire, clock: Clock | None = None) -> PluginHost:
    config = ServiceConfig.load("agent", tmp_path / "home")
    host_journal.ROUTER = wire.router  # type: ignore[attr-defined]

    def hook(host: PluginHost, name: str, log: OwnershipScope) -> AgentPlatformHook:
        return AgentPlatformHook(host, name, log, config)

    spec = ServicePluginSpec("agent", PluginAgentEntryHookABC, frozenset({"agent"}), hook)
    host = PluginHost(spec, clock=clock, router=wire.router)
    host.edit_enabled = config.edit_plugin_enabled
    return host


def run(coroutine: object) -> object:
    return result_of(Deferred.fromCoroutine(coroutine))  # type: ignore[arg-type]


def mark_of(reply: PayloadEnvelope) -> str:
    assert reply.error is None, reply.error
    return str(reply.filt["mark"])


def enabled_on_disk(tmp_path: Path) -> list[str]:
    return list(json.loads((tmp_path / "home" / "config.json").read_text())["plugin"]["enabled"])


def test_reload_picks_up_changed_code_and_restarts_dependants_in_order(
    plugin_root: Path, tmp_path: Path
) -> None:
    """reload_plugin re-imports the plugin's changed code; its dependant is stopped before
    it and started after it; an unrelated plugin is not touched."""
    wire = Wire()
    write_endpoint_plugin(plugin_root, "fx_base", "v1")
    write_endpoint_plugin(plugin_root, "fx_user", "u1", requires=("fx_base",))
    write_endpoint_plugin(plugin_root, "fx_other", "o1")
    host = make_host(tmp_path, wire)
    run(host.start_plugins(["fx_base", "fx_user", "fx_other"]))
    assert mark_of(wire.ask("fx_base.mark", "a")) == "v1"

    write_endpoint_plugin(plugin_root, "fx_base", "v2")
    host_journal.JOURNAL.clear()
    run(host.reload_plugin("fx_base"))

    assert mark_of(wire.ask("fx_base.mark", "b")) == "v2"
    assert mark_of(wire.ask("fx_user.mark", "c")) == "u1"
    assert host_journal.JOURNAL == [
        ("fx_user", "stop"), ("fx_base", "stop"), ("fx_user", "unload"),
        ("fx_base", "unload"), ("fx_base", "load"), ("fx_user", "load"),
        ("fx_base", "start"), ("fx_user", "start"),
    ]
    assert {r["name"]: r["state"] for r in host.states()} == {
        "fx_base": "running", "fx_user": "running", "fx_other": "running"}


def test_reload_failure_leaves_others_running_and_shows_failed(
    plugin_root: Path, tmp_path: Path
) -> None:
    """A plugin whose new code fails to start: reload raises PluginControlError naming it
    and why; it shows failed with the reason, its endpoint is gone, its dependant is
    skipped saying why, others still answer; fixing the code and reloading again brings
    it back, and its dependant with it."""
    wire = Wire()
    write_endpoint_plugin(plugin_root, "fx_flaky", "v1")
    write_endpoint_plugin(plugin_root, "fx_steady", "s1")
    write_endpoint_plugin(plugin_root, "fx_on_flaky", "f1", requires=("fx_flaky",))
    host = make_host(tmp_path, wire)
    run(host.start_plugins(["fx_flaky", "fx_steady", "fx_on_flaky"]))

    write_endpoint_plugin(plugin_root, "fx_flaky", "broken")
    with pytest.raises(PluginControlError) as caught:
        run(host.reload_plugin("fx_flaky"))
    assert caught.value.plugin_name == "fx_flaky"
    assert "start broke on purpose" in caught.value.reason
    record = host.records["fx_flaky"]
    assert record.state.value == "failed"
    assert record.reason is not None and "start broke on purpose" in record.reason
    assert wire.ask("fx_flaky.mark", "a").error[0] == "NoEndpointError"
    assert mark_of(wire.ask("fx_steady.mark", "b")) == "s1"
    assert host.records["fx_on_flaky"].state.value == "skipped"
    assert "requires plugin fx_flaky, which failed" in str(host.records["fx_on_flaky"].reason)

    write_endpoint_plugin(plugin_root, "fx_flaky", "fixed")
    run(host.reload_plugin("fx_flaky"))
    assert mark_of(wire.ask("fx_flaky.mark", "c")) == "fixed"
    assert mark_of(wire.ask("fx_on_flaky.mark", "d")) == "f1"


def test_reload_of_a_plugin_not_enabled_is_refused(plugin_root: Path, tmp_path: Path) -> None:
    """Reloading a name that is not in plugin.enabled raises an error naming it."""
    host = make_host(tmp_path, Wire())
    with pytest.raises(PluginControlError, match="fx_nowhere.*not in plugin.enabled"):
        run(host.reload_plugin("fx_nowhere"))


def test_requests_during_reload_get_a_reloading_error_then_the_new_code(
    plugin_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the plugin's stop() is still running, a bus request for its key gets a
    PluginReloadingError reply naming the plugin (not silence, not NoEndpointError), an
    HTTP request under /<plugin>/ gets 503 with a JSON reason, and a one-way message is
    counted; after the reload the request reaches the new code."""
    wire = Wire()
    clock = Clock()
    write_endpoint_plugin(plugin_root, "fx_slow", "v1")
    host = make_host(tmp_path, wire, clock)
    run(host.start_plugins(["fx_slow"]))
    site = PluginSiteRoot("platform")
    site.gate = host.gate
    site.putChild(b"fx_slow", PluginResource())

    gate: Deferred[None] = Deferred()
    host_journal.PENDING[("fx_slow", "stop-gate")] = gate
    write_endpoint_plugin(plugin_root, "fx_slow", "v2")
    reloading = Deferred.fromCoroutine(host.reload_plugin("fx_slow"))
    assert ("fx_slow", "stop") in host_journal.JOURNAL and not reloading.called

    reply = wire.ask("fx_slow.mark", "during")
    assert reply.error is not None
    assert reply.error[0] == "PluginReloadingError"
    assert "plugin fx_slow is reloading" in reply.error[1]
    wire.tell("fx_slow.mark")

    request = DummyRequest([b"fx_slow", b"page"])
    child = site.getChildWithDefault(b"fx_slow", request)
    assert isinstance(child, PluginUnavailable)
    body = json.loads(child.render(request))
    assert request.responseCode == 503
    assert body == {"error": "PluginReloading", "plugin": "fx_slow",
                    "message": "plugin fx_slow is reloading; retry shortly"}

    del host_journal.PENDING[("fx_slow", "stop-gate")]
    gate.callback(None)
    result_of(reloading)
    assert "Plugin fx_slow: 1 one-way bus message(s) arrived while it was stopped" in caplog.text
    assert mark_of(wire.ask("fx_slow.mark", "after")) == "v2"
    assert not isinstance(site.getChildWithDefault(b"fx_slow", DummyRequest([b"fx_slow"])),
                          PluginUnavailable)


def test_reload_waits_for_http_requests_inside_the_plugin(
    plugin_root: Path, tmp_path: Path
) -> None:
    """A request already inside the plugin's resources is let finish before stop()."""
    wire = Wire()
    clock = Clock()
    write_endpoint_plugin(plugin_root, "fx_busy", "v1")
    host = make_host(tmp_path, wire, clock)
    run(host.start_plugins(["fx_busy"]))
    site = PluginSiteRoot("platform")
    site.gate = host.gate
    site.putChild(b"fx_busy", PluginResource())
    request = DummyRequest([b"fx_busy", b"page"])
    site.getChildWithDefault(b"fx_busy", request)
    assert host.gate.in_flight("fx_busy") == 1

    host_journal.JOURNAL.clear()
    reloading = Deferred.fromCoroutine(host.reload_plugin("fx_busy"))
    assert host_journal.JOURNAL == []  # not stopped while the request runs
    request.finish()
    assert host.gate.in_flight("fx_busy") == 0
    result_of(reloading)
    assert ("fx_busy", "stop") in host_journal.JOURNAL


def test_enable_writes_config_and_starts_disable_stops_and_removes(
    plugin_root: Path, tmp_path: Path
) -> None:
    """enable_plugin adds the name to config.json's plugin.enabled and starts it;
    disable_plugin stops it, removes it from config.json, and skips its dependant."""
    wire = Wire()
    host = make_host(tmp_path, wire)
    run(host.start_plugins([]))
    write_endpoint_plugin(plugin_root, "fx_late", "l1")
    write_endpoint_plugin(plugin_root, "fx_needs_late", "n1", requires=("fx_late",))

    run(host.enable_plugin("fx_late"))
    run(host.enable_plugin("fx_needs_late"))
    assert enabled_on_disk(tmp_path) == ["fx_late", "fx_needs_late"]
    assert mark_of(wire.ask("fx_late.mark", "a")) == "l1"

    run(host.disable_plugin("fx_late"))
    assert enabled_on_disk(tmp_path) == ["fx_needs_late"]
    assert "fx_late" not in host.records and "fx_late" not in sys.modules
    assert host.records["fx_needs_late"].state.value == "skipped"
    assert "fx_late, which was disabled" in str(host.records["fx_needs_late"].reason)
    assert wire.ask("fx_late.mark", "b").error[0] == "NoEndpointError"


def test_enable_refuses_a_package_that_is_not_an_installed_plugin(
    plugin_root: Path, tmp_path: Path
) -> None:
    """enable_plugin of a name that is not installed raises naming it and leaves
    config.json as it was."""
    host = make_host(tmp_path, Wire())
    run(host.start_plugins([]))
    before = (tmp_path / "home" / "config.json").read_text()
    with pytest.raises(PluginControlError, match="fx_absent is not installed"):
        run(host.enable_plugin("fx_absent"))
    assert (tmp_path / "home" / "config.json").read_text() == before


def test_enable_with_read_only_config_changes_nothing(
    plugin_root: Path, tmp_path: Path
) -> None:
    """A read-only config.json: enable_plugin raises naming the file, starts nothing."""
    host = make_host(tmp_path, Wire())
    run(host.start_plugins([]))
    write_endpoint_plugin(plugin_root, "fx_locked", "k1")
    config_file = tmp_path / "home" / "config.json"
    config_file.chmod(0o444)
    try:
        with pytest.raises(PluginControlError, match="read-only"):
            run(host.enable_plugin("fx_locked"))
    finally:
        config_file.chmod(0o600)
    assert "fx_locked" not in host.records
    assert enabled_on_disk(tmp_path) == []


def test_disable_of_a_plugin_not_enabled_is_refused(plugin_root: Path, tmp_path: Path) -> None:
    """disable_plugin of a name not enabled raises an error naming it."""
    host = make_host(tmp_path, Wire())
    run(host.start_plugins([]))
    with pytest.raises(PluginControlError, match="fx_ghost.*not in plugin.enabled"):
        run(host.disable_plugin("fx_ghost"))


def test_apply_enabled_reloads_a_plugin_whose_code_changed(
    plugin_root: Path, tmp_path: Path
) -> None:
    """SIGHUP's path: with plugin.enabled unchanged, a plugin whose files changed on disk
    is reloaded and one whose files did not is left running."""
    wire = Wire()
    write_endpoint_plugin(plugin_root, "fx_edit", "e1")
    write_endpoint_plugin(plugin_root, "fx_same", "s1")
    host = make_host(tmp_path, wire)
    run(host.start_plugins(["fx_edit", "fx_same"]))
    write_endpoint_plugin(plugin_root, "fx_edit", "e2")
    host_journal.JOURNAL.clear()
    run(host.apply_enabled(["fx_edit", "fx_same"]))
    assert mark_of(wire.ask("fx_edit.mark", "a")) == "e2"
    assert ("fx_same", "stop") not in host_journal.JOURNAL


def test_editing_plugin_enabled_keeps_other_edits_and_the_file_mode(tmp_path: Path) -> None:
    """edit_plugin_enabled re-reads config.json, so keys an operator changed since the
    start (and keys the platform does not know) are kept as written, the file keeps its
    permissions, and only plugin.enabled changes in memory; an invalid result is refused
    without touching the file."""
    home = tmp_path / "home"
    config = ServiceConfig.load("agent", home)
    path = home / "config.json"
    on_disk = json.loads(path.read_text())
    on_disk["logging"]["level"] = "DEBUG"
    on_disk["mySetting"] = {"kept": True}
    path.write_text(json.dumps(on_disk))
    path.chmod(0o640)

    assert config.edit_plugin_enabled(lambda names: [*names, "fx_one"]) == ["fx_one"]
    written = json.loads(path.read_text())
    assert written["plugin"]["enabled"] == ["fx_one"]
    assert written["logging"]["level"] == "DEBUG" and written["mySetting"] == {"kept": True}
    assert path.stat().st_mode & 0o777 == 0o640
    assert config["plugin.enabled"] == ["fx_one"] and config["logging.level"] == "INFO"

    before = path.read_bytes()
    with pytest.raises(ConfigValidationError, match="plugin.enabled must be a list"):
        config.edit_plugin_enabled(lambda names: [*names, ""])
    assert path.read_bytes() == before

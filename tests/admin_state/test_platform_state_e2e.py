"""Real processes: every service's live state, log tail and plugin control, seen by an admin.

A server, client, agent and worker run the tutorial plugin; a Python bus peer connects to
the admin site's bus websocket as ``peek-admin`` (with a logged-in admin's session cookie
and the site's Origin) and observes ``peek_platform_admin``.
"""

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_platform.admin_state.rpc import AdminRpc
from peek_platform.admin_state.tuples import (
    ADMIN_FILT,
    ADMIN_OBSERVABLE_NAME,
    LogLineTuple,
    PluginSettingTuple,
    ServiceStateTuple,
    TupleLoaderTuple,
)
from peek_plugin_base.PeekVortexUtil import peekAdminName, peekMobileName, peekServerName
from peek_plugin_base.storage.TupleLoaderClient import TupleLoaderClient
from peek_plugin_base.vortex import TupleDataObserverClient, TupleSelector
from tests.e2e.devices_data import VortexPeer
from tests.e2e.processes_rpc import Device, Platform, wait_log
from tests.security.admin_session import first_password, login, origin
from tests.support import write_plugin
from tests.vortex_transport.harness import wait_for

TUTORIAL = "peek_plugin_tutorial"
BROKEN = "fx_state_broken"
ADD_INTS = "Tutorial RPC: addInts chain from 5 ended at 40"
#: The server drops a silent peer after this; the test's "gone" wait allows much more.
HEARTBEAT_TIMEOUT = 2.0


class AdminView:
    """A peek-admin peer observing every service's state."""

    def __init__(self, peer: VortexPeer) -> None:
        self.peer = peer
        self.observer = TupleDataObserverClient(
            observableName=ADMIN_OBSERVABLE_NAME, destVortexName=peekServerName,
            additionalFilt=ADMIN_FILT, router=peer.router)
        self.services: dict[str, ServiceStateTuple] = {}
        self.seen: list[ServiceStateTuple] = []
        observed = self.observer.subscribeToTupleSelector(
            TupleSelector(ServiceStateTuple.tupleName(), {}))
        observed.subscribe(self._take)

    def _take(self, tuples: list[Any]) -> None:
        self.services = {t.serviceId: t for t in tuples}
        self.seen.extend(tuples)

    def of(self, service: str) -> list[ServiceStateTuple]:
        return [s for s in self.services.values() if s.service == service]

    def plugin(self, service: str, name: str) -> Any:
        for state in self.of(service):
            for plugin in state.plugins:
                if plugin.name == name:
                    return plugin
        return None

    async def until(self, condition: Callable[[], Any], what: str,
                    timeout: float = 60) -> Any:
        try:
            await wait_for(condition, timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError(f"{e}; the admin sees: {self.summary()}") from None
        return condition()

    def summary(self) -> str:
        return "; ".join(
            f"{s.serviceId} live={s.live} "
            + ", ".join(f"{p.name}={p.state}" for p in s.plugins)
            for s in self.services.values())


class PlatformStateTests(TestCase):
    """Each test starts its own processes on free ports and stops them at the end."""

    timeout = 240

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-admin-state-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.platform = Platform(root)
        write_plugin(self.platform.plugins, BROKEN, services=("agent",),
                     behaviour={"start": "raise"})
        self.addCleanup(self.platform.stop_all)

    def _server_config(self, enabled: list[str]) -> None:
        p = self.platform
        config = p.config("server", enabled)
        # A silent peer is dropped within HEARTBEAT_TIMEOUT, so "gone" shows quickly.
        config["vortex"] = {"heartbeatSeconds": 0.5,
                            "heartbeatTimeoutSeconds": HEARTBEAT_TIMEOUT}
        p.home("server").mkdir(parents=True)
        (p.home("server") / "config.json").write_text(json.dumps(config))

    async def _admin(self) -> AdminView:
        port = self.platform.admin_port
        admin = login(port, first_password(self.platform.home("server")))
        peer = VortexPeer(port, peekAdminName, headers={
            "Cookie": admin.headers()[0][1], "Origin": origin(port)})
        self.addCleanup(peer.close)
        await peer.connect()
        return AdminView(peer)

    def test_four_services_live_state_reload_logs_and_gone(self) -> Deferred[None]:
        """The admin sees all four services with the tutorial running, process facts,
        installed-but-not-enabled plugins, a failing plugin's reason and traceback, and the
        agent's token masked; a line the agent logs reaches the log tail; reloading the
        tutorial on the agent goes stopping -> running and the agent logs it; an agent
        that stops answering is gone within the heartbeat timeout and back after a
        restart."""

        async def run() -> None:
            p = self.platform
            self._server_config([TUTORIAL])
            server = p.start("server", [TUTORIAL])
            await wait_log(server, "Peek server is running")
            token = (p.home("server") / "platform.token").read_text().strip()
            agent_config = p.config("agent", [TUTORIAL, BROKEN])
            # The token itself in config.json: the admin must see it masked.
            del agent_config["peekServer"]["tokenFile"]
            agent_config["peekServer"]["token"] = token
            p.home("agent").mkdir(parents=True)
            (p.home("agent") / "config.json").write_text(json.dumps(agent_config))
            agent = p.start("agent", [])
            p.start("client", [TUTORIAL])
            p.start("worker", [TUTORIAL])
            admin = await self._admin()

            await admin.until(
                lambda: all(
                    (plugin := admin.plugin(s, TUTORIAL)) is not None
                    and plugin.state == "running"
                    for s in ("server", "client", "agent", "worker")),
                "the tutorial running on all four services")
            for service in ("server", "client", "agent", "worker"):
                [state] = admin.of(service)
                assert state.live and state.pid > 0 and state.rssBytes > 0, state
                assert state.version and state.host and state.uptimeSeconds >= 0
                assert "peek_plugin_noop" in [i.name for i in state.installedNotEnabled]
                if service != "server":
                    assert state.vortexName == f"peek-{service}" and state.vortexUuid
            [client] = admin.of("client")
            assert client.deviceCount == 0 and client.devices == []
            device = Device(p.mobile_port)
            await device.connect()
            self.addCleanup(device.close)
            [client] = await admin.until(
                lambda: [c for c in admin.of("client") if c.deviceCount == 1],
                "the device listed on the client")
            assert [d.vortexName for d in client.devices] == [peekMobileName]
            await device.close()
            await admin.until(lambda: admin.of("client")[0].deviceCount == 0,
                              "the device gone from the client")

            broken = await admin.until(lambda: admin.plugin("agent", BROKEN),
                                       "the broken plugin on the agent")
            assert broken.state == "failed", broken
            assert f"{BROKEN} start broke" in broken.reason
            assert "Traceback" in broken.traceback and "RuntimeError" in broken.traceback

            [agent_state] = admin.of("agent")
            assert agent_state.config["peekServer"]["token"] == "***"
            assert token not in json.dumps(agent_state.config, default=str)
            agent_id = agent_state.serviceId

            # The log tail: a line the tutorial logs on the agent, with its plugin.
            lines: list[LogLineTuple] = []
            logs = admin.observer.subscribeToTupleSelector(
                TupleSelector(LogLineTuple.tupleName(), {"serviceId": agent_id}))
            logs.subscribe(lambda tuples: lines.__setitem__(slice(None), tuples))
            await wait_log(agent, ADD_INTS)
            await admin.until(lambda: any(ADD_INTS in line.message for line in lines),
                              "the agent's addInts line in its log tail")
            [line] = [line for line in lines if ADD_INTS in line.message]
            assert line.plugin == TUTORIAL and line.level == "INFO"

            # Reload the tutorial on the agent through the admin RPC.
            results = await AdminRpc.controlPlugin.callVia(
                admin.peer.router, agent_id, TUTORIAL, "reload")
            assert [(r.ok, r.state, r.error) for r in results] == [(True, "running", None)]
            log = await wait_log(agent, f"Plugin {TUTORIAL} started", count=2)
            assert f"Plugin {TUTORIAL} stopped" in log
            def history() -> list[str]:
                return [h[0] for h in admin.plugin("agent", TUTORIAL).history]

            await admin.until(
                lambda: "stopping" in history() and history()[-1] == "running"
                and history().index("stopping") < len(history()) - 1,
                "the agent's tutorial history stopping -> running")
            await admin.until(
                lambda: any("Admin: reload plugin peek_plugin_tutorial" in line.message
                            for line in lines),
                "the reload in the agent's log tail")

            # A frozen agent stops answering heartbeats: gone within the timeout.
            agent.signal(signal.SIGSTOP)
            try:
                await admin.until(lambda: not admin.of("agent")[0].live,
                                  "the frozen agent shown as gone")
                assert admin.of("agent")[0].goneAt is not None
            finally:
                agent.signal(signal.SIGCONT)
            # Killed and restarted: live again, as a new process.
            old_pid = admin.of("agent")[0].pid
            os.kill(agent.proc.pid, signal.SIGKILL)
            agent.proc.wait()
            p.start("agent", [])
            await admin.until(
                lambda: admin.of("agent")[0].live and admin.of("agent")[0].pid != old_pid,
                "the restarted agent live again")
            assert len(admin.of("agent")) == 1

        return Deferred.fromCoroutine(run())

    def test_settings_and_tuple_loaders_over_the_bus(self) -> Deferred[None]:
        """The tutorial's settings are listed with types and defaults, an edit is stored
        and shown live, a wrongly typed value is refused with the reason, and the
        StringInt tuple loader is declared and edits rows through its OrmCrudHandler."""

        async def run() -> None:
            p = self.platform
            self._server_config([TUTORIAL])
            server = p.start("server", [TUTORIAL])
            await wait_log(server, "Peek server is running")
            admin = await self._admin()
            settings: list[PluginSettingTuple] = []
            observed = admin.observer.subscribeToTupleSelector(
                TupleSelector(PluginSettingTuple.tupleName(), {"pluginName": TUTORIAL}))
            observed.subscribe(lambda tuples: settings.__setitem__(slice(None), tuples))
            await admin.until(lambda: settings, "the tutorial's settings")
            by_key = {s.key: s for s in settings}
            assert (by_key["Property2"].type, by_key["Property2"].defaultValue) == ("int", 0)

            stored = await AdminRpc.updateSetting.callVia(
                admin.peer.router, TUTORIAL, "Property2", 42)
            assert stored == 42
            await admin.until(
                lambda: {s.key: s.value for s in settings}.get("Property2") == 42,
                "the edited setting shown live")
            try:
                await AdminRpc.updateSetting.callVia(
                    admin.peer.router, TUTORIAL, "Property2", "not a number")
            except Exception as e:
                assert "Property2" in str(e) and "int" in str(e), e
            else:
                raise AssertionError("a string for an int setting was stored")

            loaders = await admin.observer.pollForTuples(
                TupleSelector(TupleLoaderTuple.tupleName(), {}))
            assert [(t.pluginName, t.tupleType, t.filt["key"]) for t in loaders] == [
                (TUTORIAL, "peek_plugin_tutorial.StringIntTuple", "admin.Edit.StringIntTuple")]
            # The declared filt reaches the plugin's OrmCrudHandler: a row saved, read back.
            from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple

            table = TupleLoaderClient(loaders[0].filt, router=admin.peer.router)
            [saved] = await table.save([StringIntTuple(string1="from admin", int1=7)])
            rows = await table.load()
            assert [(r.id, r.string1, r.int1) for r in rows] == [(saved.id, "from admin", 7)]
            assert set(loaders[0].fields) <= set(StringIntTuple.tupleFieldNames())

        return Deferred.fromCoroutine(run())

"""Who may reach the platform state: only peek-admin observes and commands; only the server
commands a service; a service reports only as itself.

The process tests run a real server and agent; the in-process tests drive the real
reporter and registry through a router with the originators a connection would stamp.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from peek_agent.platform_hook import AgentPlatformHook
from peek_platform.admin_state.registry import StateRegistry
from peek_platform.admin_state.reporter import StateReporter
from peek_platform.admin_state.rpc import AdminRpc
from peek_platform.admin_state.tuples import (
    ADMIN_FILT,
    ADMIN_OBSERVABLE_NAME,
    CONTROL_KEY,
    REPORT_KEY,
    PluginControlResultTuple,
    PluginControlTuple,
    ServiceStateTuple,
)
from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost, ServicePluginSpec
from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.PeekVortexUtil import (
    peekAdminName,
    peekAgentName,
    peekClientName,
    peekMobileName,
    peekServerName,
)
from peek_plugin_base.vortex import Payload, PayloadEnvelope, TupleDataObserverClient, TupleSelector
from peek_vortex.errors import RemoteError
from peek_vortex.routing import LocalSender, PayloadRouter
from peek_vortex.wire import CloseCode, Welcome
from tests.e2e.devices_data import VortexPeer
from tests.e2e.processes_rpc import Platform, wait_log
from tests.security.admin_session import RawWebSocket, first_password, login, origin
from tests.security.test_connection_hygiene import WsPeer

TUTORIAL = "peek_plugin_tutorial"


class AdminDoorTests(TestCase):
    """A real server and agent; peers knock on the admin state's doors."""

    timeout = 120

    def setUp(self) -> Deferred[None]:
        root = Path(tempfile.mkdtemp(prefix="peek-admin-door-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.platform = Platform(root)
        self.addCleanup(self.platform.stop_all)

        async def start() -> None:
            server = self.platform.start("server", [TUTORIAL])
            await wait_log(server, "Peek server is running")
            self.agent = self.platform.start("agent", [TUTORIAL])
            await wait_log(self.agent, "Peek agent is running")
            self.token = (self.platform.home("server") / "platform.token").read_text().strip()

        return Deferred.fromCoroutine(start())

    def test_only_a_logged_in_admin_enters_the_admin_endpoint(self) -> None:
        """peek-admin is refused on the services' endpoint even with the platform token; the
        admin endpoint refuses an upgrade without a session (the platform token is no
        admin credential), and admits a logged-in admin as peek-admin."""
        p = self.platform
        peer = WsPeer(p.platform_port, "127.0.0.1")
        answer = peer.hello(peekAdminName, self.token)
        peer.close()
        assert not isinstance(answer, Welcome)
        assert answer[0] == int(CloseCode.NAME_FORBIDDEN), answer
        own = ("Origin", origin(p.admin_port))
        socket = RawWebSocket(p.admin_port, headers=(own,))
        try:
            assert socket.status == 401
        finally:
            socket.close()
        admin = login(p.admin_port, first_password(p.home("server")))
        socket = RawWebSocket(p.admin_port, headers=(admin.headers()[0], own))
        try:
            assert socket.status == 101
        finally:
            socket.close()

    def test_a_service_connection_can_neither_command_nor_observe(self) -> Deferred[None]:
        """A peer holding the platform token as peek-client gets AccessDeniedError from the
        control and settings RPCs and from the admin observable, and the agent never
        hears of the reload it asked for."""

        async def run() -> None:
            peer = VortexPeer(self.platform.platform_port, peekClientName, self.token)
            self.addCleanup(peer.close)
            await peer.connect()
            calls = [
                AdminRpc.controlPlugin.callVia(peer.router, "*", TUTORIAL, "reload"),
                AdminRpc.updateSetting.callVia(peer.router, TUTORIAL, "Property2", 1),
                TupleDataObserverClient(
                    observableName=ADMIN_OBSERVABLE_NAME, destVortexName=peekServerName,
                    additionalFilt=ADMIN_FILT, router=peer.router,
                ).pollForTuples(TupleSelector(ServiceStateTuple.tupleName(), {}), timeout=20),
            ]
            for call in calls:
                try:
                    await call
                except RemoteError as e:
                    assert e.code == "AccessDeniedError", e
                else:
                    raise AssertionError("a service connection was let in")
            # The agent still ran the tutorial once, and was never told to reload it.
            log = self.agent.log()
            assert "Admin: reload" not in log and log.count(f"Plugin {TUTORIAL} started") == 1

        return Deferred.fromCoroutine(run())


# ---- in process: the real reporter and registry behind a router


class _Wire:
    """A router whose sends are recorded, and a way to deliver a message as someone."""

    def __init__(self, local_name: str) -> None:
        self.router = PayloadRouter()
        self.router.set_clock(Clock())
        self.router.set_local_vortex_names((local_name,))
        self.sent: list[tuple[Any, bytes]] = []
        self.router.set_send(lambda dest, data: self.sent.append((dest, data)))

    def deliver(self, payload: Payload, dest: str, name: str, request: bool = False) -> None:
        envelope = payload.makePayloadEnvelope()
        envelope.destVortexName = dest
        if request:
            envelope.messageId = self.router.new_message_id()
        self.router.receive(envelope.toVortexMsg(), LocalSender(name, f"uuid-{name}"))


@pytest.fixture
def agent_reporter(tmp_path: Path) -> Any:
    config = ServiceConfig.load("agent", tmp_path)
    # The agent's real plugin host, without its bus (which would take the process's router).
    host = PluginHost(ServicePluginSpec(
        "agent", PluginAgentEntryHookABC, frozenset({"agent"}),
        lambda h, name, log: AgentPlatformHook(h, name, log, config)))
    wire = _Wire(peekAgentName)
    reporter = StateReporter(config, host, router=wire.router)
    reporter.startService()
    yield reporter, wire
    reporter.stopService()


@pytest.mark.parametrize("sender", [peekClientName, peekAgentName, peekMobileName,
                                    peekAdminName])
def test_a_service_takes_control_commands_only_from_the_server(
        agent_reporter: Any, sender: str) -> None:
    """A control command whose originator is not peek-server gets no answer and changes
    nothing; the same command from peek-server is answered (here: with the reason it
    cannot be done, since the plugin is not enabled)."""
    reporter, wire = agent_reporter
    command = Payload({"key": CONTROL_KEY, **ADMIN_FILT},
                      [PluginControlTuple(pluginName=TUTORIAL, operation="reload")])
    wire.sent.clear()
    wire.deliver(command, peekAgentName, sender, request=True)
    assert wire.sent == []
    wire.deliver(command, peekAgentName, peekServerName, request=True)
    [(dest, data)] = [(d, m) for d, m in wire.sent if not isinstance(d, str)]
    [result] = PayloadEnvelope.fromVortexMsg(data).decodePayload().tuples
    assert isinstance(result, PluginControlResultTuple)
    assert not result.ok and "not enabled on the agent service" in result.error


def test_reports_are_taken_only_from_services_as_themselves(tmp_path: Path) -> None:
    """The registry keeps a report from peek-agent describing an agent; it ignores one
    from peek-agent claiming to be a client, and reports from a device or an admin."""
    config = ServiceConfig.load("server", tmp_path)
    wire = _Wire(peekServerName)
    reporter = StateReporter(config, None, router=wire.router)
    registry = StateRegistry(reporter, None, 100, router=wire.router)
    registry.startService()
    try:
        def report(service: str) -> Payload:
            return Payload({"key": REPORT_KEY, **ADMIN_FILT}, [ServiceStateTuple(
                serviceId=f"{service}@h:/home/{service}", service=service)])

        wire.deliver(report("agent"), peekServerName, peekAgentName)
        wire.deliver(report("client"), peekServerName, "peek-worker")
        wire.deliver(report("mobile"), peekServerName, peekMobileName)
        wire.deliver(report("admin"), peekServerName, peekAdminName)
        assert sorted(registry.services) == ["agent@h:/home/agent"]
        assert registry.services["agent@h:/home/agent"].vortexUuid == f"uuid-{peekAgentName}"
    finally:
        registry.stopService()
        reporter.stopService()

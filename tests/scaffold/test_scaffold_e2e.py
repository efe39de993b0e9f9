"""A scaffolded plugin with every option, pip-installed, on four real services.

``peek_plugin new`` writes the distribution, ``pip install -e`` installs it into this
virtualenv (uninstalled afterwards), its generated tests pass, and with it enabled on
run_peek_server, run_peek_client, run_peek_agent and run_peek_worker: the agent calls the
server's RPC and observes the server's observable, a Python device calls the RPC and
observes the items through the client service, and the client serves the device page.
"""

import importlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName
from peek_plugin_base.vortex import TupleDataObserverClient, TupleSelector
from tests.e2e.devices_data import VortexPeer, client_config, server_config, start_service
from tests.support import BIN, ServiceProcess
from tests.vortex_transport.harness import wait_for

NAME = "peek_plugin_scaffolded"
TIMEOUT = 60.0


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


class ScaffoldedPluginEndToEnd(TestCase):
    """The scaffold's output is a working plugin on the real services."""

    timeout = 150

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-scaffold-"))
        self.addCleanup(shutil.rmtree, root, True)
        done = subprocess.run(
            [str(BIN / "peek_plugin"), "new", NAME, "--services", "server,client,agent,worker",
             "--storage", "--device-ui", "--admin-ui", "--dest", str(root / "src")],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        self.dist = root / "src" / NAME.replace("_", "-")
        _pip("install", "--no-deps", "-e", str(self.dist))
        self.addCleanup(_pip, "uninstall", "-y", NAME.replace("_", "-"))
        # This process imports the plugin's tuples and RPC declarations as a device would.
        sys.path.insert(0, str(self.dist))
        self.addCleanup(sys.path.remove, str(self.dist))
        self.addCleanup(self._forget_modules)
        self.root = root

    @staticmethod
    def _forget_modules() -> None:
        for module in [m for m in sys.modules if m.split(".")[0] == NAME]:
            del sys.modules[module]

    def _start_services(self) -> dict[str, Any]:
        plugins = [NAME]
        server_home = self.root / "peek-server.home"
        server = server_config(plugins)
        started: dict[str, Any] = {
            "server": start_service("server", server_home, server, self.addCleanup)}
        client = client_config(plugins, server_home, server)
        started["client"] = start_service("client", self.root / "peek-client.home", client,
                                          self.addCleanup)
        upstream = {k: v for k, v in client.items() if k == "peekServer"}
        started["agent"] = start_service(
            "agent", self.root / "peek-agent.home",
            {"plugin": {"enabled": plugins}, "logging": {"level": "INFO"}, **upstream},
            self.addCleanup)
        started["worker"] = start_service(
            "worker", self.root / "peek-worker.home",
            {"plugin": {"enabled": plugins}, "logging": {"level": "INFO"}, **upstream,
             "celery": {"worker": {"pool": "solo", "concurrency": 1}}},
            self.addCleanup)
        started["mobile_port"] = client["httpServer"]["mobile"]["sitePort"]
        return started

    @staticmethod
    def _wait_log(process: ServiceProcess, text: str) -> None:
        """Wait for ``text`` in the service's log; fail naming the service, with its log."""
        try:
            process.wait_log(text, timeout=TIMEOUT)
        except AssertionError as e:
            raise AssertionError(f"{process.service}: {e}\n{process.log()[-4000:]}\n"
                                 f"{process.stderr()}") from e

    def test_generated_tests_pass_and_the_plugin_runs_on_four_services(self) -> Deferred[None]:
        """Generated tests green; agent RPC + observer, device RPC + observer through the
        client, device page on the mobile site, plugin started on all four services."""
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                               cwd=self.dist, capture_output=True, text=True, timeout=120)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert " passed" in tests.stdout and "failed" not in tests.stdout

        services = self._start_services()
        for service in ("server", "client", "agent", "worker"):
            self._wait_log(services[service], f"Plugin {NAME} started")
        # The agent called the server's RPC at start and observes the server's items.
        self._wait_log(services["server"], f"{NAME}: item 1 added: from-agent=1")
        self._wait_log(services["agent"], f"{NAME}: agent sees items: from-agent")

        async def device() -> None:
            rpc = importlib.import_module(f"{NAME}._private.ItemRpc").ItemRpc
            tuples = importlib.import_module(f"{NAME}._private.tuples")
            tuples.loadPrivateTuples()
            item = importlib.import_module(f"{NAME}._private.tuples.ItemTuple").ItemTuple
            names = importlib.import_module(f"{NAME}._private.PluginNames")
            peer = VortexPeer(services["mobile_port"], peekMobileName)
            self.addCleanup(peer.close)
            await peer.connect()
            item_id = await rpc.addItem.callThroughVia(peer.router, peekClientName,
                                                      "from-device", 2)
            assert item_id == 2
            observer = TupleDataObserverClient(
                observableName=names.observableName, destVortexName=peekClientName,
                additionalFilt=names.pluginFilt, router=peer.router)
            self.addCleanup(observer.shutdown)
            seen = observer.subscribeToTupleSelector(TupleSelector(item.tupleName(), {}))
            await wait_for(lambda: [i.name for i in seen.tuples or []]
                           == ["from-agent", "from-device"], TIMEOUT, "the device's items")
            # The agent's observer got the device's item too (server -> agent).
            await threads.deferToThread(
                services["agent"].wait_log,
                f"{NAME}: agent sees items: from-agent, from-device", TIMEOUT)
            url = f"http://127.0.0.1:{services['mobile_port']}/{NAME}/index.html"
            page = await threads.deferToThread(
                lambda: urllib.request.urlopen(url, timeout=TIMEOUT).read())
            assert NAME.encode() in page

        return Deferred.fromCoroutine(device())

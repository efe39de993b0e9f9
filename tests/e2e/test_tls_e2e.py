"""Real processes over TLS: server, client, agent and worker on https/wss, plugins end to end.

The services run the tutorial plugin and the ``fx_e2e_rpc`` fixture plugin (see
:mod:`tests.e2e.rpc_fixture`) with certificates from ``write_dev_certs`` (what
``peek_dev_certs`` writes). A Python device joins the client service over wss.
"""

import shutil
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from peek_platform.tls import client_tls_options, write_dev_certs
from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName
from peek_plugin_base.vortex import PayloadRouter, TupleDataObserverClient
from peek_vortex.transport import Backoff, VortexBridge, VortexClientService
from tests.e2e.processes_rpc import FIXTURE_PLUGIN, Platform, wait_log
from tests.e2e.rpc_fixture import BOOT_SELECTOR, FILT, OBSERVABLE
from tests.support import free_port
from tests.vortex_transport.harness import wait_for

TUTORIAL = "peek_plugin_tutorial"
PLUGINS = [TUTORIAL, FIXTURE_PLUGIN]
SUB_INTS = "Tutorial RPC: subInts(7, kwval1=5) = 2"
ADD_INTS = "Tutorial RPC: addInts chain from 5 ended at 40"
WORKER_ANSWER = "totalList([1, 2, 3.5]) returned 6.5"


class TlsPlatform(Platform):
    """The reconnect test's platform with TLS settings per service.

    ``tls[service]`` is merged into that service's config.json.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.certs = write_dev_certs(root / "certs")
        self.tls: dict[str, dict[str, Any]] = {}

    def server_tls(self, certs: Optional[dict[str, Path]] = None) -> dict[str, Any]:
        certs = certs or self.certs
        return {"certFile": str(certs["cert"]), "keyFile": str(certs["key"])}

    def client_tls(self, ca: Optional[Path] = None) -> dict[str, Any]:
        return {"tls": True, "caFile": str(ca or self.certs["ca"])}

    def config(self, service: str, enabled: list[str]) -> dict[str, Any]:
        config = super().config(service, enabled)
        if service == "worker":
            config["plugin"]["enabled"] = [TUTORIAL]  # the fixture has no worker part
            config["celery"] = {"worker": {"concurrency": 1}}
        for key, value in self.tls.get(service, {}).items():
            if isinstance(value, dict):
                config.setdefault(key, {})
                for inner, inner_value in value.items():
                    if isinstance(inner_value, dict):
                        config[key].setdefault(inner, {}).update(inner_value)
                    else:
                        config[key][inner] = inner_value
            else:
                config[key] = value
        return config


def _fetch(url: str, ca: Path) -> int:
    """The HTTP status of a GET over https, trusting only ``ca`` (host name checked)."""
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(url, context=context, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


class TlsEndToEndTests(TestCase):
    """Each test starts its own processes on free ports and stops them at the end."""

    timeout = 180

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-e2e-tls-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.platform = TlsPlatform(root)
        self.addCleanup(self.platform.stop_all)

    def test_four_services_run_over_tls_and_plugins_work_end_to_end(self) -> Deferred[None]:
        """Server, client, agent and worker over TLS: the agent and client connect with
        wss and the tutorial's RPCs run both ways, the worker's bus thread connects with wss
        and answers the server's tasks, a device observes through the client over wss, and
        the admin, platform, mobile and desktop sites answer https."""

        async def run() -> None:
            p = self.platform
            for service in ("agent", "client", "worker"):
                p.tls[service] = {"peekServer": p.client_tls()}
            p.tls["server"] = {"tls": p.server_tls()}
            p.tls["client"]["tls"] = p.server_tls()
            server = p.start("server", PLUGINS)
            await wait_log(server, "Peek server is running", timeout=60)
            agent = p.start("agent", PLUGINS)
            client = p.start("client", PLUGINS)
            worker = p.start("worker", [TUTORIAL])
            wss = f"wss://127.0.0.1:{p.platform_port}/vortexws"
            for proc in (agent, client, worker):
                await wait_log(proc, f"connected to peek-server at {wss}", timeout=60)
            await wait_log(server, SUB_INTS, timeout=60)
            await wait_log(agent, ADD_INTS, timeout=60)
            await wait_log(agent, "fx probe: ok", timeout=60)
            await wait_log(client, "Peek client is running", timeout=60)
            await wait_log(server, WORKER_ANSWER, timeout=90)
            for name in ("peek-agent", "peek-client", "peek-worker"):
                await wait_log(server, f"connection from {name} (")
            self.assertIn("platform-site listening on https://", server.log())
            self.assertIn("mobile-site listening on https://", client.log())

            device = _Device(p.mobile_port, p.certs["ca"])
            await device.connect()
            self.addCleanup(device.close)
            observer = TupleDataObserverClient(
                observableName=OBSERVABLE, destVortexName=peekClientName,
                additionalFilt=FILT, router=device.router)
            self.addCleanup(observer.shutdown)
            seen: list[Any] = []
            observer.subscribeToTupleSelector(BOOT_SELECTOR).subscribe(
                lambda tuples: seen.append((tuples[0].boot, tuples[0].pid)))
            await wait_for(lambda: seen, 30, "observable data over wss")
            self.assertEqual(seen, [(1, server.proc.pid)])

            for port in (p.admin_port, p.platform_port, p.mobile_port, p.desktop_port):
                status = await deferToThread(_fetch, f"https://127.0.0.1:{port}/",
                                             p.certs["ca"])
                self.assertLess(status, 500, port)
            for proc in (server, agent, client, worker):
                self.assertNotIn("Traceback", proc.log(), proc.service)

        return Deferred.fromCoroutine(run())

    def test_a_wrong_ca_or_host_name_is_refused_with_a_clear_error(self) -> Deferred[None]:
        """An agent trusting another CA, and a client reaching the server by a host name its
        certificate does not name, are both refused before their hello: each logs which
        certificate check failed, and the server never authenticates either."""

        async def run() -> None:
            p = self.platform
            only_ip = write_dev_certs(p.root / "certs", ["127.0.0.1"], name="only-ip")
            other = write_dev_certs(p.root / "other-ca")
            p.tls["server"] = {"tls": p.server_tls(only_ip)}
            p.tls["agent"] = {"peekServer": p.client_tls(other["ca"])}
            p.tls["client"] = {"peekServer": {**p.client_tls(), "host": "localhost"}}
            server = p.start("server", PLUGINS)
            await wait_log(server, "Peek server is running", timeout=60)
            agent = p.start("agent", PLUGINS)
            client = p.start("client", PLUGINS)
            log = await wait_log(agent, "failed verification against the CA in "
                                 f"peekServer.caFile ({other['ca']})", timeout=60)
            self.assertIn("the platform token was not sent", log)
            log = await wait_log(client, "not valid for the host name 'localhost'",
                                 timeout=60)
            self.assertIn("hostname verification failed", log)
            self.assertNotIn("Peek agent is running", agent.log())
            self.assertNotIn("Peek client is running", client.log())
            self.assertNotIn("connection from peek-", server.log())

        return Deferred.fromCoroutine(run())

    def test_plain_and_tls_side_by_side_during_a_migration(self) -> Deferred[None]:
        """A server serving its platform site on a TLS port and a plainPort takes an agent
        over wss and a not yet migrated client over ws at once; the RPCs run both ways."""

        async def run() -> None:
            p = self.platform
            plain = free_port()
            p.tls["server"] = {"tls": p.server_tls(),
                               "httpServer": {"platform": {"plainPort": plain}}}
            p.tls["agent"] = {"peekServer": p.client_tls()}
            p.tls["client"] = {"peekServer": {"httpPort": plain}}
            server = p.start("server", PLUGINS)
            await wait_log(server, "Peek server is running", timeout=60)
            self.assertIn(f"also listening on plain http://127.0.0.1:{plain}/", server.log())
            agent = p.start("agent", PLUGINS)
            client = p.start("client", PLUGINS)
            await wait_log(agent, f"connected to peek-server at wss://127.0.0.1:"
                           f"{p.platform_port}/vortexws", timeout=60)
            await wait_log(client, f"connected to peek-server at ws://127.0.0.1:{plain}/"
                           "vortexws", timeout=60)
            await wait_log(server, SUB_INTS, timeout=60)
            await wait_log(agent, ADD_INTS, timeout=60)
            await wait_log(client, "Peek client is running", timeout=60)

        return Deferred.fromCoroutine(run())


class _Device:
    """A Python mobile device on a client service's mobile site over wss."""

    def __init__(self, mobile_port: int, ca: Path) -> None:
        self.router = PayloadRouter()
        self.bridge = VortexBridge(self.router, peekMobileName)
        self.service = VortexClientService(
            "device", f"wss://127.0.0.1:{mobile_port}/vortexws", peekMobileName,
            token=lambda: None, handler=self.bridge, backoff=Backoff(initial=0.1, maximum=0.5),
            tls=client_tls_options("127.0.0.1", ca), tls_label=str(ca))

    def connect(self) -> "Deferred[None]":
        return self.service.startService()

    def close(self) -> "Deferred[Any]":
        return self.service.stopService()

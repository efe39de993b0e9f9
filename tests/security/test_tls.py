"""TLS doors: the platform token never leaves in clear or to an unverified server, devices
work over wss, a TLS port never answers in plain http, and sites say whether a request was
TLS. Real sockets on 127.0.0.1; the connecting side is built from config.json as services
build it (``upstream_service``)."""

import json
import shutil
import socket
import ssl
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Request

from peek_platform.config import ServiceConfig
from peek_platform.service.tree import ListeningSite
from peek_platform.tls import (
    client_tls_options,
    request_is_secure,
    server_tls_options,
    write_dev_certs,
)
from peek_platform.vortex.wiring import upstream_service
from peek_plugin_base.PeekVortexUtil import peekMobileName
from peek_vortex.transport import AccessPolicy, Backoff, VortexClientService, VortexServer
from tests.support import free_port
from tests.vortex_transport.harness import FAST, LogRecords, RecordingHandler, wait_for

TOKEN = "tls-test-platform-token-0123456789"


class _Recorder(Protocol):
    """Keeps every byte a connecting service sends; optionally answers like a plain site."""

    def connectionMade(self) -> None:  # noqa: N802 - twisted API
        self.factory.connections += 1  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - twisted API
        self.factory.received += data  # type: ignore[attr-defined]
        if self.factory.answer_plain:  # type: ignore[attr-defined]
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            self.transport.loseConnection()


def _recorder(answer_plain: bool = False) -> Factory:
    factory = Factory.forProtocol(_Recorder)
    factory.received = b""  # type: ignore[attr-defined]
    factory.connections = 0  # type: ignore[attr-defined]
    factory.answer_plain = answer_plain  # type: ignore[attr-defined]
    factory.noisy = False
    return factory


class _IsSecure(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        return b"tls" if request_is_secure(request) else b"plain"


class TlsDoorTests(TestCase):
    """Each test makes its own certificates, ports and service config."""

    timeout = 60

    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="peek-tls-sec-"))
        self.addCleanup(shutil.rmtree, self.root, True)
        self.certs = write_dev_certs(self.root / "certs")
        self.logs = LogRecords.attach(self)

    def agent_upstream(self, port: int, ca: Path, host: str = "127.0.0.1") -> VortexClientService:
        """The agent's bus connection exactly as run_peek_agent builds it, not started."""
        home = self.root / "agent.home"
        home.mkdir(exist_ok=True)
        (home / "config.json").write_text(json.dumps({"peekServer": {
            "host": host, "httpPort": port, "token": TOKEN, "tls": True, "caFile": str(ca),
            "reconnectInitialSeconds": 0.1, "reconnectMaxSeconds": 0.3}}))
        service = upstream_service(ServiceConfig.load("agent", home), "peek-agent")
        self.addCleanup(service.stopService)
        return service

    def listen(self, factory: Any, tls: Any = None) -> int:
        port = (reactor.listenSSL(0, factory, tls, interface="127.0.0.1") if tls is not None
                else reactor.listenTCP(0, factory, interface="127.0.0.1"))
        self.addCleanup(port.stopListening)
        return port.getHost().port

    def test_token_never_goes_to_a_plain_server_when_tls_is_configured(self) -> Deferred[None]:
        """A service with peekServer.tls that meets a plain ws server (the server still on
        http, or someone in between stripping TLS) speaks only a TLS ClientHello and fails
        with a clear TLS error: no downgrade to ws://, the token is never sent."""

        async def run() -> None:
            recorder = _recorder(answer_plain=True)
            service = self.agent_upstream(self.listen(recorder), self.certs["ca"])
            self.assertTrue(service.url.startswith("wss://"))
            service.startService()
            await wait_for(lambda: self.logs.warnings_mentioning("TLS handshake"), 20,
                           "the TLS failure in the log")
            self.assertTrue(recorder.received.startswith(b"\x16\x03"),
                            recorder.received[:40])  # a TLS handshake record
            self.assertNotIn(TOKEN.encode(), recorder.received)
            self.assertNotIn(b"GET /vortexws", recorder.received)
            self.assertIsNone(service.connection)

        return Deferred.fromCoroutine(run())

    def test_token_never_goes_to_a_server_with_an_untrusted_certificate(self) -> Deferred[None]:
        """A TLS server whose certificate another CA signed receives no application data at
        all (the decrypted stream stays empty), and the service logs which check failed."""

        async def run() -> None:
            other = write_dev_certs(self.root / "other-ca")
            recorder = _recorder()
            tls = server_tls_options(self.root, str(other["cert"]), str(other["key"]))
            service = self.agent_upstream(self.listen(recorder, tls), self.certs["ca"])
            service.startService()
            problem = await wait_for(
                lambda: self.logs.warnings_mentioning("failed verification"), 20,
                "the verification failure in the log")
            self.assertIn(f"the CA in peekServer.caFile ({self.certs['ca']})", problem[0])
            self.assertIn("the platform token was not sent", problem[0])
            self.assertGreaterEqual(recorder.connections, 1)
            self.assertEqual(recorder.received, b"")

        return Deferred.fromCoroutine(run())

    def test_token_never_goes_to_a_server_certified_for_another_host(self) -> Deferred[None]:
        """A certificate from the trusted CA but for another host name is refused by the
        host name check (peekServer.host), before any application data."""

        async def run() -> None:
            elsewhere = write_dev_certs(self.root / "certs", ["peek.elsewhere.example"],
                                        name="elsewhere")
            recorder = _recorder()
            tls = server_tls_options(self.root, str(elsewhere["cert"]),
                                     str(elsewhere["key"]))
            service = self.agent_upstream(self.listen(recorder, tls), self.certs["ca"])
            service.startService()
            problem = await wait_for(
                lambda: self.logs.warnings_mentioning("not valid for the host name"), 20,
                "the host name failure in the log")
            self.assertIn("'127.0.0.1'", problem[0])
            self.assertEqual(recorder.received, b"")

        return Deferred.fromCoroutine(run())

    def test_devices_connect_over_wss_and_plain_beside_it(self) -> Deferred[None]:
        """A client service's device websocket on a TLS site accepts a device over wss
        (checking the site's certificate), and over ws on the site's plainPort during a
        migration; the TLS port never answers plain http."""

        async def run() -> None:
            handler = RecordingHandler()
            endpoint = VortexServer("peek-client", AccessPolicy.for_devices(""),
                                            FAST, handler)
            root = Resource()
            root.putChild(b"vortexws", endpoint.resource())
            root.putChild(b"secure", _IsSecure())
            port, plain = free_port(), free_port()
            tls = server_tls_options(self.root, str(self.certs["cert"]),
                                     str(self.certs["key"]))
            site = ListeningSite("mobile-site", root, port, "127.0.0.1", tls=tls,
                                 plain_port=plain)
            site.startService()
            self.addCleanup(site.stopService)

            devices = []
            for url, options in (
                    (f"wss://127.0.0.1:{port}/vortexws",
                     client_tls_options("127.0.0.1", self.certs["ca"])),
                    (f"ws://127.0.0.1:{plain}/vortexws", None)):
                device = VortexClientService("device", url, peekMobileName, lambda: None,
                                             FAST, RecordingHandler(),
                                             Backoff(initial=0.1, maximum=0.3), tls=options)
                self.addCleanup(device.stopService)
                await device.startService()
                devices.append(device)
            self.assertEqual([c.name for c in endpoint.connections], [peekMobileName] * 2)
            self.assertTrue(devices[0].connection.peer.startswith("tcp4:127.0.0.1"))

            # The site tells handlers whether the request came over TLS (for Secure cookies).
            context = ssl.create_default_context(cafile=str(self.certs["ca"]))

            def fetch(url: str, ctx: Any = None) -> bytes:
                with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
                    return bytes(r.read())

            self.assertEqual(await deferToThread(
                fetch, f"https://127.0.0.1:{port}/secure", context), b"tls")
            self.assertEqual(await deferToThread(
                fetch, f"http://127.0.0.1:{plain}/secure"), b"plain")

            def plain_to_tls_port() -> bytes:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    s.sendall(b"GET /secure HTTP/1.1\r\nHost: x\r\n\r\n")
                    try:
                        return s.recv(100)
                    except OSError:
                        return b""

            answer = await deferToThread(plain_to_tls_port)
            self.assertFalse(answer.startswith(b"HTTP/"), answer)

        return Deferred.fromCoroutine(run())

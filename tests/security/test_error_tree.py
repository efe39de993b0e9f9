"""Finding 12: every bus error plugin code can see, transport errors included, is in the
contract's tree under ``peek_plugin_base.vortex.VortexError`` (transport errors under its
``VortexTransportError``)."""

import ast
import inspect
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

import peek_platform.errors
import peek_plugin_base.vortex
from peek_plugin_base.PeekVortexUtil import peekAgentName, peekServerName
from peek_plugin_base.vortex import (
    Payload,
    PayloadRouter,
    TupleDataObserverClient,
    TupleSelector,
    VortexError,
)
from peek_vortex.transport import Backoff, TransportLimits, VortexBridge, VortexClientService
from tests.e2e.devices_data import server_config, start_service
from tests.support import REPO
from tests.vortex_transport.harness import wait_for

LIMITS = TransportLimits(max_queued_bytes=64 * 1024, hello_timeout_seconds=5,
                         heartbeat_seconds=30, heartbeat_timeout_seconds=60)


def _raised_names(path: Path) -> set[str]:
    """Names of the classes a module raises directly (``raise Name(...)``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if isinstance(func, ast.Name):
                names.add(func.id)
    return names


def test_every_platform_error_a_plugin_can_see_is_a_vortex_error() -> None:
    """Every exception class the bus runtime (peek_vortex.transport: server, client,
    bridge; peek_platform.vortex: wiring, token) raises, and every bus error
    peek_platform.errors defines or re-exports, is a subclass of the contract's VortexError;
    a bus transport error is caught by the façade's VortexTransportError."""
    runtime = [REPO / "platform" / "peek_vortex" / "transport",
               REPO / "platform" / "peek_platform" / "vortex"]
    checked = []
    for path in sorted(p for folder in runtime for p in folder.rglob("*.py")):
        module_name = ".".join(path.relative_to(REPO / "platform").with_suffix("").parts)
        module = __import__(module_name, fromlist=["_"])
        for name in sorted(_raised_names(path)):
            cls = getattr(module, name, None)
            if not (inspect.isclass(cls) and issubclass(cls, Exception)):
                continue
            if cls.__module__ == "builtins":
                continue  # ValueError & co. are programming errors (a bad close code)
            checked.append(f"{module_name}:{name}")
            assert issubclass(cls, VortexError), f"{module_name} raises {name}, not a VortexError"
    assert any(c.endswith(":VortexBackPressureError") for c in checked), checked
    assert any(c.endswith(":VortexConnectionClosedError") for c in checked), checked
    assert any(c.endswith(":VortexHelloRefusedError") for c in checked), checked

    bus_errors = [
        cls for _, cls in inspect.getmembers(peek_platform.errors, inspect.isclass)
        if issubclass(cls, Exception) and cls.__name__.startswith("Vortex")
    ]
    assert len(bus_errors) >= 5, bus_errors
    for cls in bus_errors:
        assert issubclass(cls, VortexError), cls
        if cls.__module__.startswith("peek_vortex"):
            # A plugin catches it through the one documented place (the subclasses stay in
            # peek_vortex.errors, for the platform).
            assert issubclass(cls, peek_plugin_base.vortex.VortexTransportError), cls
            assert "VortexTransportError" in peek_plugin_base.vortex.__all__
    # The platform token's error is the one that stays platform-only.
    assert {c.__name__ for c in bus_errors if c.__module__ == "peek_platform.errors"} == {
        "VortexTokenError"}


class TransportErrorTests(TestCase):
    """A real server process and a real websocket from this process (as ``peek-agent``)."""

    timeout = 90

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-sec-errtree-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.home = root / "peek-server.home"
        self.config = server_config([])
        self.server = start_service("server", self.home, self.config, self.addCleanup)

    def _resume(self) -> None:
        if self.server.proc.poll() is None:
            os.kill(self.server.proc.pid, signal.SIGCONT)

    def test_back_pressure_and_closed_connection_are_vortex_errors(self) -> Deferred[None]:
        """With the server process stopped (SIGSTOP) the peer's queue fills: the send raises
        back-pressure as a VortexError, an observer client's subscribe (which catches
        VortexError) does not raise into plugin code, and once the server is killed the
        writer waiting for writable() and a later send get closed-connection errors that are
        VortexErrors too."""

        async def run() -> None:
            token = (self.home / "platform.token").read_text().strip()
            port = self.config["httpServer"]["platform"]["sitePort"]
            router = PayloadRouter()
            bridge = VortexBridge(router, peekAgentName)
            peer = VortexClientService(
                "errtree", f"ws://127.0.0.1:{port}/vortexws", peekAgentName,
                token=lambda: token, limits=LIMITS, handler=bridge,
                backoff=Backoff(initial=5, maximum=5))
            self.addCleanup(peer.stopService)
            await peer.startService()
            conn = peer.connection
            assert conn is not None

            os.kill(self.server.proc.pid, signal.SIGSTOP)
            self.addCleanup(self._resume)
            message = Payload(filt={"key": "fx.errtree"}, tuples=[]).toVortexMsg() + b" " * (
                16 * 1024)
            raised: list[BaseException] = []
            for _ in range(100_000):  # the kernel's and Twisted's buffers, then our 64 KiB
                try:
                    router.send(message, peekServerName)
                except Exception as e:
                    raised.append(e)
                    break
            assert raised, "the queue never filled"
            assert isinstance(raised[0], VortexError), type(raised[0]).__mro__
            assert type(raised[0]).__name__ == "VortexBackPressureError"

            observer = TupleDataObserverClient(
                observableName="fx.errtree", destVortexName=peekServerName, router=router)
            self.addCleanup(observer.shutdown)
            # Plugin code: subscribing while the queue is full must not raise (the client
            # catches VortexError and resubscribes on reconnect).
            observer.subscribeToTupleSelector(TupleSelector("fx.Nothing", {}))

            waiting = conn.writable()
            failures: list[Any] = []
            waiting.addErrback(lambda f: failures.append(f.value))
            self.server.proc.kill()
            self.server.proc.wait()
            await wait_for(lambda: failures, 10, "the waiting writer to fail")
            assert isinstance(failures[0], VortexError), type(failures[0]).__mro__
            assert type(failures[0]).__name__ == "VortexConnectionClosedError"
            try:
                conn.send(b"after close")
            except VortexError as e:
                assert type(e).__name__ == "VortexConnectionClosedError", e
            else:
                raise AssertionError("a send on a closed connection did not raise")

        return Deferred.fromCoroutine(run())

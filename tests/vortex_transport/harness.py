"""Transport test helpers: a listening endpoint, a recording handler, deadline waits."""

import logging
import time
from collections.abc import Callable
from typing import Any, Optional

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import Site

from peek_vortex.transport import (
    AccessPolicy,
    Backoff,
    CloseReason,
    TransportLimits,
    VortexClientService,
    VortexConnection,
    VortexServer,
)

TOKEN = "test-platform-token-0123456789abcdef"
FAST = TransportLimits(hello_timeout_seconds=5, heartbeat_seconds=30,
                       heartbeat_timeout_seconds=30)


class RecordingHandler:
    """Remembers every open, frame and close; optionally echoes frames back."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.opened: list[VortexConnection] = []
        self.frames: list[tuple[VortexConnection, bytes]] = []
        self.closed: list[tuple[VortexConnection, CloseReason]] = []

    def on_open(self, conn: VortexConnection) -> None:
        self.opened.append(conn)

    def on_frame(self, conn: VortexConnection, data: bytes) -> None:
        self.frames.append((conn, data))
        if self.echo:
            conn.send(data)

    def on_close(self, conn: VortexConnection, reason: CloseReason) -> None:
        self.closed.append((conn, reason))

    def frames_from(self, conn: VortexConnection) -> list[bytes]:
        return [data for c, data in self.frames if c is conn]


class LogRecords(logging.Handler):
    """Collects the records of the bus's and the platform's loggers during one test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings_mentioning(self, text: str) -> list[str]:
        return [r.getMessage() for r in self.records
                if r.levelno >= logging.WARNING and text in r.getMessage()]

    @classmethod
    def attach(cls, test: Any) -> "LogRecords":
        records = cls()
        for name in ("peek_vortex", "peek_platform"):
            logger = logging.getLogger(name)
            logger.addHandler(records)
            test.addCleanup(logger.removeHandler, records)
        return records


def wait_for(condition: Callable[[], Any], timeout: float = 10.0,
             what: str = "condition") -> Deferred[Any]:
    """Fires with the condition's first truthy value; fails after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    result: Deferred[Any] = Deferred()

    def poll() -> None:
        try:
            value = condition()
        except Exception as e:  # surface assertion-style errors to the test
            result.errback(e)
            return
        if value:
            result.callback(value)
        elif time.monotonic() > deadline:
            result.errback(AssertionError(f"timed out after {timeout}s waiting for {what}"))
        else:
            reactor.callLater(0.01, poll)

    poll()
    return result


def vortex_server(
    handler: Optional[RecordingHandler] = None,
    limits: TransportLimits = FAST,
    policy: Optional[AccessPolicy] = None,
) -> VortexServer:
    """A peek-server websocket accepting TOKEN for the service names."""
    return VortexServer(
        "peek-server", policy or AccessPolicy.for_server(lambda: TOKEN), limits,
        handler or RecordingHandler())


def listen(endpoint: VortexServer, port: int = 0) -> IListeningPort:
    """Serve the endpoint at /vortexws on 127.0.0.1 (ephemeral port unless given)."""
    root = Resource()
    root.putChild(b"vortexws", endpoint.resource())
    site = Site(root)
    site.noisy = False
    return reactor.listenTCP(port, site, interface="127.0.0.1")


def client(
    port: int,
    name: str = "peek-agent",
    token: Optional[str] = TOKEN,
    handler: Optional[RecordingHandler] = None,
    limits: TransportLimits = FAST,
    backoff: Optional[Backoff] = None,
    clock: Any = None,
) -> VortexClientService:
    """A client service for the endpoint on ``port`` (not started)."""
    return VortexClientService(
        "vortex", f"ws://127.0.0.1:{port}/vortexws", name, lambda: token, limits,
        handler or RecordingHandler(), backoff or Backoff(initial=0.05, maximum=0.2),
        clock=clock)


class _Probe(WebSocketClientProtocol):
    """A bare websocket client that sends chosen frames and records the close."""

    factory: "ProbeFactory"

    def onOpen(self) -> None:  # noqa: N802 - autobahn API
        for frame in self.factory.frames:
            self.sendMessage(frame, isBinary=self.factory.binary)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
        self.factory.received.append(payload)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:  # noqa: N802, N803
        self.factory.closed.callback((code, reason))


class ProbeFactory(WebSocketClientFactory):
    """Connects a _Probe; ``closed`` fires with the (code, reason) the server closed with."""

    protocol = _Probe

    def __init__(self, port: int, frames: list[bytes], binary: bool = True) -> None:
        super().__init__(f"ws://127.0.0.1:{port}/vortexws")
        self.frames = frames
        self.binary = binary
        self.received: list[bytes] = []
        self.closed: Deferred[tuple[Optional[int], Optional[str]]] = Deferred()


def probe(port: int, frames: list[bytes], binary: bool = True) -> ProbeFactory:
    """Open a raw websocket to the endpoint on ``port`` and send ``frames``."""
    factory = ProbeFactory(port, frames, binary)
    reactor.connectTCP("127.0.0.1", port, factory)
    return factory

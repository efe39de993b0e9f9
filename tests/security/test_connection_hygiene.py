"""Finding 8, connection hygiene, on real server and client processes and real sockets.

One server and one client service (tutorial plugin, small limits) serve every test; each
test connects from its own loopback source address (127.0.0.2, .3, ...) so that the
per-address caps and the wrong-token throttle of one test never touch another.
"""

import os
import shutil
import socket
import sqlite3
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from peek_plugin_tutorial._private.PluginNames import tutorialFilt, tutorialObservableName
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple

from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName
from peek_plugin_base.vortex import PayloadEnvelope, TupleSelector
from peek_vortex.handlers import ObservableMessages
from peek_vortex.wire import CloseCode, Hello, Welcome
from tests.e2e.devices_data import client_config, server_config, start_service
from tests.support import ServiceProcess

HEADER_TIMEOUT = 2
PER_ADDRESS = 30
SUBSCRIPTION_CAP = 5
TOKEN_ATTEMPTS = 3
#: Long enough to hold for the whole module: the throttle test's address stays blocked.
TOKEN_BLOCK = 120
SLOW_CONSUMER = 1
ROWS = 5000
#: How long a socket operation may take before the test fails (the service is local).
IO_TIMEOUT = 10.0
# The wire contract, spelled out (CloseCode.SLOW_CONSUMER, CloseCode.TOO_MANY_ATTEMPTS and
# observable_wire.TOO_MANY_SUBSCRIPTIONS), so this module also runs against older code.
SLOW_CONSUMER_CODE = 4507
TOO_MANY_ATTEMPTS_CODE = 4429
TOO_MANY_SUBSCRIPTIONS = "TooManySubscriptions"


@dataclass
class Services:
    server: ServiceProcess
    client: ServiceProcess
    platform_port: int
    mobile_port: int
    token: str


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    home = Path(tempfile.mkdtemp(prefix="peek-hygiene-"))
    stops: list = []
    try:
        server_cfg = server_config(["peek_plugin_tutorial"])
        server_cfg["logging"]["level"] = "INFO"
        server_cfg["vortex"] = {"wrongTokenAttempts": TOKEN_ATTEMPTS,
                                "wrongTokenBlockSeconds": TOKEN_BLOCK}
        server = start_service("server", home / "server", server_cfg, stops.append)
        fill_tutorial_table(home / "server")
        client_cfg = client_config(["peek_plugin_tutorial"], home / "server", server_cfg)
        client_cfg["logging"]["level"] = "INFO"
        client_cfg["httpServer"].update({"headerTimeoutSeconds": HEADER_TIMEOUT,
                                         "maxUnauthenticatedPerAddress": PER_ADDRESS})
        # Heartbeats slower than the test, so only the slow-consumer bound closes a peer
        # that stops reading.
        client_cfg["vortex"] = {"maxSubscriptionsPerConnection": SUBSCRIPTION_CAP,
                                "slowConsumerSeconds": SLOW_CONSUMER, "maxQueuedBytes": 1024,
                                "heartbeatSeconds": 60, "heartbeatTimeoutSeconds": 120,
                                "helloTimeoutSeconds": 60}
        client = start_service("client", home / "client", client_cfg, stops.append)
        yield Services(server, client, server_cfg["httpServer"]["platform"]["sitePort"],
                       client_cfg["httpServer"]["mobile"]["sitePort"],
                       (home / "server" / "platform.token").read_text("ascii").strip())
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(home, ignore_errors=True)


def fill_tutorial_table(server_home: Path) -> None:
    """Rows of random text, so the observable's update is large (about 150 KB compressed)
    and a peer that stops reading fills the buffers quickly."""
    with sqlite3.connect(server_home / "peek.pl_tutorial.sqlite") as db:
        db.executemany('INSERT INTO "StringIntTuple" (string1, int1) VALUES (?, ?)',
                       [(os.urandom(25).hex(), i) for i in range(ROWS)])


# ---- a bare websocket peer: exact control over what is sent, read, and from where


def connect(port: int, source: str, rcvbuf: Optional[int] = None) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` from the loopback address ``source``."""
    sock = socket.socket()
    sock.settimeout(IO_TIMEOUT)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def upgrade_request(port: int) -> bytes:
    return (f"GET /vortexws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


def read_http_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed during the HTTP answer: {data!r}"
        data += chunk
    return data


def http_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


class WsPeer:
    """A websocket connection made with a raw socket (frames built by hand)."""

    def __init__(self, port: int, source: str, rcvbuf: Optional[int] = None) -> None:
        self.sock = connect(port, source, rcvbuf)
        self.sock.sendall(upgrade_request(port))
        head = read_http_head(self.sock)
        assert head.startswith(b"HTTP/1.1 101"), head
        self._buffer = head.split(b"\r\n\r\n", 1)[1]

    def send(self, payload: bytes) -> None:
        self.sock.sendall(frame(payload))

    def _need(self, count: int) -> None:
        while len(self._buffer) < count:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed mid-frame"
            self._buffer += chunk

    def recv(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame."""
        self._need(2)
        opcode, length, offset = self._buffer[0] & 0x0F, self._buffer[1] & 0x7F, 2
        if length == 126:
            self._need(4)
            length, offset = struct.unpack(">H", self._buffer[2:4])[0], 4
        elif length == 127:
            self._need(10)
            length, offset = struct.unpack(">Q", self._buffer[2:10])[0], 10
        self._need(offset + length)
        payload = self._buffer[offset:offset + length]
        self._buffer = self._buffer[offset + length:]
        return opcode, payload

    def hello(self, name: str, token: Optional[str] = None) -> "Welcome | tuple[int, str]":
        """The welcome, or (close code, reason) when the hello is refused."""
        self.send(Hello(name, token).encode())
        opcode, payload = self.recv()
        if opcode == 0x8:
            return struct.unpack(">H", payload[:2])[0], payload[2:].decode()
        return Welcome.decode(payload)

    def close(self) -> None:
        self.sock.close()


def frame(payload: bytes) -> bytes:
    """One masked binary websocket frame."""
    size = len(payload)
    if size < 126:
        head = bytes([0x82, 0x80 | size])
    elif size < 65536:
        head = bytes([0x82, 0x80 | 126]) + struct.pack(">H", size)
    else:
        head = bytes([0x82, 0x80 | 127]) + struct.pack(">Q", size)
    mask = os.urandom(4)
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big") if size else 0
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big") if size else b""
    return head + mask + body


def subscribe(selector: TupleSelector) -> bytes:
    """A device's subscribe to the tutorial observable, for the client service."""
    envelope = ObservableMessages(tutorialObservableName, tutorialFilt).subscribe(
        selector.toJsonStr())
    envelope.destVortexName = peekClientName
    return envelope.toVortexMsg()


def device(port: int, source: str, rcvbuf: Optional[int] = None) -> WsPeer:
    peer = WsPeer(port, source, rcvbuf)
    welcome = peer.hello(peekMobileName)
    assert isinstance(welcome, Welcome), welcome
    return peer


def closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server ends the connection (EOF or reset); False on IO_TIMEOUT."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


# ---- the tests


def test_half_sent_upgrades_are_closed_after_the_header_timeout(services: Services) -> None:
    """Sockets that sent half an upgrade request are closed by the client service within
    the header timeout (Twisted's idle timeout alone held them 60 s and more), and a new
    device connects and authenticates while they are held."""
    held = [connect(services.mobile_port, "127.0.0.3") for _ in range(PER_ADDRESS)]
    for sock in held:
        sock.sendall(b"GET /vortexws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
    opened = time.monotonic()
    device(services.mobile_port, "127.0.0.1").close()
    for sock in held:
        assert closed_by_server(sock), "a half-sent upgrade was still open after 10 s"
        sock.close()
    assert time.monotonic() - opened < HEADER_TIMEOUT + 5
    services.client.wait_log("no complete request headers within 2s")


def test_unauthenticated_cap_per_address(services: Services) -> None:
    """Websockets that never say hello count against their address: over the cap the next
    connection from it is answered 429 with the reason and closed, while a device from
    another address still gets in; the refusals are logged once, not per connection."""
    held = [WsPeer(services.mobile_port, "127.0.0.4") for _ in range(PER_ADDRESS)]
    try:
        for _ in range(20):
            refused = connect(services.mobile_port, "127.0.0.4")
            answer = http_answer(refused)
            refused.close()
            assert answer.startswith(b"HTTP/1.1 429 "), answer
            assert b"too many unauthenticated connections from 127.0.0.4" in answer
        device(services.mobile_port, "127.0.0.2").close()
    finally:
        for peer in held:
            peer.close()
    log = services.client.log()
    assert log.count("refused a connection from 127.0.0.4") == 1, log


def test_slow_consumer_is_closed_with_a_reason(services: Services) -> None:
    """A device that makes the service send it much data and stops reading is closed with
    4507 after the configured bound (not starved for ever), logged in a few lines rather
    than one per dropped message."""
    peer = device(services.mobile_port, "127.0.0.6", rcvbuf=4096)
    request = subscribe(TupleSelector(StringIntTuple.tupleName(), {}))
    peer.send(request)
    opcode, data = peer.recv()
    assert PayloadEnvelope.fromVortexMsg(data).filt["op"] == "update"
    # Every repeat subscribe re-sends the cached data; keep asking, never read, until the
    # service gives up on this peer.
    deadline = time.monotonic() + IO_TIMEOUT
    try:
        while time.monotonic() < deadline:
            peer.sock.sendall(frame(request) * 20)
    except (BrokenPipeError, ConnectionResetError):
        pass
    services.client.wait_log(f"disconnected: {SLOW_CONSUMER_CODE} send queue stayed"
                             f" full for {SLOW_CONSUMER}s", timeout=IO_TIMEOUT)
    assert closed_by_server(peer.sock)
    peer.close()
    log = services.client.log()
    assert 1 <= log.count("Could not send") <= 3, log[-5000:]


def test_subscriptions_per_device_are_capped(services: Services) -> None:
    """A device gets SUBSCRIPTION_CAP selectors through the tutorial's proxy; the next is
    refused with a TooManySubscriptions error naming the setting."""
    peer = device(services.mobile_port, "127.0.0.7")
    try:
        for i in range(SUBSCRIPTION_CAP + 1):
            peer.send(subscribe(TupleSelector(StringIntTuple.tupleName(), {"n": i})))
        answers = {}
        while len(answers) < SUBSCRIPTION_CAP + 1:
            envelope = PayloadEnvelope.fromVortexMsg(peer.recv()[1])
            answers[TupleSelector.fromJsonStr(envelope.filt["tupleSelector"]).selector["n"]] = (
                envelope.filt["op"], envelope.error)
    finally:
        peer.close()
    assert [answers[i] for i in range(SUBSCRIPTION_CAP)] == [("update", None)] * SUBSCRIPTION_CAP
    op, error = answers[SUBSCRIPTION_CAP]
    assert op == "error" and error[0] == TOO_MANY_SUBSCRIPTIONS
    assert "maxSubscriptionsPerConnection" in error[1]


def test_wrong_tokens_are_throttled_per_address(services: Services) -> None:
    """After TOKEN_ATTEMPTS wrong platform tokens from one address its hellos are refused
    with 4429, even with the right token, while the right token from another address is
    welcome; 40 guesses leave a handful of log lines, not 40."""
    codes = []
    for _ in range(40):
        peer = WsPeer(services.platform_port, "127.0.0.5")
        answer = peer.hello("peek-agent", "wrong-token-" + "x" * 20)
        peer.close()
        assert not isinstance(answer, Welcome)
        codes.append(answer[0])
    expected = [int(CloseCode.UNAUTHORISED)] * TOKEN_ATTEMPTS
    assert codes == expected + [TOO_MANY_ATTEMPTS_CODE] * (40 - TOKEN_ATTEMPTS)
    blocked = WsPeer(services.platform_port, "127.0.0.5")
    answer = blocked.hello("peek-agent", services.token)
    blocked.close()
    assert not isinstance(answer, Welcome) and answer[0] == TOO_MANY_ATTEMPTS_CODE
    other = WsPeer(services.platform_port, "127.0.0.2")
    assert isinstance(other.hello("peek-agent", services.token), Welcome)
    other.close()
    lines = [line for line in services.server.log().splitlines() if "127.0.0.5" in line]
    assert 1 <= len(lines) <= 4, "\n".join(lines)


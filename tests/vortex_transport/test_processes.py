"""Real processes: an agent connects to a server, and reconnects after the server is killed."""

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port


def _wait_for_log(path: Path, text: str, count: int = 1, timeout: float = 30.0) -> str:
    """The log's content once ``text`` appears ``count`` times; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if content.count(text) >= count:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{path} never showed {text!r} x{count}:\n{content}")


def _ws_first_frame(port: int, frame: bytes) -> tuple[int, bytes]:
    """A bare synchronous websocket client: upgrade at /vortexws, send one binary frame,
    return the (opcode, payload) of the first frame the server answers with."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET /vortexws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, data = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        mask = os.urandom(4)
        assert len(frame) < 126
        sock.sendall(bytes([0x82, 0x80 | len(frame)]) + mask
                     + bytes(b ^ mask[i % 4] for i, b in enumerate(frame)))

        def need(count: int) -> None:
            nonlocal data
            while len(data) < count:
                chunk = sock.recv(4096)
                assert chunk, "connection closed mid-frame"
                data += chunk

        need(2)
        opcode, length, offset = data[0] & 0x0F, data[1] & 0x7F, 2
        if length == 126:
            need(4)
            length, offset = struct.unpack(">H", data[2:4])[0], 4
        need(offset + length)
        return opcode, data[offset:offset + length]


class _Processes:
    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, service: str, home: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"peek_{service}", "--home", str(home)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "PEEK_SERVER_HOME": str(home.parent / "no-such-home")},
        )
        self.running.append(proc)
        return proc


@pytest.fixture
def processes() -> Iterator[_Processes]:
    procs = _Processes()
    yield procs
    for proc in procs.running:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.running:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_agent_connects_and_reconnects_after_server_kill(tmp_path: Path,
                                                         processes: _Processes) -> None:
    """run_peek_agent waits for the server, connects with the token file, and reconnects
    after the server is killed with SIGKILL and started again."""
    platform_port, admin_port = free_port(), free_port()
    server_home, agent_home = tmp_path / "server", tmp_path / "agent"
    server_home.mkdir()
    agent_home.mkdir()
    (server_home / "config.json").write_text(json.dumps({"httpServer": {
        "admin": {"sitePort": admin_port},
        "platform": {"sitePort": platform_port, "bindAddress": "127.0.0.1"}}}))
    (agent_home / "config.json").write_text(json.dumps({"peekServer": {
        "httpPort": platform_port, "tokenFile": str(server_home / "platform.token"),
        "reconnectInitialSeconds": 0.1, "reconnectMaxSeconds": 0.5}}))
    agent_log = agent_home / "peek-agent.log"
    server_log = server_home / "peek-server.log"

    processes.start("agent", agent_home)
    _wait_for_log(agent_log, "no platform token")  # started first: waits, plugins not loaded
    assert "Peek agent is running" not in agent_log.read_text()

    server = processes.start("server", server_home)
    url = f"connected to peek-server at ws://127.0.0.1:{platform_port}/vortexws"
    log = _wait_for_log(agent_log, "Peek agent is running")
    assert url in log and log.index(url) < log.index("Peek agent is running")
    _wait_for_log(server_log, "connection from peek-agent (")

    server.kill()  # SIGKILL: no close frame, the agent must notice by itself
    server.wait()
    _wait_for_log(agent_log, "lost the connection to peek-server")
    processes.start("server", server_home)
    log = _wait_for_log(agent_log, url, count=2)
    _wait_for_log(server_log, "connection from peek-agent (", count=2)
    assert "Traceback" not in log


def test_client_and_worker_connect_and_client_serves_devices(tmp_path: Path,
                                                              processes: _Processes) -> None:
    """run_peek_client and run_peek_worker connect to run_peek_server; the client service
    accepts anonymous devices at /vortexws on its mobile and desktop sites and refuses
    service names there."""
    platform_port, admin_port = free_port(), free_port()
    mobile_port, desktop_port = free_port(), free_port()
    server_home = tmp_path / "server"
    server_home.mkdir()
    (server_home / "config.json").write_text(json.dumps({"httpServer": {
        "admin": {"sitePort": admin_port},
        "platform": {"sitePort": platform_port, "bindAddress": "127.0.0.1"}}}))
    upstream = {"httpPort": platform_port, "tokenFile": str(server_home / "platform.token"),
                "reconnectInitialSeconds": 0.1, "reconnectMaxSeconds": 0.5}
    homes = {}
    for service, extra in (("client", {"httpServer": {
            "mobile": {"sitePort": mobile_port, "bindAddress": "127.0.0.1"},
            "desktop": {"sitePort": desktop_port, "bindAddress": "127.0.0.1"}}}),
            ("worker", {})):
        homes[service] = tmp_path / service
        homes[service].mkdir()
        (homes[service] / "config.json").write_text(json.dumps({"peekServer": upstream,
                                                                **extra}))
    processes.start("server", server_home)
    processes.start("client", homes["client"])
    processes.start("worker", homes["worker"])
    for service in ("client", "worker"):
        _wait_for_log(homes[service] / f"peek-{service}.log", f"Peek {service} is running")
        _wait_for_log(server_home / "peek-server.log", f"connection from peek-{service} (")

    for port, name in ((mobile_port, "peek-mobile"), (desktop_port, "peek-desktop")):
        opcode, payload = _ws_first_frame(port, json.dumps(
            {"vortex": "hello", "version": 1, "name": name}).encode())
        welcome = json.loads(payload)
        assert opcode == 0x2 and welcome["vortex"] == "welcome"
        assert welcome["name"] == "peek-client" and welcome["uuid"]
    token = (server_home / "platform.token").read_text().strip()
    opcode, payload = _ws_first_frame(mobile_port, json.dumps(
        {"vortex": "hello", "version": 1, "name": "peek-agent", "token": token}).encode())
    assert opcode == 0x8 and struct.unpack(">H", payload[:2])[0] == 4403
    _wait_for_log(homes["client"] / "peek-client.log", "refused: 4403")

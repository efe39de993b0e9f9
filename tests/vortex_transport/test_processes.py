"""Real processes: an agent connects to a server, and reconnects after the server is killed."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    platform_port, admin_port = _free_port(), _free_port()
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

"""The four run_peek_* commands as real processes: start, plugins, signals, shutdown order."""

import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.support import ServiceProcess, free_port, write_plugin

EXAMPLES = ["peek_plugin_noop", "peek_plugin_tutorial"]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running server for the client, agent and worker tests to connect to (their plugins
    load only once connected); yields their ``peekServer`` config section."""
    home = tmp_path_factory.mktemp("upstream") / "home"
    config = service_config("server", [])
    server = ServiceProcess("server", home, config)
    server.wait_log("Peek server is running")
    yield {"httpPort": config["httpServer"]["platform"]["sitePort"],
           "tokenFile": str(home / "platform.token")}
    server.stop()


def service_config(service: str, enabled: list[str],
                   upstream: Optional[dict[str, Any]] = None, **extra: Any) -> dict[str, Any]:
    """A config for ``service`` on free ports with the given plugins, logging at DEBUG;
    client, agent and worker connect to the ``upstream`` server."""
    config: dict[str, Any] = {"plugin": {"enabled": enabled}, "logging": {"level": "DEBUG"}}
    if upstream is not None and service != "server":
        config["peekServer"] = upstream
    if service == "server":
        config["httpServer"] = {"admin": {"sitePort": free_port()},
                                "platform": {"sitePort": free_port()}}
    elif service == "client":
        config["httpServer"] = {"mobile": {"sitePort": free_port()},
                                "desktop": {"sitePort": free_port()}}
    config.update(extra)
    return config


def ordered(log: str, *needles: str) -> bool:
    """Whether every needle appears in the log, each after the previous one."""
    position = 0
    for needle in needles:
        position = log.find(needle, position)
        if position < 0:
            return False
        position += len(needle)
    return True


@pytest.mark.parametrize("service", ["server", "client", "agent", "worker"])
def test_service_runs_example_plugins_and_stops_in_reverse_on_sigterm(
    tmp_path: Path, service: str, upstream: dict[str, Any]
) -> None:
    """Each run_peek_* loads and starts noop and tutorial, and SIGTERM stops then unloads
    them in reverse order and exits 0 within 10 s."""
    proc = ServiceProcess(service, tmp_path / "home", service_config(service, EXAMPLES, upstream))
    proc.wait_log(f"Peek {service} is running")
    log = proc.log()
    assert ordered(log, f"peek_plugin_noop {service}: load",
                   f"peek_plugin_tutorial._private.{service}", "Loaded",
                   f"peek_plugin_noop {service}: start",
                   f"peek_plugin_tutorial._private.{service}", "Started")
    started = time.monotonic()
    assert proc.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
    log = proc.log()
    # The worker's main loop is Celery's (its warm shutdown reaches the platform bootstep),
    # the others' is Twisted's.
    stopping = "Peek worker: stopping plugins" if service == "worker" else "Received SIGTERM"
    assert ordered(log, stopping,
                   "Stopped", f"peek_plugin_noop {service}: stop",
                   "Unloaded", f"peek_plugin_noop {service}: unload",
                   f"Peek {service} stopped")


def test_server_writes_defaults_keeps_edits_and_listens(tmp_path: Path) -> None:
    """The server fills config.json, keeps hand edits and unknown keys across starts, logs its
    two ports and serves both sites."""
    home = tmp_path / "home"
    config = service_config("server", [])
    config["handWritten"] = {"keep": True}
    proc = ServiceProcess("server", home, config)
    proc.wait_log("Peek server is running")
    admin = config["httpServer"]["admin"]["sitePort"]
    platform = config["httpServer"]["platform"]["sitePort"]
    assert f"admin-site listening on http://127.0.0.1:{admin}/" in proc.log()
    assert f"platform-site listening on http://0.0.0.0:{platform}/" in proc.log()
    # The admin site answers with its login page (every other page needs a session).
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/login", timeout=5) as response:
        assert b"<h1>Log in</h1>" in response.read()
    assert proc.stop() == 0

    written = json.loads((home / "config.json").read_text())
    assert written["handWritten"] == {"keep": True}
    assert written["httpServer"]["admin"]["bindAddress"] == "127.0.0.1"
    assert written["logging"]["rotateSizeMb"] == 20
    written["logging"]["rotationsToKeep"] = 5
    (home / "config.json").write_text(json.dumps(written))

    again = ServiceProcess("server", home)
    again.wait_log("Peek server is running")
    assert again.stop() == 0
    kept = json.loads((home / "config.json").read_text())
    assert kept["logging"]["rotationsToKeep"] == 5
    assert kept["handWritten"] == {"keep": True}


def test_failing_plugin_is_reported_and_dependant_skipped(
    tmp_path: Path, upstream: dict[str, Any]
) -> None:
    """A plugin raising in load() is named with its traceback; its dependant is skipped with
    that reason; the example plugins keep running."""
    plugins = tmp_path / "plugins"
    write_plugin(plugins, "fx_proc_broken", behaviour={"load": "raise"})
    write_plugin(plugins, "fx_proc_needs_broken", requires=("fx_proc_broken",))
    enabled = ["peek_plugin_noop", "fx_proc_broken", "fx_proc_needs_broken"]
    proc = ServiceProcess("agent", tmp_path / "home", service_config("agent", enabled, upstream),
                          pythonpath=plugins)
    proc.wait_log("Peek agent is running")
    log = proc.log()
    broke = "RuntimeError('fx_proc_broken load broke')"
    assert f"Plugin fx_proc_broken failed: load() raised {broke}" in log
    assert "Traceback (most recent call last)" in log
    assert ("Plugin fx_proc_needs_broken skipped: requires plugin fx_proc_broken, which failed"
            in log)
    assert "agent service: 1 plugin(s) running: peek_plugin_noop" in log
    assert proc.stop() == 0


def test_sighup_adds_and_removes_plugins(tmp_path: Path, upstream: dict[str, Any]) -> None:
    """SIGHUP re-reads config.json: removed plugins stop and unload, added ones start."""
    home = tmp_path / "home"
    proc = ServiceProcess("agent", home, service_config("agent", ["peek_plugin_noop"], upstream))
    proc.wait_log("Peek agent is running")
    (home / "config.json").write_text(json.dumps(
        service_config("agent", ["peek_plugin_tutorial"], upstream)))
    proc.signal(signal.SIGHUP)
    proc.wait_log("Plugin peek_plugin_tutorial started")
    log = proc.log()
    assert ordered(log, "SIGHUP: config reloaded", "peek_plugin_noop agent: stop",
                   "peek_plugin_noop agent: unload", "Plugin peek_plugin_tutorial loaded")
    assert proc.proc.poll() is None
    assert proc.stop() == 0


def test_sighup_with_broken_config_keeps_running(tmp_path: Path, upstream: dict[str, Any]) -> None:
    """A config that no longer parses is reported on SIGHUP; the service runs on unchanged."""
    home = tmp_path / "home"
    proc = ServiceProcess("agent", home, service_config("agent", ["peek_plugin_noop"], upstream))
    proc.wait_log("Peek agent is running")
    (home / "config.json").write_text("{ broken")
    proc.signal(signal.SIGHUP)
    proc.wait_log("SIGHUP: config not reloaded")
    assert "line 1 column 3" in proc.log()
    assert (home / "config.json").read_text() == "{ broken"
    assert proc.stop() == 0
    assert "peek_plugin_noop agent: unload" in proc.log()


def test_port_in_use_fails_start_with_exit_1(tmp_path: Path) -> None:
    """A port already taken stops the server with a clear message and exit code 1."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = service_config("server", ["peek_plugin_noop"])
        config["httpServer"]["admin"]["sitePort"] = port
        proc = ServiceProcess("server", tmp_path / "home", config)
        assert proc.proc.wait(20) == 1
    log = proc.log()
    assert "Peek server failed to start" in log and str(port) in log
    assert "peek_plugin_noop server: unload" in log


def test_sigint_stops_gracefully_like_sigterm(tmp_path: Path, upstream: dict[str, Any]) -> None:
    """Ctrl-C (SIGINT) runs the same sequenced shutdown and exits 0."""
    proc = ServiceProcess("agent", tmp_path / "home", service_config("agent", EXAMPLES, upstream))
    proc.wait_log("Peek agent is running")
    proc.signal(signal.SIGINT)
    assert proc.proc.wait(10) == 0
    assert ordered(proc.log(), "peek_plugin_noop agent: stop", "peek_plugin_noop agent: unload",
                   "Peek agent stopped")

"""What an operator sees when a service runs unattended: config errors and start-up failures
reach both the log and stderr, log lines name the service and pid, --help names exit codes."""

import os
import re
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support import BIN, ServiceProcess, free_port

EXIT_START_FAILED = 1
EXIT_CONFIG = 78


def _run(service: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``run_peek_<service>`` with stdout and stderr piped (not a terminal)."""
    return subprocess.run(
        [str(BIN / f"run_peek_{service}"), *args],
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("service", ["server", "agent"])
def test_config_error_is_written_to_the_log_and_stderr(tmp_path: Path, service: str) -> None:
    """A config.json that cannot be parsed is reported on stderr and, since the home is
    writable, also in the service's own log file (created 0600), naming service and pid."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text('{"logging": {"level": "INFO",}}')
    done = subprocess.Popen(
        [str(BIN / f"run_peek_{service}"), "--home", str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _, stderr = done.communicate(timeout=60)
    assert done.returncode == EXIT_CONFIG, stderr
    assert f"run_peek_{service}: config error:" in stderr
    log_file = home / f"peek-{service}.log"
    assert log_file.exists(), "the config error did not reach the service log"
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    log = log_file.read_text()
    assert re.search(
        rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} peek-{service}\[{done.pid}\] ERROR "
        rf"\S+: config error: .*config\.json", log, re.MULTILINE), log


def test_check_config_writes_no_log(tmp_path: Path) -> None:
    """--check-config promises to write nothing: a bad config is reported on stderr only."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text("{ broken")
    done = _run("server", "--home", str(home), "--check-config")
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "config error" in done.stderr
    assert not (home / "peek-server.log").exists()


def test_config_error_in_a_home_that_cannot_hold_a_log_goes_to_stderr_only(
    tmp_path: Path,
) -> None:
    """When the home is not a writable folder the config error is only on stderr, and
    nothing is created in its place."""
    from peek_platform.log_setup import log_before_setup

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert log_before_setup("server", not_a_folder, "config error: x") is None
    missing = tmp_path / "missing"
    assert log_before_setup("server", missing, "config error: x") is None
    assert not missing.exists()
    if os.geteuid() != 0:  # root writes into a 0500 folder anyway
        read_only = tmp_path / "ro"
        read_only.mkdir(mode=0o500)
        assert log_before_setup("server", read_only, "config error: x") is None
        assert list(read_only.iterdir()) == []


def test_port_in_use_reaches_stderr_and_log_lines_name_service_and_pid(
    tmp_path: Path,
) -> None:
    """With stdout not a terminal, a server that cannot bind its port still says why on
    stderr; every log line carries ``peek-server[<pid>]``."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = {
            "plugin": {"enabled": []},
            "httpServer": {"admin": {"sitePort": port}, "platform": {"sitePort": free_port()}},
        }
        proc = ServiceProcess("server", tmp_path / "home", config)
        assert proc.proc.wait(30) == EXIT_START_FAILED
    stderr = proc.stderr()
    assert "Peek server failed to start" in stderr and str(port) in stderr, stderr
    lines = [line for line in proc.log().splitlines() if re.match(r"\d{4}-", line)]
    assert lines
    prefix = f" peek-server[{proc.proc.pid}] "
    assert all(prefix in line for line in lines), lines


@pytest.mark.parametrize("service", ["server", "client", "agent", "worker"])
def test_help_lists_the_exit_codes(service: str) -> None:
    """``--help`` of every service names each exit code it uses and what it means."""
    done = _run(service, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Exit codes:" in text
    for code in ("0", "1", "78"):
        assert re.search(rf"^\s+{code}\s+\S", text, re.MULTILINE), text

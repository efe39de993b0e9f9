"""Finding 10: an unusable config.json ends a real run_peek_* with exit 78 and one line naming
the file (never a traceback), leaves the file as it was, and a read-only one is not rewritten."""

import json
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from peek_platform.config import ServiceConfig
from tests.e2e.devices_data import server_config
from tests.support import BIN, ServiceProcess

EXIT_CONFIG = 78


def _permission_bits_bind() -> list[str]:
    """A command prefix under which permission bits stop this user (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: root reads a 000 file and writes a 0555 "
                    "folder, so an unreadable file or read-only home cannot be produced")
    # Root without the capabilities that override file permissions: a real EACCES.
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def _snapshot(path: Path) -> Any:
    """Type, mode and content of ``path`` (a folder's entries), to prove nothing changed."""
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode):
        return ("dir", stat.S_IMODE(info.st_mode), sorted(os.listdir(path)))
    # Reading needs the override the service lacked; the test process still has it.
    return ("file", stat.S_IMODE(info.st_mode), path.read_bytes())


def _start(service: str, home: Path, *args: str,
           prefix: tuple[str, ...] = ()) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [*prefix, str(BIN / f"run_peek_{service}"), "--home", str(home), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _run(service: str, home: Path, *args: str, prefix: tuple[str, ...] = ()) -> Any:
    return _finish(_start(service, home, *args, prefix=prefix))


def _finish(process: "subprocess.Popen[str]") -> Any:
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _non_utf8(home: Path) -> list[str]:
    (home / "config.json").write_bytes(b'{\n  "logging": {"level": "INF\xe9"}\n}\n')
    return ["line 2 column 28", "not UTF-8 text (byte 0xe9)"]


def _folder(home: Path) -> list[str]:
    (home / "config.json").mkdir()
    (home / "config.json" / "kept.txt").write_text("mine")
    return ["is a folder, not a file"]


def _unreadable(home: Path) -> list[str]:
    (home / "config.json").write_text('{"plugin": {"enabled": []}}\n')
    (home / "config.json").chmod(0)
    return ["cannot be read: Permission denied"]


def _duplicate_key(home: Path) -> list[str]:
    (home / "config.json").write_text(
        '{\n  "plugin": {"enabled": ["peek_plugin_noop"]},\n  "logging": {"level": "INFO"},\n'
        '  "plugin": {"enabled": []}\n}\n')
    return ["line 4 column 3", "duplicate key 'plugin' (first on line 2)"]


def _frame_limit_disabled(home: Path) -> list[str]:
    (home / "config.json").write_text(json.dumps({"vortex": {"maxFrameBytes": 10**23}}))
    return ["vortex.maxFrameBytes must be a whole number from 1024 to 1073741824"]


def _bus_seconds_out_of_range(home: Path) -> list[str]:
    (home / "config.json").write_text(json.dumps(
        {"vortex": {"maxQueuedBytes": 1e9, "helloTimeoutSeconds": 0,
                    "heartbeatSeconds": 30, "heartbeatTimeoutSeconds": 20}}))
    return ["vortex.maxQueuedBytes must be a whole number", "got 1000000000.0",
            "vortex.helloTimeoutSeconds must be a number of seconds from 0.1 to 3600, got 0",
            "vortex.heartbeatTimeoutSeconds (20) must be greater than vortex.heartbeatSeconds"]


CASES: dict[str, tuple[str, Callable[[Path], list[str]], bool]] = {
    # name: (service, make the home, needs permission bits to bind)
    "non-utf8": ("agent", _non_utf8, False),
    "folder": ("client", _folder, False),
    "unreadable": ("agent", _unreadable, True),
    "duplicate-key": ("client", _duplicate_key, False),
    "frame-limit-1e23": ("client", _frame_limit_disabled, False),
    "bus-seconds": ("agent", _bus_seconds_out_of_range, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unusable_config_exits_78_with_one_line_and_leaves_the_file(
        tmp_path: Path, case: str) -> None:
    """--check-config and a real start both exit 78 with a message naming the file and what
    is wrong in it (one line, or one line per invalid key), no traceback, and the file's
    bytes and mode (or the folder in its place) are untouched; the only other file is the
    real start's own log (0600) holding the error."""
    service, make, needs_bits = CASES[case]
    home = tmp_path / "home"
    home.mkdir()
    expected = make(home)
    prefix = tuple(_permission_bits_bind()) if needs_bits else ()
    config = home / "config.json"
    before = _snapshot(config)
    # Both at once (neither may write anything), to keep the test quick.
    runs = [(args, _start(service, home, *args, prefix=prefix))
            for args in (("--check-config",), ())]
    for args, process in runs:
        done = _finish(process)
        assert done.returncode == EXIT_CONFIG, (args, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        first, *rest = done.stderr.strip().splitlines()
        assert first.startswith(f"run_peek_{service}: config error: {config}:"), done.stderr
        assert all(line.startswith("  - ") for line in rest), done.stderr
        for text in expected:
            assert text in done.stderr, (text, done.stderr)
        assert _snapshot(config) == before
    # The real start also wrote the error into its own log, when the home let it (issue 13);
    # nothing else appears in the home.
    log = home / f"peek-{service}.log"
    assert {p.name for p in home.iterdir()} <= {"config.json", log.name}
    if log.exists():
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert f"ERROR peek_platform.log_setup: config error: {config}:" in log.read_text()


def test_read_only_home_that_needs_a_write_back_exits_78(tmp_path: Path) -> None:
    """A start that must add defaults to config.json in a home it may not write exits 78
    with one line naming the file and the folder to fix, and changes nothing."""
    prefix = tuple(_permission_bits_bind())
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.json"
    config.write_text('{"plugin": {"enabled": []}}\n')
    home.chmod(0o555)
    before = _snapshot(config)
    done = _run("client", home, prefix=prefix)
    home.chmod(0o755)
    assert done.returncode == EXIT_CONFIG, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"run_peek_client: config error: {config}: cannot write the missing default settings "
        f"into it (Permission denied); make {home} writable, or add the missing keys by hand "
        "or make the file read-only (then nothing is written)"
    ]
    assert _snapshot(config) == before
    assert sorted(p.name for p in home.iterdir()) == ["config.json"]


def test_read_only_home_with_a_complete_config_exits_78(tmp_path: Path) -> None:
    """A complete config.json in a home the service may not write: exit 78 with one line
    naming the home it cannot create its log file in, not a traceback."""
    prefix = tuple(_permission_bits_bind())
    home = tmp_path / "home"
    ServiceConfig.load("client", home)  # every key written: nothing left to add
    home.chmod(0o555)
    before = _snapshot(home / "config.json")
    done = _run("client", home, prefix=prefix)
    home.chmod(0o755)
    assert done.returncode == EXIT_CONFIG, (done.returncode, done.stderr)
    assert done.stderr.strip().splitlines() == [
        f"run_peek_client: cannot open the log file in {home}: Permission denied"]
    assert _snapshot(home / "config.json") == before
    assert sorted(p.name for p in home.iterdir()) == ["config.json"]


def test_read_only_config_is_not_rewritten_and_the_service_runs_on_defaults(
        tmp_path: Path) -> None:
    """A 0444 config.json missing most keys is honoured: the server starts with the missing
    keys' defaults in memory, says which ones (stderr and log), and the file keeps its bytes
    and mode through the run and a SIGHUP reload."""
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.json"
    wanted = server_config([])
    config.write_text(json.dumps(wanted, indent=2))
    config.chmod(0o444)
    before = _snapshot(config)
    process = ServiceProcess("server", home)
    try:
        process.wait_log("Peek server is running", timeout=60)
        log = process.log()
        assert f"{config} is read-only, so it was not rewritten;" in log
        in_memory = log.split("use their defaults in memory: ")[1].split("\n")[0]
        assert "logging.rotateSizeMb" in in_memory.split(", ")
        assert "httpServer.admin.sitePort" not in in_memory
        process.signal(signal.SIGHUP)
        process.wait_log("SIGHUP: config reloaded")
    finally:
        code = process.stop()
    stderr = process.stderr()
    assert code == 0, stderr
    assert f"run_peek_server: {config} is read-only, so it was not rewritten;" in stderr
    assert "Traceback" not in stderr
    assert _snapshot(config) == before

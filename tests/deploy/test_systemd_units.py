"""The systemd units shipped in docs/deploy: the keys operators rely on, and systemd's own check."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import BIN, REPO

UNITS = REPO / "docs" / "deploy"
SERVICES = ("server", "client", "agent", "worker")


def _entries(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's ``Key=value`` lines by section; a key may repeat (systemd allows it)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a Key=value line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("service", SERVICES)
def test_unit_runs_the_service_hardened(service: str) -> None:
    """Each unit runs its service as peek from its home, restarts it and confines it."""
    unit = _entries(UNITS / f"peek-{service}.service")
    run = unit["Service"]
    home = f"/var/lib/peek/{service}"
    assert run["ExecStart"] == [f"/opt/peek/venv/bin/run_peek_{service} --home {home}"]
    assert (BIN / f"run_peek_{service}").exists(), "ExecStart names a command we do not install"
    expected = {
        "User": ["peek"], "WorkingDirectory": [home], "Restart": ["on-failure"],
        "KillSignal": ["SIGTERM"], "ExecReload": ["/bin/kill -HUP $MAINPID"],
        "NoNewPrivileges": ["yes"], "ProtectSystem": ["strict"], "PrivateTmp": ["yes"],
        "UMask": ["0077"], "RestartPreventExitStatus": ["78"],
    }
    assert {key: run.get(key) for key in expected} == expected
    writable = " ".join(run["ReadWritePaths"]).split()
    assert home in writable, "ProtectSystem=strict leaves the home read-only"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    if service != "server":
        assert "peek-server.service" in unit["Unit"]["After"][0].split()
        assert unit["Unit"]["Requires"] == ["peek-server.service"]


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify`` reports nothing on the four units (commands at this venv)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # verify insists that ExecStart exists: point it at this venv's real console scripts.
    for service in SERVICES:
        text = (UNITS / f"peek-{service}.service").read_text(encoding="utf-8")
        text = text.replace("/opt/peek/venv/bin/", f"{BIN}/")
        (tmp_path / f"peek-{service}.service").write_text(text, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", *(f"peek-{s}.service" for s in SERVICES)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")

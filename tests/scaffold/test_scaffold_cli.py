"""``peek_plugin new``: refused names and destinations (exit 2 with the reason)."""

import subprocess
from pathlib import Path

from tests.support import BIN


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "peek_plugin"), *args], capture_output=True, text=True,
                          timeout=60)


def test_a_name_that_is_not_peek_plugin_identifier_is_refused(tmp_path: Path) -> None:
    """Names without the prefix, with dashes or not identifiers exit 2 naming the rule, and
    write nothing."""
    for name in ("weather", "peek-plugin-weather", "peek_plugin_", "peek_plugin_9x",
                 "peek_plugin_Weather"):
        done = run("new", name, "--dest", str(tmp_path))
        assert done.returncode == 2, (name, done.stderr)
        assert f"plugin name {name!r} is not peek_plugin_<identifier>" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_destination_is_refused_and_kept(tmp_path: Path) -> None:
    """A destination folder that exists exits 2 naming it; its files are untouched."""
    existing = tmp_path / "peek-plugin-weather"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    done = run("new", "peek_plugin_weather", "--dest", str(tmp_path))
    assert done.returncode == 2
    assert f"destination {existing} already exists" in done.stderr
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]


def test_bad_services_are_refused(tmp_path: Path) -> None:
    """Unknown services, a plugin without the server, and --device-ui without the client
    are refused with the reason."""
    cases = {
        ("--services", "server,cleint"): "unknown service(s) cleint",
        ("--services", "client,agent"): "--services must include server",
        ("--services", "server,agent", "--device-ui"): "--device-ui needs the client",
    }
    for args, reason in cases.items():
        done = run("new", "peek_plugin_weather", "--dest", str(tmp_path), *args)
        assert done.returncode == 2 and reason in done.stderr, (args, done.stderr)
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_exit_codes() -> None:
    """``peek_plugin new --help`` says what exit 0 and 2 mean."""
    done = run("new", "--help")
    assert done.returncode == 0
    assert "exit codes: 0 written; 2 bad name" in done.stdout

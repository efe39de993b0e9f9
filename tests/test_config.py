"""config.json: defaults filled and written atomically, edits kept, bad files left untouched."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peek_platform.config import ServiceConfig, resolve_home, settings_for
from peek_platform.errors import ConfigParseError, ConfigValidationError
from tests.support import BIN


@pytest.mark.parametrize("service", ["server", "client", "agent", "worker"])
def test_empty_home_gets_every_default_key(tmp_path: Path, service: str) -> None:
    """A missing config.json is created holding every documented key with its default."""
    config = ServiceConfig.load(service, tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    for setting in settings_for(service):
        node = written
        for part in setting.key.split("."):
            node = node[part]
        expected = setting.default
        if isinstance(expected, str):
            expected = expected.replace("{home}", tmp_path.as_posix())
        assert node == expected, setting.key
        assert config[setting.key] == expected


def test_server_defaults_match_the_documented_ports(tmp_path: Path) -> None:
    """The server listens on 8010 (admin, local only) and 8011 (platform) by default."""
    config = ServiceConfig.load("server", tmp_path)
    assert config["httpServer.admin.sitePort"] == 8010
    assert config["httpServer.admin.bindAddress"] == "127.0.0.1"
    assert config["httpServer.platform.sitePort"] == 8011
    client = ServiceConfig.load("client", tmp_path / "c")
    assert (client["httpServer.mobile.sitePort"], client["httpServer.desktop.sitePort"]) == (
        8000, 8002)
    assert (client["peekServer.host"], client["peekServer.httpPort"]) == ("127.0.0.1", 8011)


def test_user_values_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    """Filling defaults keeps hand-edited values, unknown keys and the user's key order."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "myNotes": {"owner": "ops"},
        "logging": {"level": "DEBUG", "custom": 1},
        "plugin": {"enabled": ["peek_plugin_noop"]},
    }))
    config = ServiceConfig.load("agent", tmp_path)
    written = json.loads(path.read_text())
    assert list(written)[:3] == ["myNotes", "logging", "plugin"]
    assert written["myNotes"] == {"owner": "ops"}
    assert written["logging"]["level"] == "DEBUG"
    assert written["logging"]["custom"] == 1
    assert written["logging"]["rotateSizeMb"] == 20
    assert config["plugin.enabled"] == ["peek_plugin_noop"]


def test_complete_file_is_not_rewritten(tmp_path: Path) -> None:
    """When nothing is missing the file is left exactly as the user wrote it."""
    ServiceConfig.load("worker", tmp_path)
    path = tmp_path / "config.json"
    text = path.read_text().replace("    ", "  ")  # the user's own formatting
    path.write_text(text)
    ServiceConfig.load("worker", tmp_path)
    assert path.read_text() == text


def test_parse_error_names_line_and_column_and_leaves_file(tmp_path: Path) -> None:
    """Malformed JSON raises with file, line and column; the bytes are unchanged."""
    path = tmp_path / "config.json"
    original = b'{\n  "plugin": {\n    "enabled": [,]\n  }\n}\n'
    path.write_bytes(original)
    with pytest.raises(ConfigParseError) as raised:
        ServiceConfig.load("server", tmp_path)
    assert (raised.value.line, raised.value.column) == (3, 17)
    assert str(path) in str(raised.value)
    assert path.read_bytes() == original


def test_every_invalid_value_is_reported_at_once(tmp_path: Path) -> None:
    """All problems are listed together and the file is not written."""
    path = tmp_path / "config.json"
    original = json.dumps({
        "plugin": {"enabled": "peek_plugin_noop"},
        "logging": {"level": "LOUD", "rotateSizeMb": 0},
        "httpServer": {"admin": {"sitePort": 70000}, "platform": "oops"},
    })
    path.write_text(original)
    with pytest.raises(ConfigValidationError) as raised:
        ServiceConfig.load("server", tmp_path)
    problems = "\n".join(raised.value.problems)
    for fragment in ("plugin.enabled", "logging.level", "logging.rotateSizeMb",
                     "httpServer.admin.sitePort",
                     "httpServer.platform must be an object of settings"):
        assert fragment in problems
    assert len(raised.value.problems) == 5
    assert path.read_text() == original


def test_home_from_cli_then_environment_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--home wins over PEEK_<SERVICE>_HOME, which wins over ~/peek-<service>.home."""
    monkeypatch.setenv("PEEK_AGENT_HOME", str(tmp_path / "env"))
    assert resolve_home("agent", str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_home("agent") == tmp_path / "env"
    monkeypatch.delenv("PEEK_AGENT_HOME")
    assert resolve_home("agent") == Path.home() / "peek-agent.home"


def test_command_exits_non_zero_on_malformed_config(tmp_path: Path) -> None:
    """run_peek_server with a malformed file exits 78, names file, line, column; no rewrite."""
    path = tmp_path / "config.json"
    original = b'{"logging": {"level": "INFO",}}'
    path.write_bytes(original)
    done = subprocess.run([str(BIN / "run_peek_server"), "--home", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 78
    assert f"{path}: line 1 column 30" in done.stderr
    assert path.read_bytes() == original


def test_check_config_validates_without_writing(tmp_path: Path) -> None:
    """--check-config reports problems or OK and never creates or changes the file."""
    (tmp_path / "config.json").write_text("{}")
    ok = subprocess.run([str(BIN / "run_peek_agent"), "--home", str(tmp_path), "--check-config"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "OK" in ok.stdout
    assert (tmp_path / "config.json").read_text() == "{}"
    (tmp_path / "config.json").write_text('{"peekServer": {"httpPort": "x"}}')
    bad = subprocess.run([str(BIN / "run_peek_agent"), "--home", str(tmp_path),
                          "--check-config"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 78 and "peekServer.httpPort" in bad.stderr


@pytest.mark.parametrize("service", ["server", "client", "agent", "worker"])
def test_help_lists_options_and_config_keys(service: str) -> None:
    """Every command has --help naming --home, its environment variable and its config keys."""
    done = subprocess.run([str(BIN / f"run_peek_{service}"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "--home" in done.stdout and f"PEEK_{service.upper()}_HOME" in done.stdout
    for setting in settings_for(service):
        assert setting.key in done.stdout


def test_service_runs_as_python_module(tmp_path: Path) -> None:
    """``python -m peek_<service>`` is the same command as ``run_peek_<service>``."""
    (tmp_path / "config.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "peek_worker", "--home", str(tmp_path),
                           "--check-config"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"{tmp_path / 'config.json'}: OK" in done.stdout


def test_the_same_key_in_different_objects_is_not_a_duplicate(tmp_path: Path) -> None:
    """A key may repeat across objects (nested or siblings); only a repeat inside one object
    is refused, located at the repeat even when a nested object uses the name first."""
    path = tmp_path / "config.json"
    path.write_text('{"logging": {"level": "INFO"}, "myNotes": {"level": 1, "x": {"level": 2}}}')
    assert ServiceConfig.load("agent", tmp_path)["logging.level"] == "INFO"
    original = '{"myNotes": {"level": 1},\n "logging": {"x": {"level": 2},\n  "level": "INFO",\n' \
               '  "level": "DEBUG"}}\n'
    path.write_text(original)
    with pytest.raises(ConfigParseError) as raised:
        ServiceConfig.load("agent", tmp_path)
    assert (raised.value.line, raised.value.column) == (4, 3)
    assert "duplicate key 'level' (first on line 3)" in str(raised.value)
    assert path.read_text() == original


def test_bus_limits_are_range_checked_together(tmp_path: Path) -> None:
    """Sizes must be whole numbers within 1 KiB..1 GiB, seconds within 0.1..3600, and the
    heartbeat timeout must exceed the interval; every problem is listed at once."""
    (tmp_path / "config.json").write_text(json.dumps({"vortex": {
        "maxFrameBytes": 2 ** 31, "maxDecompressedBytes": 4096.0,
        "heartbeatSeconds": 5, "heartbeatTimeoutSeconds": 5}}))
    with pytest.raises(ConfigValidationError) as raised:
        ServiceConfig.load("client", tmp_path)
    problems = raised.value.problems
    assert [p.split(" ")[0] for p in problems] == [
        "vortex.maxFrameBytes", "vortex.maxDecompressedBytes", "vortex.heartbeatTimeoutSeconds"]

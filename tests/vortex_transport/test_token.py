"""The platform token file and the bus settings in config.json."""

import json
import stat
from pathlib import Path

import pytest

from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError, VortexTokenError
from peek_platform.vortex.platform_token import (
    TOKEN_FILE_NAME,
    ensure_server_token,
    find_service_token,
)
from peek_platform.vortex.wiring import limits_from_config


def _config(service: str, home: Path, values: dict) -> ServiceConfig:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps(values))
    return ServiceConfig.load(service, home)


def test_server_creates_private_token_once(tmp_path: Path) -> None:
    """The first start writes a 0600 token file; later starts reuse the same token."""
    home = tmp_path / "server"
    token = ensure_server_token(home)
    path = home / TOKEN_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 32
    assert ensure_server_token(home) == token


def test_loose_token_file_is_tightened(tmp_path: Path) -> None:
    """A token file readable by others is set back to 0600."""
    token = ensure_server_token(tmp_path)
    (tmp_path / TOKEN_FILE_NAME).chmod(0o644)
    assert ensure_server_token(tmp_path) == token
    assert stat.S_IMODE((tmp_path / TOKEN_FILE_NAME).stat().st_mode) == 0o600


def test_service_finds_token_in_default_server_home(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With no token settings, an agent reads the token from the server's default home."""
    server_home = tmp_path / "server-home"
    monkeypatch.setenv("PEEK_SERVER_HOME", str(server_home))
    config = _config("agent", tmp_path / "agent", {})
    with pytest.raises(VortexTokenError, match="start peek-server once"):
        find_service_token(config)
    token = ensure_server_token(server_home)
    assert find_service_token(config) == token


def test_configured_token_and_file_win(tmp_path: Path) -> None:
    """peekServer.token is used as is; otherwise peekServer.tokenFile is read."""
    token = ensure_server_token(tmp_path / "remote")
    by_file = _config("worker", tmp_path / "w1",
                      {"peekServer": {"tokenFile": str(tmp_path / "remote" / TOKEN_FILE_NAME)}})
    assert find_service_token(by_file) == token
    inline = _config("worker", tmp_path / "w2", {"peekServer": {"token": "z" * 20}})
    assert find_service_token(inline) == "z" * 20


def test_bus_settings_are_validated(tmp_path: Path) -> None:
    """Short tokens, zero limits and non-numeric timeouts are each reported."""
    with pytest.raises(ConfigValidationError) as caught:
        _config("agent", tmp_path / "bad", {
            "peekServer": {"token": "short", "reconnectMaxSeconds": 0},
            "vortex": {"maxFrameBytes": 0, "heartbeatSeconds": "often"},
        })
    problems = "\n".join(caught.value.problems)
    for key in ("peekServer.token", "peekServer.reconnectMaxSeconds", "vortex.maxFrameBytes",
                "vortex.heartbeatSeconds"):
        assert key in problems


def test_limits_follow_config(tmp_path: Path) -> None:
    """vortex.* settings become the connection limits."""
    config = _config("server", tmp_path, {"vortex": {"maxFrameBytes": 4096,
                                                     "heartbeatSeconds": 2.5}})
    limits = limits_from_config(config)
    assert limits.max_frame_bytes == 4096 and limits.heartbeat_seconds == 2.5

"""``twisted.reactor``: the services run on the asyncio reactor by default, on Twisted's own
when configured, and refuse an unknown value with the exit code for a bad config."""

from pathlib import Path

from tests.support import ServiceProcess, free_port


def server_config(**extra: object) -> dict[str, object]:
    """A server with no plugins on free ports."""
    return {"plugin": {"enabled": ["peek_plugin_noop"]},
            "httpServer": {"admin": {"sitePort": free_port()},
                           "platform": {"sitePort": free_port()}}, **extra}


def test_server_runs_on_the_asyncio_reactor_by_default(tmp_path: Path) -> None:
    """Without the key the server logs and runs on the asyncio reactor."""
    server = ServiceProcess("server", tmp_path / "home", server_config())
    try:
        server.wait_log("Peek server is running", timeout=60)
        assert "Twisted reactor: asyncio" in server.log()
    finally:
        assert server.stop(timeout=30) == 0


def test_server_runs_on_the_default_reactor_when_configured(tmp_path: Path) -> None:
    """``twisted.reactor: "default"`` runs the server and its plugins on the epoll reactor."""
    server = ServiceProcess("server", tmp_path / "home",
                            server_config(twisted={"reactor": "default"}))
    try:
        server.wait_log("Peek server is running", timeout=60)
        log = server.log()
        assert "Twisted reactor: default" in log and "Plugin peek_plugin_noop started" in log
    finally:
        assert server.stop(timeout=30) == 0


def test_unknown_reactor_is_a_config_error(tmp_path: Path) -> None:
    """An unknown reactor name exits 78 naming the key and the allowed values."""
    server = ServiceProcess("server", tmp_path / "home",
                            server_config(twisted={"reactor": "uvloop"}))
    assert server.proc.wait(timeout=60) == 78
    err = server.stderr()
    assert "twisted.reactor" in err and "asyncio" in err and "default" in err

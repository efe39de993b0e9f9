"""One setting, the server's home, lets client, agent and worker in homes of their own find
the platform token, the server's database and the embedded broker; a missing token is
reported at WARNING again and again while it lasts."""

import logging
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from peek_platform.errors import VortexTokenError
from peek_vortex.transport import Backoff, VortexClientService
from tests.e2e.devices_data import server_config, start_service
from tests.support import free_port

TIMEOUT = 60.0


def test_services_in_their_own_homes_find_the_server_by_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Server in one folder, worker, client and agent each in an unrelated one, and nothing
    but PEEK_SERVER_HOME naming the server's home (no token file, database URL or broker
    folder configured): all three connect to the server, and the worker runs the tutorial's
    database task on the server's database through the server's embedded broker."""
    server_home = tmp_path / "a" / "srv"
    server = server_config(["peek_plugin_tutorial"])
    port = server["httpServer"]["platform"]["sitePort"]
    monkeypatch.setenv("PEEK_SERVER_HOME", str(server_home))
    cleanups: list = []
    try:
        started = start_service("server", server_home, server, cleanups.append)
        upstream = {"httpPort": port, "reconnectInitialSeconds": 0.2, "reconnectMaxSeconds": 1}
        homes = {name: tmp_path / name / "home" for name in ("worker", "client", "agent")}
        processes = {
            "worker": start_service("worker", homes["worker"], {
                "plugin": {"enabled": ["peek_plugin_tutorial"]}, "peekServer": upstream,
                "celery": {"worker": {"pool": "solo", "concurrency": 1}}}, cleanups.append),
            "client": start_service("client", homes["client"], {
                "peekServer": upstream, "httpServer": {
                    "mobile": {"sitePort": free_port()},
                    "desktop": {"sitePort": free_port()}}}, cleanups.append),
            "agent": start_service("agent", homes["agent"], {"peekServer": upstream},
                                   cleanups.append),
        }
        for process in processes.values():
            process.wait_log("connected to peek-server", TIMEOUT)
        # The tutorial's server queued its tasks at start; the worker reads pl_tutorial
        # (which only the server's migrated database has) for the third.
        started.wait_log("Worker task totalStringInts returned 0", TIMEOUT)
        assert f"{server_home / 'peek.sqlite'} (never migrated here)" in processes[
            "worker"].log()
        assert (tmp_path / "a" / "peek-celery" / "broker.sqlite").exists()
        for home in homes.values():
            assert not (home.parent / "peek-celery").exists()
    finally:
        for stop in reversed(cleanups):
            stop()


def test_a_missing_token_is_warned_about_periodically(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the platform token cannot be found, every retry logs the reason, at WARNING
    once a minute (not only the first time) and at DEBUG in between."""
    def no_token() -> str:
        raise VortexTokenError("no platform token: /nowhere/platform.token does not exist")

    clock = Clock()
    service = VortexClientService("vortex", "ws://127.0.0.1:1/vortexws", "peek-agent",
                                  token=no_token, clock=clock,
                                  backoff=Backoff(initial=1, maximum=1, rand=lambda: 1.0))
    logger = "peek_vortex.transport._client"
    with caplog.at_level(logging.DEBUG, logger=logger):
        service.startService()
        for _ in range(130):
            clock.advance(1)
        service.stopService()
    # One attempt per second, at t = 0, 1, ... 130.
    lines = [r for r in caplog.records if "no platform token" in r.getMessage()]
    assert len(lines) == 131
    assert [t for t, r in enumerate(lines) if r.levelno == logging.WARNING] == [0, 60, 120]
    assert all(r.levelno == logging.DEBUG for r in lines if r.levelno != logging.WARNING)

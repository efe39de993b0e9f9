"""The worker and server processes as a user runs them: config, tutorial task end to end."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError
from tests.support import REPO, free_port, wait_for, write_plugin
from tests.worker.support import make_broker


def _write_config(home: Path, config: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps(config, indent=2))


def _run(service: str, home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", f"peek_{service}", "--home", str(home)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


@pytest.mark.parametrize("kind", ["embedded", "redis"])
def test_tutorial_task_end_to_end(kind: str, tmp_path: Path,
                                  request: pytest.FixtureRequest) -> None:
    """With nothing configured but the plugin (embedded broker), or with both services'
    celery URLs pointing at Redis, the tutorial's server asks the worker to add and total
    numbers and logs the answers; both exit 0 on SIGTERM."""
    run_dir = tmp_path / "run"
    server_home, worker_home = run_dir / "peek-server.home", run_dir / "peek-worker.home"
    plugins = {"enabled": ["peek_plugin_tutorial"]}
    celery: dict = {}
    if kind == "redis":
        broker = make_broker(kind, tmp_path, request)
        celery = {"brokerUrl": broker.broker_url, "resultUrl": broker.result_url,
                  "taskQueue": broker.queue}
    _write_config(server_home, {"plugin": plugins, "celery": celery, "httpServer": {
        "admin": {"sitePort": free_port()}, "platform": {"sitePort": free_port()}}})
    _write_config(worker_home, {"plugin": plugins, "celery": celery})
    server_log, worker_log = server_home / "peek-server.log", worker_home / "peek-worker.log"

    worker = _run("worker", worker_home)
    server = _run("server", server_home)
    try:
        def answered() -> bool:
            text = server_log.read_text() if server_log.exists() else ""
            assert "Traceback" not in text, text
            return "totalList([1, 2, 3.5]) returned 6.5" in text

        wait_for(answered, 60, "the tutorial's task results in the server log")
        assert "addNumbers(7, 5) returned 12" in server_log.read_text()
        # Embedded: both found the same folder, a sibling of the homes.
        assert (run_dir / "peek-celery" / "broker.sqlite").exists() == (kind == "embedded")
    finally:
        assert _stop(server) == 0
        assert _stop(worker) == 0
    assert "Plugin peek_plugin_tutorial unloaded" in worker_log.read_text()
    # No plugin declares asyncio: both run Twisted's own (faster) reactor, and say why.
    for service, log in (("worker", worker_log), ("server", server_log)):
        assert ('Twisted reactor: default (twisted.reactor is "auto" and no enabled plugin '
                f'of the {service} service declares "asyncio": true)') in log.read_text()
    assert "Peek worker: the bus thread runs the default reactor" in worker_log.read_text()


def test_worker_runs_the_asyncio_reactor_for_a_plugin_declaring_it(tmp_path: Path) -> None:
    """A worker plugin declaring ``"asyncio": true`` makes the worker (auto) choose the
    asyncio reactor before its pool forks and install it in its bus thread."""
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    write_plugin(plugins_dir, "fx_rx_worker_async", services=("worker",), asyncio=True)
    home = tmp_path / "run" / "peek-worker.home"
    _write_config(home, {"plugin": {"enabled": ["fx_rx_worker_async"]}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins_dir), str(REPO)])}
    worker = subprocess.Popen(
        [sys.executable, "-m", "peek_worker", "--home", str(home)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
    )
    log = home / "peek-worker.log"
    try:
        wait_for(lambda: log.exists() and "the bus thread runs the" in log.read_text(), 90,
                 "the worker's bus thread")
        text = log.read_text()
        assert ('Twisted reactor: asyncio (twisted.reactor is "auto" and fx_rx_worker_async '
                'declares "asyncio": true)') in text
        assert "Plugin fx_rx_worker_async started" in text
        assert "Peek worker: the bus thread runs the asyncio reactor" in text
    finally:
        assert _stop(worker) == 0


def test_celery_settings_are_validated_all_at_once(tmp_path: Path) -> None:
    """Every invalid celery.* value is reported together, naming the key."""
    _write_config(tmp_path, {"celery": {
        "brokerUrl": "mysql://nope", "resultUrl": "rpc://", "worker": {
            "pool": "gevent", "concurrency": -1, "prefetchMultiplier": 0,
            "softTimeLimitSeconds": "ten"}}})
    with pytest.raises(ConfigValidationError) as raised:
        ServiceConfig.load("worker", tmp_path)
    text = str(raised.value)
    for key in ("celery.brokerUrl", "celery.resultUrl", "celery.worker.pool",
                "celery.worker.concurrency", "celery.worker.prefetchMultiplier",
                "celery.worker.softTimeLimitSeconds"):
        assert key in text
    assert len(raised.value.problems) == 6


def test_soft_limit_must_be_below_hard_limit(tmp_path: Path) -> None:
    """run_peek_worker exits 78 (EX_CONFIG) when the soft time limit is not below the hard."""
    _write_config(tmp_path, {"celery": {"worker": {
        "softTimeLimitSeconds": 30, "hardTimeLimitSeconds": 10}}})
    config = ServiceConfig.load("worker", tmp_path)
    with pytest.raises(ConfigValidationError, match="softTimeLimitSeconds"):
        CelerySettings.from_config(config)
    done = subprocess.run([sys.executable, "-m", "peek_worker", "--home", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 78
    assert "hardTimeLimitSeconds" in done.stderr


def test_defaults_give_the_embedded_broker_and_server_shares_broker_keys(tmp_path: Path) -> None:
    """A fresh config uses the embedded broker in a sibling folder of the home; the server
    reads the same broker keys but not the worker-only ones."""
    worker = CelerySettings.from_config(ServiceConfig.load("worker", tmp_path / "w.home"))
    server_config = ServiceConfig.load("server", tmp_path / "s.home")
    server = CelerySettings.from_config(server_config)
    assert worker.broker_embedded and worker.result_embedded
    assert worker.embedded_dir == server.embedded_dir == tmp_path / "peek-celery"
    assert "worker" not in server_config.data["celery"]


def test_server_starts_task_caller_before_plugins(tmp_path: Path) -> None:
    """The server's tree starts the task caller before the plugins (so plugins can queue
    tasks from start()) and therefore stops it after them."""
    from peek_server.main import build

    config = ServiceConfig.load("server", tmp_path)
    names = [service.name for service in build(config)]
    assert names.index("worker-tasks") == names.index("plugins") - 1

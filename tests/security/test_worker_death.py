"""Finding 7: a worker killed mid-task never leaves its caller waiting forever.

A real ``run_peek_worker`` process group is SIGKILLed while it runs a task, with the
server's task caller (on the server's config.json) waiting for the result. A default
(at-most-once) task is lost with its worker, so its caller gets a clear error once the
configured task timeout passes; a late-ack (at-least-once) task is redelivered one short
lease after its worker died, and never while the worker lives and renews its lease.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_plugin_base.worker.errors import WorkerTaskError
from tests.redis_db import ClaimedRedisDb, claim_redis_db
from tests.support import wait_for
from tests.worker.support import AMQP_URL, TASKS, Broker, CallerStack, WorkerProcess

#: The server's task timeout in these tests (celery.taskTimeoutSeconds).
TASK_TIMEOUT = 3
#: The brokers' lease on reserved messages (celery.visibilityTimeoutSeconds).
LEASE = 2.0
#: How long a waiting caller or a redelivery may take before the test calls it a hang.
BOUND = 15.0


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _require(available: bool, what: str) -> None:
    """Skip without ``what``; under CI (``$CI`` set) fail instead."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not available")
    pytest.skip(f"{what} is not available")


def _port_open(url: str) -> bool:
    import socket

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def claimed_redis() -> Iterator[ClaimedRedisDb]:
    """An empty Redis database this module claimed (tests/redis_db.py)."""
    yield from claim_redis_db()


@pytest.fixture
def redis_db(claimed_redis: ClaimedRedisDb) -> Iterator[str]:
    """This module's own Redis database, empty before and after the test."""
    claimed_redis.reset()
    yield claimed_redis.url
    claimed_redis.reset()


@pytest.fixture
def rabbitmq_vhost() -> Iterator[str]:
    """A RabbitMQ virtual host of the test's own (guest may use it); deleted afterwards."""
    _require(_port_open(AMQP_URL) and shutil.which("rabbitmqctl") is not None,
             "RabbitMQ (with rabbitmqctl)")
    vhost = f"peek-security-{uuid.uuid4().hex[:10]}"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run([*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        parts = urlsplit(AMQP_URL)
        yield f"{parts.scheme}://{parts.netloc}/{vhost}"
    finally:
        subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


def _broker(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Broker:
    queue = f"peek-security-{uuid.uuid4().hex[:10]}"
    embedded_dir = tmp_path / "peek-celery"
    if kind == "embedded":
        broker = Broker(kind, "embedded", "embedded", queue, embedded_dir)
    elif kind == "redis":
        redis = request.getfixturevalue("redis_db")
        broker = Broker(kind, redis, redis, queue, embedded_dir)
    else:
        amqp = request.getfixturevalue("rabbitmq_vhost")
        broker = Broker(kind, amqp, "embedded", queue, embedded_dir)
    broker.visibility_timeout = LEASE
    return broker


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; any still running are killed afterwards."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.cleanup()


def _start_worker(broker: Broker, home: Path, started: list[WorkerProcess]) -> WorkerProcess:
    worker = WorkerProcess(home, broker)
    started.append(worker)
    return worker.start(wait_ready=False)


def _server_caller(broker: Broker, home: Path, **celery: object) -> CallerStack:
    """The server's task caller, configured from a server config.json."""
    section = {key: value for key, value in broker.celery_config().items() if key != "worker"}
    home.mkdir(parents=True)
    (home / "config.json").write_text(json.dumps({"celery": {**section, **celery}}))
    return CallerStack.start(CelerySettings.from_config(ServiceConfig.load("server", home)))


def test_default_task_of_a_killed_worker_fails_its_caller_after_the_task_timeout(
    tmp_path: Path, request: pytest.FixtureRequest, workers: list[WorkerProcess],
) -> None:
    """A default task whose worker is killed (the whole process group) mid-task is lost;
    the caller does not wait forever but gets a WorkerTaskError naming the task, its id and
    the configured timeout (celery.taskTimeoutSeconds) once that timeout has passed."""
    broker = _broker("embedded", tmp_path, request)
    worker = _start_worker(broker, tmp_path / "worker", workers)
    worker.wait_log(" ready.", 30)
    stack = _server_caller(broker, tmp_path / "server", taskTimeoutSeconds=TASK_TIMEOUT)
    request.addfinalizer(stack.stop)
    started, release = tmp_path / "started", tmp_path / "release"

    queued_at = time.monotonic()
    result = stack.defer("block", str(started), str(release))
    wait_for(started.exists, 20, "the task to start")
    worker.kill()

    with pytest.raises(WorkerTaskError) as raised:
        stack.pump.wait(result, timeout=TASK_TIMEOUT + BOUND)
    waited = time.monotonic() - queued_at
    error = raised.value
    assert error.task_name == f"{TASKS}.block"
    assert error.task_id and error.task_id in str(error)
    assert f"no result within {TASK_TIMEOUT}s" in str(error)
    assert f"{TASKS}.block" in str(error)
    assert waited >= TASK_TIMEOUT
    assert stack.caller.pending_count == 0


@pytest.mark.parametrize("kind", ["embedded", "redis", "rabbitmq"])
def test_late_ack_task_of_a_killed_worker_is_redelivered_within_a_lease(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, workers: list[WorkerProcess],
) -> None:
    """With two workers up, a late-ack task stays with the worker running it for longer than
    the lease (the worker renews it), and when that worker's process group is SIGKILLed
    the other worker runs it again within about one lease, not after an hour; the caller
    gets the result and the idempotent task applies its effect once."""
    broker = _broker(kind, tmp_path, request)
    pair = [_start_worker(broker, tmp_path / f"worker-{n}", workers) for n in (1, 2)]
    for worker in pair:
        worker.wait_log(" ready.", 30)
    stack = _server_caller(broker, tmp_path / "server")
    request.addfinalizer(stack.stop)
    db, applied, release = tmp_path / "ledger.db", tmp_path / "applied", tmp_path / "release"

    result = stack.defer("credit_ledger", str(db), 5, str(applied), str(release))
    wait_for(lambda: len(_lines(applied)) == 1, 20, "the first delivery to apply its effect")
    delivered_at = time.monotonic()
    # Holding the task past its lease: a worker that lives keeps it.
    wait_for(lambda: time.monotonic() - delivered_at > LEASE + 1, 10, "the lease to pass")
    assert len(_lines(applied)) == 1, "redelivered while its worker was alive"

    running = {str(w.proc.pid): w for w in pair if w.proc is not None}
    first_pid = _lines(applied)[0]
    running[first_pid].kill()
    wait_for(lambda: len(_lines(applied)) == 2, BOUND,
             f"the task to be redelivered within {BOUND}s of its worker's death")
    release.touch()

    assert stack.pump.wait(result, timeout=BOUND) == 5
    assert _lines(applied)[1] != first_pid
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT balance FROM ledger").fetchone()[0] == 5

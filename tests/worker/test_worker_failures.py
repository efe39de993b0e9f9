"""Crashes, outages and hostile messages: what survives, what is refused, what runs once."""

import pickle
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from peek_plugin_base.worker.errors import TaskBrokerUnavailableError
from tests.support import wait_for
from tests.worker.support import (
    TASKS,
    Broker,
    StartCaller,
    StartWorker,
    TcpProxy,
    make_broker,
)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize("kind", ["embedded", "redis", "rabbitmq"])
def test_killed_worker_redelivers_late_ack_task_and_effect_happens_once(
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    start_worker: StartWorker,
    start_caller: StartCaller,
) -> None:
    """A late-ack task whose worker is SIGKILLed after applying its effect runs again on the
    next worker, and the idempotent pattern (task id recorded with the effect) applies the
    effect once; the caller's Deferred gets the second run's result."""
    broker = make_broker(kind, tmp_path, request)
    broker.visibility_timeout = 2.0
    first = start_worker(broker)
    stack = start_caller(broker)
    db, applied, release = tmp_path / "ledger.db", tmp_path / "applied", tmp_path / "release"

    result = stack.defer("credit_ledger", str(db), 5, str(applied), str(release))
    wait_for(lambda: len(_lines(applied)) == 1, 20, "the first delivery to apply its effect")
    first.kill()
    killed_at = time.monotonic()
    if kind != "rabbitmq":
        # Redis and the embedded broker hand an unacknowledged message out again once its
        # visibility timeout ends (RabbitMQ does as soon as the connection drops).
        wait_for(lambda: time.monotonic() - killed_at > broker.visibility_timeout + 0.2,
                   10, "the visibility timeout")
    second = start_worker(broker)
    wait_for(lambda: len(_lines(applied)) == 2, 30, "the redelivered task to run")
    release.touch()

    assert stack.pump.wait(result) == 5
    attempts = _lines(applied)
    assert attempts[0] != attempts[1]  # two different worker processes ran it
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT balance FROM ledger").fetchone()[0] == 5
    assert second.terminate() == 0


def test_caller_survives_the_broker_going_away(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    start_worker: StartWorker,
    start_caller: StartCaller,
) -> None:
    """With Redis unreachable, queueing fails at once with TaskBrokerUnavailableError; when it
    returns, new tasks work again and a result stored during the outage is still delivered."""
    import redis

    broker = make_broker("redis", tmp_path, request)
    parts = urlsplit(broker.broker_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    proxy.start()
    request.addfinalizer(proxy.stop)
    proxied = f"redis://127.0.0.1:{proxy.port}{parts.path}"
    start_worker(broker)  # the worker talks to Redis directly
    stack = start_caller(broker, broker_url=proxied, result_url=proxied)
    assert stack.call("add", 1, 2) == 3

    started, release = tmp_path / "started", tmp_path / "release"
    in_flight = stack.defer("block", str(started), str(release))
    wait_for(started.exists, 20, "the blocking task to start")

    proxy.stop()
    began = time.monotonic()
    with pytest.raises(TaskBrokerUnavailableError, match="unreachable"):
        stack.call("add", 1, 1, timeout=20)
    assert time.monotonic() - began < 10

    release.touch()
    direct = redis.Redis.from_url(broker.broker_url)
    wait_for(lambda: any(b"released" in (direct.get(k) or b"")
                           for k in direct.keys("celery-task-meta-*")),
               20, "the worker to store the result while the caller is cut off")
    direct.close()

    proxy.start()
    assert stack.pump.wait(in_flight, timeout=30) == "released"
    assert stack.call("add", 2, 2, timeout=20) == 4


class _Unpickled:
    """Unpickling this creates a file: proof that a worker decoded pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_pickle_message_is_refused(
    broker: Broker,
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
) -> None:
    """A pickle-encoded task message on the queue is refused without being unpickled, and the
    worker carries on with JSON tasks."""
    worker = start_worker(broker)
    stack = start_caller(broker)
    proof = tmp_path / "unpickled"

    with stack.app.producer_or_acquire() as producer:
        producer.publish(
            pickle.dumps(_Unpickled(str(proof))),
            exchange=broker.queue,
            routing_key=broker.queue,
            declare=[stack.app.amqp.queues[broker.queue]],
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"lang": "py", "task": f"{TASKS}.add", "id": "pickled-1"},
        )
    worker.wait_log("untrusted content", 20)
    assert stack.call("add", 2, 2) == 4
    assert not proof.exists()


def test_peek_task_refuses_non_json_serializers() -> None:
    """Declaring a task with the pickle serializer is refused at declaration."""
    from peek_plugin_base.worker.CeleryApp import peekTask

    with pytest.raises(ValueError, match="JSON only"):
        peekTask(serializer="pickle")


def test_sigterm_to_the_whole_process_group_exits_cleanly(
    broker: Broker,
    start_worker: StartWorker,
    start_caller: StartCaller,
) -> None:
    """SIGTERM sent to the worker and its pool processes at once (as systemd and `timeout`
    do) still ends in a clean exit 0 with the plugins stopped, on every broker."""
    import os
    import signal

    worker = start_worker(broker, pool="prefork", concurrency=2)
    stack = start_caller(broker)
    assert stack.call("add", 1, 1) == 2
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGTERM)
    assert worker.proc.wait(30) == 0
    steps = [line.split()[0] for line in worker.lifecycle_path.read_text().splitlines()]
    assert steps[-2:] == ["stop", "unload"]

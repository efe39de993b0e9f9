"""Fixtures: a broker per test (embedded, Redis db, RabbitMQ queue), workers, callers."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.worker.support import (
    AMQP_URL,
    REDIS_URL,
    Broker,
    CallerStack,
    WorkerProcess,
    port_open,
)


def _require_server(url: str, name: str) -> None:
    parts = urlsplit(url)
    if port_open(parts.hostname or "127.0.0.1", parts.port or 0):
        return
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, flushed before and after the test."""
    _require_server(REDIS_URL, "Redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


def _delete_amqp_queue(queue: str) -> None:
    from kombu import Connection

    with Connection(AMQP_URL, connect_timeout=5) as conn:
        for method in ("queue_delete", "exchange_delete"):
            try:
                getattr(conn.channel(), method)(queue)
            except Exception:  # noqa: BLE001 - already gone
                pass


def make_broker(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Broker:
    """A fresh broker of ``kind`` for one test (cleaned up by the test's finalizers)."""
    queue = f"peek-test-{uuid.uuid4().hex[:10]}"
    embedded_dir = tmp_path / "peek-celery"
    if kind == "embedded":
        return Broker(kind, "embedded", "embedded", queue, embedded_dir)
    redis = request.getfixturevalue("redis_url")
    if kind == "redis":
        return Broker(kind, redis, redis, queue, embedded_dir)
    assert kind == "rabbitmq"
    _require_server(AMQP_URL, "RabbitMQ")
    request.addfinalizer(lambda: _delete_amqp_queue(queue))
    return Broker(kind, AMQP_URL, redis, queue, embedded_dir)


@pytest.fixture(params=["embedded", "redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Broker:
    """Each broker the platform supports: embedded SQLite, Redis, RabbitMQ (+ Redis results)."""
    return make_broker(request.param, tmp_path, request)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts ``run_peek_worker`` subprocesses; any still running are killed afterwards."""
    workers: list[WorkerProcess] = []

    def start(broker: Broker, wait_ready: bool = True, **worker_config: Any) -> WorkerProcess:
        worker = WorkerProcess(tmp_path / f"worker-{len(workers)}", broker, worker_config)
        workers.append(worker)
        return worker.start(wait_ready)

    yield start
    for worker in workers:
        worker.cleanup()


@pytest.fixture
def start_caller() -> Iterator[Callable[..., CallerStack]]:
    """Starts in-process task callers (as the server runs); stopped afterwards."""
    stacks: list[CallerStack] = []

    def start(broker: Broker, **urls: str) -> CallerStack:
        stack = CallerStack.start(broker.settings(**urls))
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()

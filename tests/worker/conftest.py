"""Fixtures: a broker per test (embedded, Redis db, RabbitMQ queue), workers, callers."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.worker.support import (
    REDIS_URL,
    Broker,
    CallerStack,
    WorkerProcess,
    make_broker,
    require_server,
)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, flushed before and after the test."""
    require_server(REDIS_URL, "Redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


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

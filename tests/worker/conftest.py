"""Fixtures: a broker per test (embedded, own Redis db, RabbitMQ queue), workers, callers."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_db import ClaimedRedisDb, claim_redis_db
from tests.worker.support import Broker, CallerStack, WorkerProcess, make_broker


@pytest.fixture(scope="session")
def claimed_redis() -> Iterator[ClaimedRedisDb]:
    """An empty Redis database this run claimed (tests/redis_db.py)."""
    yield from claim_redis_db()


@pytest.fixture
def redis_url(claimed_redis: ClaimedRedisDb) -> Iterator[str]:
    """The run's own Redis database, emptied before and after the test."""
    claimed_redis.reset()
    yield claimed_redis.url
    claimed_redis.reset()


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

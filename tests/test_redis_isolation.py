"""The test suite uses only the Redis database it claimed: keys in every other database (and
in a database it was pointed at that is not empty) survive a run of the Redis worker tests."""

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis

from tests.redis_db import (
    CANDIDATE_DBS,
    DEFAULT_REDIS_SERVER,
    MARKER,
    REDIS_URL_ENV_VAR,
    _require,
    claim_redis_db,
)
from tests.support import REPO, free_port

ALL_DBS = range(16)
#: One quick test that runs a real worker on Redis (its broker and its results).
REDIS_WORKER_TEST = "tests/worker/test_worker_tasks.py::test_results_and_remote_failures[redis]"


def _server() -> str:
    """The Redis server the tests use, without a database number."""
    parts = urlsplit(os.environ.get(REDIS_URL_ENV_VAR, DEFAULT_REDIS_SERVER))
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def clients() -> Iterator[dict[int, redis.Redis]]:
    """A client on each of Redis' databases 0-15 (skip, or fail under CI, without Redis)."""
    server = _server()
    parts = urlsplit(server)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=2).close()
    except OSError as e:
        _require(False, f"Redis is not reachable at {server}: {e}")
    opened = {db: redis.Redis.from_url(f"{server}/{db}") for db in ALL_DBS}
    yield opened
    for client in opened.values():
        client.close()


def _place_sentinels(clients: dict[int, redis.Redis], dbs: list[int]) -> dict[int, str]:
    """One key of this test in each of ``dbs``; returns {db: key}. They expire on their own
    should this test be killed before it removes them."""
    keys = {}
    for db in dbs:
        key = f"peek-isolation-sentinel:{uuid.uuid4().hex}"
        clients[db].set(key, f"db{db}", ex=600)
        keys[db] = key
    return keys


def _surviving(clients: dict[int, redis.Redis], keys: dict[int, str]) -> dict[int, bool]:
    return {db: clients[db].get(key) == f"db{db}".encode()
            for db, key in keys.items()}


def _pytest(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``args`` in a child process with its own environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", REDIS_URL_ENV_VAR)}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )


def test_worker_tests_leave_every_other_redis_database_as_they_found_it(
    clients: dict[int, redis.Redis],
) -> None:
    """With keys of someone else in every database but one, the Redis worker tests (under
    CI, so they cannot skip) claim that one empty database, and afterwards every other
    database still holds its key and the claimed one is empty again."""
    free = [db for db in CANDIDATE_DBS if clients[db].dbsize() == 0]
    _require(bool(free), "no empty Redis database among 1-15 for this test")
    keys = _place_sentinels(clients, [db for db in ALL_DBS if db != free[0]])
    try:
        done = _pytest({"CI": "1", REDIS_URL_ENV_VAR: _server()}, REDIS_WORKER_TEST)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 passed" in done.stdout, done.stdout
        assert all(_surviving(clients, keys).values()), _surviving(clients, keys)
        assert clients[free[0]].dbsize() == 0
    finally:
        for db, key in keys.items():
            clients[db].delete(key)


def _claim_outcome(monkeypatch: pytest.MonkeyPatch, url: str, ci: bool) -> str:
    """What claiming a Redis database at ``url`` does: the skip or failure message."""
    monkeypatch.setenv(REDIS_URL_ENV_VAR, url)
    if ci:
        monkeypatch.setenv("CI", "1")
    else:
        monkeypatch.delenv("CI", raising=False)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected) as outcome:
        next(claim_redis_db())
    return str(outcome.value)


def test_a_database_holding_keys_is_refused_not_flushed(
    clients: dict[int, redis.Redis], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pointed at a database that holds somebody's keys, the Redis tests refuse it (a skip
    locally, a failure under CI, naming it), and the keys are still there."""
    db = CANDIDATE_DBS[0]
    keys = _place_sentinels(clients, [db])
    try:
        url = f"{_server()}/{db}"
        for ci in (False, True):
            message = _claim_outcome(monkeypatch, url, ci)
            assert f"no empty Redis database to use at {url}" in message
        assert _surviving(clients, keys) == {db: True}
        assert clients[db].dbsize() >= 1 and clients[db].get(MARKER) is None
    finally:
        clients[db].delete(keys[db])


def test_missing_redis_is_a_skip_locally_and_a_failure_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No Redis at the configured address: a clear skip naming it, or a failure under CI."""
    url = f"redis://127.0.0.1:{free_port()}"
    for ci in (False, True):
        assert "Redis is not reachable at 127.0.0.1" in _claim_outcome(monkeypatch, url, ci)

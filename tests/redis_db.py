"""The tests' own Redis database: claimed only when empty, emptied only while it is ours.

``PEEK_TEST_REDIS_URL`` names the Redis server (default ``redis://127.0.0.1:6379``); with a
database number (``redis://host:6379/9``) the tests use that database only, otherwise the
first empty one from 15 down to 1 (0 is every application's default). A claim is a marker
key set with NX in a database that holds nothing else, so two test runs never share one and
a database holding anybody's keys is never touched. Resetting (between tests) and releasing
(at the end) only happen while the marker is still ours.
"""

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_URL_ENV_VAR = "PEEK_TEST_REDIS_URL"
DEFAULT_REDIS_SERVER = "redis://127.0.0.1:6379"
#: Databases tried, in order, when the URL names none.
CANDIDATE_DBS = tuple(range(15, 0, -1))
MARKER = "peek-tests:claimed-by"


def _require(ok: bool, message: str) -> None:
    """Skip with ``message``; under CI (``$CI`` set) fail instead."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def candidate_urls(url: str) -> list[str]:
    """The database URLs a test run may claim on the server of ``url``."""
    path = urlsplit(url).path.strip("/")
    if path:
        return [_with_db(url, int(path))]
    return [_with_db(url, db) for db in CANDIDATE_DBS]


class ClaimedRedisDb:
    """One Redis database this test run claimed (see the module docstring)."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        self.client = redis.Redis.from_url(url)

    def try_claim(self) -> bool:
        """Claim the database if nobody else holds it and it holds nothing else."""
        if not self.client.set(MARKER, self.owner, nx=True):
            return False
        if self.client.dbsize() == 1:
            return True
        # Somebody's keys are here: give the marker back and leave everything else alone.
        self._if_ours(lambda pipe: pipe.delete(MARKER))
        return False

    def _if_ours(self, change: Callable[[Any], Any]) -> bool:
        """Run ``change(pipeline)`` atomically, only while the marker is still ours."""
        import redis

        with self.client.pipeline() as pipe:
            try:
                pipe.watch(MARKER)
                if pipe.get(MARKER) != self.owner.encode():
                    return False
                pipe.multi()
                change(pipe)
                pipe.execute()
                return True
            except redis.WatchError:
                return False

    def reset(self) -> None:
        """Empty the database of everything a test left (it is ours: it was empty)."""
        def flush_keep_marker(pipe: Any) -> None:
            pipe.flushdb()
            pipe.set(MARKER, self.owner)

        if not self._if_ours(flush_keep_marker):
            pytest.fail(f"the test Redis database {self.url} is no longer ours; "
                        "another process removed or replaced its claim marker")

    def release(self) -> None:
        """Leave the database empty, as it was found."""
        self._if_ours(lambda pipe: pipe.flushdb())
        self.client.close()


def claim_redis_db() -> Iterator[ClaimedRedisDb]:
    """Claim an empty Redis database for the session (skip, or fail under CI, if none)."""
    url = os.environ.get(REDIS_URL_ENV_VAR, DEFAULT_REDIS_SERVER)
    import redis

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        # A plain connection first: redis-py retries a refused one for seconds.
        socket.create_connection((host, port), timeout=2).close()
        redis.Redis(host=host, port=port, socket_connect_timeout=2).ping()
    except (OSError, redis.RedisError) as e:
        _require(False, f"Redis is not reachable at {host}:{port} (${REDIS_URL_ENV_VAR}): {e}")
    for candidate in candidate_urls(url):
        claimed = ClaimedRedisDb(candidate)
        if claimed.try_claim():
            break
        claimed.client.close()
    else:
        _require(False, f"no empty Redis database to use at {url} (tried "
                 f"{', '.join(candidate_urls(url))}); the tests only use a database that "
                 f"holds no keys; point ${REDIS_URL_ENV_VAR} at an empty one")
    try:
        yield claimed
    finally:
        claimed.release()

"""How the caller's one listener thread learns about finished tasks, per result backend.

A watcher is used from the listener thread only. ``poll`` returns raw results (the
backend's JSON-encoded meta) of *any* task that finished since the last poll; ``fetch``
reads the stored results of given tasks (to catch up after the backend was unreachable);
``delete`` forgets results the caller has delivered.
"""

import threading
from typing import Any, Optional, Protocol

from peek_platform.celery_glue.backends import PeekRedisBackend, SqliteResultBackend

#: Cap on results handed over per poll, so one burst cannot stall the listener.
MAX_BATCH = 1000

RawResult = tuple[str, Any]


class ResultWatcher(Protocol):
    """Finds finished tasks' results for the listener thread."""

    def open(self) -> None:
        """Connect; raises the backend's connection error when it is unreachable."""

    def poll(self, timeout: float) -> list[RawResult]:
        """Results stored since the last poll; waits up to ``timeout`` when there are none."""

    def fetch(self, task_ids: list[str]) -> list[RawResult]:
        """The stored results of ``task_ids`` that have one."""

    def delete(self, task_ids: list[str]) -> None:
        """Forget these tasks' results."""

    def close(self) -> None:
        """Disconnect (errors are ignored)."""


class _KeyMixin:
    backend: Any

    def _task_id(self, key: bytes) -> str:
        return key[len(self.backend.task_keyprefix):].decode()

    def _key(self, task_id: str) -> bytes:
        return self.backend.get_key_for_task(task_id)

    def fetch(self, task_ids: list[str]) -> list[RawResult]:
        values = self.backend.mget([self._key(t) for t in task_ids]) if task_ids else []
        return [(t, v) for t, v in zip(task_ids, values, strict=True) if v is not None]


class RedisResultWatcher(_KeyMixin):
    """One pattern subscription to every result channel (Celery publishes each result).

    Redis pub/sub ignores database numbers, so this sees every result published on the
    Redis server; the listener drops those that are not its own pending tasks.
    """

    def __init__(self, backend: PeekRedisBackend) -> None:
        self.backend = backend
        self._pubsub: Optional[Any] = None

    def open(self) -> None:
        pubsub = self.backend.client.pubsub(ignore_subscribe_messages=True)
        pubsub.psubscribe(self.backend.task_keyprefix + b"*")
        self._pubsub = pubsub

    def poll(self, timeout: float) -> list[RawResult]:
        assert self._pubsub is not None
        found: list[RawResult] = []
        message = self._pubsub.get_message(timeout=timeout)
        while message is not None and len(found) < MAX_BATCH:
            if message["type"] == "pmessage":
                found.append((self._task_id(message["channel"]), message["data"]))
            message = self._pubsub.get_message(timeout=0)
        return found

    def delete(self, task_ids: list[str]) -> None:
        self.backend.delete_many([self._key(t) for t in task_ids])

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass


class SqliteResultWatcher(_KeyMixin):
    """Reads the rows written after the last one seen (every write gets a larger id)."""

    def __init__(self, backend: SqliteResultBackend, stopping: threading.Event,
                 poll_seconds: float) -> None:
        self.backend = backend
        self._stopping = stopping
        self._poll_seconds = poll_seconds
        self._last_id: Optional[int] = None

    def open(self) -> None:
        if self._last_id is None:
            self._last_id = self.backend.last_id()

    def poll(self, timeout: float) -> list[RawResult]:
        assert self._last_id is not None
        rows = self.backend.changes_since(self._last_id)
        if not rows:
            self._stopping.wait(min(timeout, self._poll_seconds))
            return []
        self._last_id = rows[-1][0]
        return [(self._task_id(key), value) for _, key, value in rows]

    def delete(self, task_ids: list[str]) -> None:
        self.backend.delete_many([self._key(t) for t in task_ids])

    def close(self) -> None:
        self.backend.close_thread_connection()


def watcher_for(backend: Any, stopping: threading.Event, poll_seconds: float) -> ResultWatcher:
    """The watcher for the app's result backend; only the platform's backends are supported."""
    if isinstance(backend, SqliteResultBackend):
        return SqliteResultWatcher(backend, stopping, poll_seconds)
    if isinstance(backend, PeekRedisBackend):
        return RedisResultWatcher(backend)
    raise TypeError(
        f"the task caller needs the embedded or Redis result backend, got {type(backend)!r}"
    )

"""The result backends the platform configures: embedded SQLite, and Redis for callers.

Both keep Celery's key/value layout (``celery-task-meta-<task id>`` -> the JSON-encoded
result meta). The platform's caller watches them for results itself (one listener for all
pending tasks), so neither subscribes per task:

- :class:`SqliteResultBackend` stores rows ``peek_result(id, key, value, expires)``; every
  write gets a new, larger ``id``, so a caller finds new results by reading the rows past
  the last ``id`` it saw (:meth:`SqliteResultBackend.changes_since`).
- :class:`PeekRedisBackend` is Celery's Redis backend (which publishes each result on the
  result key's channel) without its per-task pub/sub subscription on send.
"""

import time
from pathlib import Path
from typing import Any, Optional

from celery.backends.base import KeyValueStoreBackend
from celery.backends.redis import RedisBackend

from peek_platform.celery_glue.sqlite_store import SqliteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS peek_result (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL UNIQUE,
    value TEXT NOT NULL,
    expires REAL NOT NULL
);
"""

#: Expired rows are swept after this many writes from one process.
SWEEP_EVERY_WRITES = 500
_SQLITE_URL_PREFIX = "peeksqlite://"


class SqliteResultBackend(KeyValueStoreBackend):
    """Results in an SQLite file: ``peeksqlite:///absolute/path/results.sqlite``.

    One row per task: ``key`` is ``celery-task-meta-<task id>`` (bytes), ``value`` the
    result meta encoded with the app's result serializer (JSON: ``{"status", "result",
    "traceback", "children", "date_done", "task_id"}``), ``expires`` a Unix time after
    which the row is swept. Writes replace the row, giving it a new, larger ``id``.
    """

    supports_native_join = False

    def __init__(self, app: Any = None, url: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(app=app, url=url, **kwargs)
        if not url or not url.startswith(_SQLITE_URL_PREFIX):
            raise ValueError(f"expected {_SQLITE_URL_PREFIX}/path/to/results.sqlite, got {url!r}")
        self.path = Path(url[len(_SQLITE_URL_PREFIX):])
        self._file = SqliteFile(self.path, SCHEMA)
        self._writes = 0

    def _expires_at(self) -> float:
        return time.time() + (self.expires or 86400)

    def get(self, key: bytes) -> Optional[str]:
        row = self._file.connection().execute(
            "SELECT value FROM peek_result WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return None if row is None else row[0]

    def mget(self, keys: list[bytes]) -> list[Optional[str]]:
        found: dict[bytes, str] = {}
        conn = self._file.connection()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in conn.execute(
                f"SELECT key, value FROM peek_result WHERE key IN ({marks})", chunk
            ):
                found[bytes(key)] = value
        return [found.get(bytes(k)) for k in keys]

    def set(self, key: bytes, value: str) -> None:
        conn = self._file.connection()
        # REPLACE deletes and re-inserts, so the row gets a new id: callers tail by id.
        conn.execute(
            "INSERT OR REPLACE INTO peek_result (key, value, expires) VALUES (?, ?, ?)",
            (key, value, self._expires_at()),
        )
        self._writes += 1
        if self._writes % SWEEP_EVERY_WRITES == 0:
            self.cleanup()

    def delete(self, key: bytes) -> None:
        self._file.connection().execute("DELETE FROM peek_result WHERE key = ?", (key,))

    def delete_many(self, keys: list[bytes]) -> None:
        """Delete several results in one statement per 500 keys."""
        conn = self._file.connection()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            conn.execute(
                f"DELETE FROM peek_result WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )

    def cleanup(self) -> None:
        """Remove results that expired."""
        self._file.connection().execute(
            "DELETE FROM peek_result WHERE expires <= ?", (time.time(),)
        )

    def last_id(self) -> int:
        """The id of the newest stored result (0 when there is none)."""
        row = self._file.connection().execute("SELECT MAX(id) FROM peek_result").fetchone()
        return row[0] or 0

    def changes_since(self, last_id: int) -> list[tuple[int, bytes, str]]:
        """Results written after ``last_id``, oldest first: ``(id, key, value)``."""
        return [
            (row_id, bytes(key), value)
            for row_id, key, value in self._file.connection().execute(
                "SELECT id, key, value FROM peek_result WHERE id > ? ORDER BY id", (last_id,)
            )
        ]

    def close_thread_connection(self) -> None:
        """Close the calling thread's connection (the caller's listener at stop)."""
        self._file.close()


class PeekRedisBackend(RedisBackend):
    """Celery's Redis backend without the per-task subscription when a task is sent."""

    def on_task_call(self, producer: Any, task_id: str) -> None:
        # The platform's caller listens to every result channel with one pattern
        # subscription; Celery's own consumer would subscribe here and never be drained.
        return None

    def delete_many(self, keys: list[bytes]) -> None:
        """Delete several results in one command."""
        if keys:
            self.client.delete(*keys)

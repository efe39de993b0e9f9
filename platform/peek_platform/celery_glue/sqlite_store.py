"""Per-process, per-thread connections to the embedded broker's and backend's SQLite files.

Forked children (the worker's prefork pool) must not reuse their parent's connection, so a
connection is keyed by the process id as well as the thread.
"""

import os
import sqlite3
import threading
import time
from pathlib import Path

from peek_plugin_base.private_files import ensure_private_file

#: How long a writer waits for another process's write lock before failing.
BUSY_TIMEOUT_MS = 10_000


class SqliteFile:
    """One SQLite database file shared by several processes, with a schema to create."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._schema = schema
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened, in WAL mode, with the schema, on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Queued tasks carry plugin data: the file (and SQLite's WAL files) is 0600.
        ensure_private_file(self.path)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        _use_wal(conn)
        # Durable enough for a development broker, and much faster than FULL.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(self._schema)
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection, if it has one."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and self._local.pid == os.getpid():
            conn.close()


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so), retrying within the busy timeout.

    Two connections converting a new file at once both need its exclusive lock while
    holding a shared one; SQLite breaks that deadlock by answering one of them "database
    is locked" at once, without waiting. Once the other is done the file is in WAL mode
    and the retry succeeds.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)

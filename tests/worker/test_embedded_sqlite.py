"""The embedded broker's and backend's SQLite file opens from several threads at once:
the first connections of a new file all switching it to WAL mode used to deadlock, and
SQLite answered one of them "database is locked" at once (a flaky task-timeout test)."""

import threading
from pathlib import Path

from peek_platform.celery_glue.sqlite_store import SqliteFile

SCHEMA = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body BLOB);"
THREADS = 4
FILES = 100


def test_threads_opening_a_new_file_together_all_get_a_wal_connection(tmp_path: Path) -> None:
    """Four threads open each of 100 new files at the same moment: every one gets a
    connection to the file in WAL mode (before the fix about one file in eleven failed)."""
    failures: list[BaseException] = []
    modes: list[str] = []
    lock = threading.Lock()
    for number in range(FILES):
        path = tmp_path / f"{number}.sqlite"
        start = threading.Barrier(THREADS)

        def open_file(path: Path = path, start: threading.Barrier = start) -> None:
            store = SqliteFile(path, SCHEMA)
            start.wait()
            try:
                [(mode,)] = store.connection().execute("PRAGMA journal_mode").fetchall()
            except BaseException as e:  # collected: the assertion below names them
                with lock:
                    failures.append(e)
                return
            finally:
                store.close()
            with lock:
                modes.append(mode)

        threads = [threading.Thread(target=open_file) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert modes == ["wal"] * (THREADS * FILES)

"""The test plugin's tasks."""

import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from peek_plugin_base.worker.CeleryApp import peekTask


def _wait_for(path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout}s")
        time.sleep(0.01)


@peekTask
def add(x: int, y: int) -> int:
    return x + y


@peekTask
def fail(message: str) -> None:
    raise ValueError(message)


@peekTask
def touch(path: str) -> str:
    Path(path).touch()
    return path


@peekTask
def block(started: str, release: str) -> str:
    """Mark ``started``, then wait for ``release`` to exist."""
    Path(started).touch()
    _wait_for(release, 60)
    return "released"


@peekTask
def process_info() -> dict[str, Any]:
    return {"pid": os.getpid(), "reactor_imported": "twisted.internet.reactor" in sys.modules}


@peekTask(bind=True, acks_late=True)
def credit_ledger(self: Any, db: str, amount: int, applied: str, release: str) -> int:
    """Credit ``amount`` once per task id, however often the message is delivered.

    The documented idempotent pattern: the task id is recorded in the same transaction
    as the effect, and the effect is applied only when the id was new.
    """
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS applied (task_id TEXT PRIMARY KEY)")
        conn.execute("CREATE TABLE IF NOT EXISTS ledger (balance INTEGER NOT NULL)")
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0] == 0:
            conn.execute("INSERT INTO ledger VALUES (0)")
        new = conn.execute("INSERT OR IGNORE INTO applied VALUES (?)",
                           (self.request.id,)).rowcount
        if new:
            conn.execute("UPDATE ledger SET balance = balance + ?", (amount,))
        conn.execute("COMMIT")
        with open(applied, "a") as f:
            f.write(f"{os.getpid()}\n")
        # The rest of the task's work; the test kills the worker here on the first delivery.
        _wait_for(release, 60)
        return conn.execute("SELECT balance FROM ledger").fetchone()[0]
    finally:
        conn.close()


@peekTask
def fail_counting(path: str, message: str) -> None:
    """Record the attempt, then fail: shows how often a failing task ran."""
    with open(path, "a") as f:
        f.write("attempt\n")
    raise RuntimeError(message)

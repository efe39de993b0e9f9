"""Helpers for the worker DB tests: a worker running the DB test plugin, its schema."""

import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from peek_plugin_base.storage.engine_factory import make_engine
from tests.worker.support import CallerStack, WorkerProcess

DB_PLUGIN = "peek_plugin_workerdb"
DB_TASKS = f"{DB_PLUGIN}.tasks"
SCHEMA = "pl_workerdb"


def create_schema(url: str) -> None:
    """Do what the server does before any worker task runs: create pl_workerdb's tables."""
    from peek_plugin_workerdb.storage import metadata

    engine = make_engine(url, [SCHEMA])
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
            metadata.create_all(connection)
    finally:
        engine.dispose()


def schema_exists(url: str) -> bool:
    """Whether schema pl_workerdb exists (on SQLite: whether its file does)."""
    engine = make_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            from peek_plugin_base.storage.engine_factory import sqlite_schema_file

            return os.path.exists(sqlite_schema_file(url, SCHEMA))
        with engine.connect() as connection:
            return bool(connection.execute(
                text("SELECT count(*) FROM information_schema.schemata "
                     "WHERE schema_name = :s"), {"s": SCHEMA}).scalar())
    finally:
        engine.dispose()


@dataclass
class DbWorkerProcess(WorkerProcess):
    """``run_peek_worker`` running the DB test plugin, with a ``sqlalchemy`` section."""

    sqlalchemy: dict[str, Any] = field(default_factory=dict)

    enabled: list[str] = field(default_factory=lambda: [DB_PLUGIN])
    pool_config = {"pool": "prefork", "concurrency": 2, "prefetchMultiplier": 1}

    def config(self) -> dict[str, Any]:
        return {**super().config(), "sqlalchemy": self.sqlalchemy}


def call(stack: CallerStack, name: str, *args: Any, timeout: float = 30.0) -> Any:
    """Run ``peek_plugin_workerdb.tasks.<name>(*args)`` on the worker; its result."""
    return stack.pump.wait(stack.caller.deferTask(f"{DB_TASKS}.{name}", args, {}, {}), timeout)


def defer(stack: CallerStack, name: str, *args: Any) -> Any:
    """Queue ``peek_plugin_workerdb.tasks.<name>(*args)``; its Deferred."""
    return stack.caller.deferTask(f"{DB_TASKS}.{name}", args, {}, {})

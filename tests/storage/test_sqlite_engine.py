"""SQLite engines: WAL and a busy timeout on every file, one writer at a time, clear errors."""

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import declarative_base

from peek_platform.celery_glue.worker_db import make_worker_engine
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.engine_factory import (
    SQLITE_BEGIN_OPTION,
    sqlite_schema_file,
)

#: The documented default: a transaction waits 30 s for a lock before failing.
DEFAULT_BUSY_MS = 30_000

metadata = MetaData(schema="pl_counter")
Base = declarative_base(metadata=metadata)
other_metadata = MetaData(schema="pl_other")
OtherBase = declarative_base(metadata=other_metadata)


class Counter(Base):
    """One row incremented by read-modify-write transactions."""

    __tablename__ = "Counter"
    id = Column(Integer, primary_key=True)
    value = Column(Integer, nullable=False)


class Note(OtherBase):
    """Rows another schema's connection (another engine on the same file) inserts."""

    __tablename__ = "Note"
    id = Column(Integer, primary_key=True, autoincrement=True)
    text = Column(String(40), nullable=False)


def make_connection(url: str, tmp_path: Path, meta: MetaData, **engine_args: Any) -> DbConnection:
    """A DbConnection with its schema's tables created."""
    connection = DbConnection(url, meta, str(tmp_path), dbEngineArgs=engine_args)
    with connection.dbEngine.begin() as c:
        meta.create_all(c)
    return connection


@pytest.fixture
def counter(sqlite_url: str, tmp_path: Path) -> Iterator[DbConnection]:
    """pl_counter with one Counter row at 0."""
    connection = make_connection(sqlite_url, tmp_path, metadata)
    with connection.dbEngine.begin() as c:
        c.execute(Counter.__table__.insert().values(id=1, value=0))
    yield connection
    connection.closeAllSessions()


def pragmas(connection: Any, schema: str) -> tuple[str, int]:
    """(journal mode of ``schema``, busy timeout in ms) of a connection."""
    mode = connection.exec_driver_sql(f'PRAGMA "{schema}".journal_mode').scalar_one()
    busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    return mode, busy


def test_main_and_attached_files_use_wal_and_a_busy_timeout(counter: DbConnection) -> None:
    """The main file and the schema's attached file are in WAL mode, and the connection
    waits 30 s for another process's lock."""
    with counter.dbEngine.connect() as c:
        assert pragmas(c, "main") == ("wal", DEFAULT_BUSY_MS)
        assert pragmas(c, "pl_counter") == ("wal", DEFAULT_BUSY_MS)


def test_busy_timeout_comes_from_the_engine_arguments(sqlite_url: str, tmp_path: Path) -> None:
    """``connect_args: {"timeout": seconds}`` in the engine arguments sets the busy timeout."""
    connection = make_connection(sqlite_url, tmp_path, metadata, connect_args={"timeout": 2.5})
    try:
        with connection.dbEngine.connect() as c:
            assert pragmas(c, "pl_counter") == ("wal", 2500)
    finally:
        connection.closeAllSessions()


def test_worker_engine_sets_up_the_schema_files_it_attaches(tmp_path: Path) -> None:
    """A schema file the worker finds and attaches (here one left in rollback-journal mode)
    is switched to WAL, with the same busy timeout as the server's connections."""
    main = tmp_path / "peek.sqlite"
    sqlite3.connect(main).close()
    url = make_url(f"sqlite:///{main}")
    legacy = sqlite_schema_file(url, "pl_legacy")
    with sqlite3.connect(legacy) as plain:
        plain.execute("CREATE TABLE t (id INTEGER)")
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    engine = make_worker_engine(url, {})
    try:
        with engine.connect() as c:
            assert pragmas(c, "pl_legacy") == ("wal", DEFAULT_BUSY_MS)
            assert pragmas(c, "main")[0] == "wal"
    finally:
        engine.dispose()


def test_concurrent_read_modify_writes_over_two_engines_all_succeed(
    counter: DbConnection, sqlite_url: str, tmp_path: Path
) -> None:
    """Threads incrementing one row through ORM sessions (read, then write) while other
    threads insert through another schema's engine on the same file: no transaction fails
    ("database is locked") and no increment is lost."""
    notes = make_connection(sqlite_url, tmp_path, other_metadata)
    threads, rounds = 6, 25
    errors: list[BaseException] = []
    start = threading.Barrier(2 * threads)

    def increment() -> None:
        start.wait()
        for _ in range(rounds):
            session = counter.ormSessionCreator()
            try:
                row = session.get(Counter, 1)
                assert row is not None
                row.value += 1
                session.commit()
            except BaseException as e:
                errors.append(e)
            finally:
                counter.ormSessionCreator.remove()

    def insert(n: int) -> None:
        start.wait()
        for i in range(rounds):
            session = notes.ormSessionCreator()
            try:
                session.add(Note(text=f"{n}-{i}"))
                session.commit()
            except BaseException as e:
                errors.append(e)
            finally:
                notes.ormSessionCreator.remove()

    workers = [threading.Thread(target=increment) for _ in range(threads)]
    workers += [threading.Thread(target=insert, args=(n,)) for n in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        with counter.dbEngine.connect() as c:
            assert c.execute(select(Counter.value)).scalar_one() == threads * rounds
        with notes.dbEngine.connect() as c:
            assert c.execute(text('SELECT count(*) FROM pl_other."Note"')).scalar_one() == (
                threads * rounds)
    finally:
        notes.closeAllSessions()


def test_second_write_transaction_in_one_thread_fails_at_once(
    counter: DbConnection, sqlite_url: str, tmp_path: Path
) -> None:
    """A thread with a write transaction open that starts another on the same file through
    another engine gets an error saying so, instead of waiting for itself until the
    timeout; the first transaction still commits."""
    notes = make_connection(sqlite_url, tmp_path, other_metadata)
    try:
        with counter.dbEngine.begin() as first:
            first.execute(Counter.__table__.update().values(value=7))
            with pytest.raises(OperationalError, match="already has a write transaction open"):
                with notes.dbEngine.begin() as second:
                    second.execute(Note.__table__.insert().values(text="x"))
        with counter.dbEngine.connect() as c:
            assert c.execute(select(Counter.value)).scalar_one() == 7
    finally:
        notes.closeAllSessions()


def test_a_transaction_left_open_fails_the_next_writer_naming_its_thread(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A session left open in one thread keeps the write lock; a writer in another thread
    fails after the timeout with an error naming the holder's thread, and succeeds once
    the session is closed."""
    connection = make_connection(sqlite_url, tmp_path, metadata, connect_args={"timeout": 0.2})
    opened, release = threading.Event(), threading.Event()

    def leave_open() -> None:
        session = connection.ormSessionCreator()
        session.execute(select(Counter))
        opened.set()
        release.wait()
        connection.ormSessionCreator.remove()

    holder = threading.Thread(target=leave_open, name="forgetful-thread")
    holder.start()
    try:
        opened.wait()
        with pytest.raises(OperationalError, match="held by a transaction of thread "
                           "forgetful-thread"):
            with connection.dbEngine.begin() as c:
                c.execute(Counter.__table__.insert().values(id=2, value=0))
        release.set()
        holder.join()
        with connection.dbEngine.begin() as c:
            c.execute(Counter.__table__.insert().values(id=2, value=0))
    finally:
        release.set()
        holder.join()
        connection.closeAllSessions()


def test_deferred_read_only_transaction_reads_while_a_writer_holds_the_lock(
    counter: DbConnection,
) -> None:
    """With the DEFERRED execution option a read-only transaction does not queue behind a
    writer: it reads the last committed value while the writer's transaction is open."""
    with counter.dbEngine.begin() as writer:
        writer.execute(Counter.__table__.update().values(value=5))
        read: list[int] = []

        def reader() -> None:
            with counter.dbEngine.connect().execution_options(
                **{SQLITE_BEGIN_OPTION: "DEFERRED"}
            ) as c, c.begin():
                read.append(c.execute(select(Counter.value)).scalar_one())

        thread = threading.Thread(target=reader)
        thread.start()
        thread.join()
        assert read == [0]

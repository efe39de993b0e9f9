"""ORM sessions used on the reactor thread warn with the caller's stack; threads do not."""

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, text
from twisted.python import threadable

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.session_factory import forget_warned_sites

LOGGER = "peek_plugin_base.storage.session_factory"


@pytest.fixture
def connection(sqlite_url: str, tmp_path: Path) -> Iterator[DbConnection]:
    """A DbConnection, with this test's thread registered as the reactor thread."""
    conn = DbConnection(sqlite_url, MetaData(schema="pl_threads"), str(tmp_path))
    saved = threadable.ioThread
    threadable.registerAsIOThread()
    forget_warned_sites()
    try:
        yield conn
    finally:
        threadable.ioThread = saved
        forget_warned_sites()
        conn.closeAllSessions()


def query_from_the_reactor(conn: DbConnection) -> None:
    """A plugin function that (wrongly) queries on the reactor thread."""
    session = conn.ormSessionCreator()
    session.execute(text("SELECT 1"))
    session.close()


def test_reactor_thread_use_warns_with_the_callers_stack(
    connection: DbConnection, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the calling function and file; a repeat from there is not logged."""
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        query_from_the_reactor(connection)
        query_from_the_reactor(connection)
    warnings = [r for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "reactor thread" in message
    assert "query_from_the_reactor" in message and __file__ in message


def test_worker_threads_do_not_warn(
    connection: DbConnection, caplog: pytest.LogCaptureFixture
) -> None:
    """The same calls from another thread log nothing."""
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        worker = threading.Thread(target=query_from_the_reactor, args=(connection,))
        worker.start()
        worker.join(timeout=30)
    assert [r for r in caplog.records if r.name == LOGGER] == []

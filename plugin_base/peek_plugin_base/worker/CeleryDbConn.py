"""Database access for worker tasks: one engine and session factory per worker process.

::

    from peek_plugin_base.worker import CeleryDbConn

    @peekTask
    def totalRows() -> int:
        session = CeleryDbConn.getDbSession()
        try:
            return session.scalar(select(func.count()).select_from(MyTable)) or 0
        finally:
            session.close()

The database is the worker's ``sqlalchemy.connectUrl`` (with ``sqlalchemy.engineArgs``), by
default the server's SQLite file. Every process that runs tasks gets its own engine,
created on first use *in that process*: an engine (its pooled sockets and file handles)
is never shared across ``fork``. After each task the task thread's session is closed, so a
task always starts with a fresh session.

The worker never migrates: the server service creates and migrates every plugin's schema
at its start. A schema the server has not migrated is an error in the task that uses it
(``no such table`` / ``relation does not exist``), never created here; a missing SQLite
database file raises :class:`~peek_plugin_base.worker.errors.WorkerDbMissingError`, and
using these functions outside a worker service raises
:class:`~peek_plugin_base.worker.errors.WorkerDbNotConfiguredError`.

On SQLite each schema is a file beside the main one (``peek.pl_tutorial.sqlite`` beside
``peek.sqlite``, see :mod:`peek_plugin_base.storage.engine_factory`), attached to the
connection, so plugin tables are queried with the same schema-qualified metadata as on
PostgreSQL, including schemas the server migrated after the worker started. SQLite
attaches at most 10 databases per connection (its usual build limit); schemas beyond it
are skipped with a warning, so use PostgreSQL with more storage plugins than that.

Plugins call the three functions below. The per-process engines and their lifecycle
(fork, task end, process exit) are the worker service's: its :class:`WorkerDbABC`
(``peek_platform.celery_glue.worker_db``) serves these functions while it runs.
"""

from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, Optional

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from peek_plugin_base.worker import _slot
from peek_plugin_base.worker.errors import WorkerDbNotConfiguredError

#: The database serving this module's functions (set by WorkerDbABC.serve); a forked
#: pool process inherits it, and it builds that process's own engine.
_db: _slot.ServedSlot["WorkerDbABC"] = _slot.ServedSlot()


class WorkerDbABC(metaclass=ABCMeta):
    """The database of worker tasks, one engine per process: implemented by the platform.

    Plugins never use it. The worker service calls :meth:`serve` before its pool starts,
    and the callable ``serve`` returned when it stops.
    """

    @abstractmethod
    def getDbEngine(self) -> Engine:
        """This process's engine (created on first use in the process)."""

    @abstractmethod
    def getDbSession(self) -> Session:
        """The calling thread's ORM session in this process."""

    @abstractmethod
    def prefetchDeclarativeIds(self, Declarative: Any, count: int) -> Optional[Iterable[int]]:
        """Reserve ``count`` ids for new ``Declarative`` rows."""

    def serve(self) -> Callable[[], None]:
        """Make this the database :func:`getDbSession` & co. use in this process; returns
        the callable that stops it (the database served before comes back)."""
        return _db.serve(self)


def _served() -> WorkerDbABC:
    db = _db.current
    if db is None:
        raise WorkerDbNotConfiguredError(
            None, "CeleryDbConn is available in tasks run by the worker service "
            "(run_peek_worker) only")
    return db


def getDbEngine() -> Engine:
    """This worker process's engine (created on first use in the process)."""
    return _served().getDbEngine()


def getDbSession() -> Session:
    """The calling thread's ORM session in this process; closed after each task.

    Commit what the task changes; use it in the task's own thread only.
    """
    return _served().getDbSession()


def prefetchDeclarativeIds(Declarative: Any, count: int) -> Optional[Iterable[int]]:
    """Reserve ``count`` ids for new ``Declarative`` rows; an iterator dispensing them.

    On PostgreSQL the ids come from the id column's sequence, so worker processes (and the
    server) never get the same id. On SQLite the reservation is shared between processes
    only for tables declared with ``sqlite_autoincrement=True``; for other tables it is
    unique within this worker process only.
    """
    return _served().prefetchDeclarativeIds(Declarative, count)

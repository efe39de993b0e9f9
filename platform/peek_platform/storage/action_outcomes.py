"""The server's durable record of action outcomes (table ``peek_platform.ActionOutcome``).

:class:`SqlActionOutcomeStore` implements the contract's
:class:`~peek_vortex.handlers.ActionOutcomeStore` on the platform's
database, so a retry of an action id within ``vortex.actionDedupSeconds`` is answered from
the record even after the server was killed and restarted. :class:`ActionOutcomeService`
installs it on the process's router once the platform schema is migrated, purges expired
rows periodically, and at shutdown waits for the records still being written.

Every statement runs in the storage service's threads, never on the reactor thread; times
are wall-clock seconds since the epoch, so they stay meaningful across restarts.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from sqlalchemy import bindparam, delete, insert, select
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from peek_platform.config import ServiceConfig
from peek_platform.storage.tables import ActionOutcome as ActionOutcomeRow
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_vortex.handlers import (
    ActionOutcome,
    ActionOutcomeStore,
)
from peek_vortex.routing import PayloadRouter, default_router

logger = logging.getLogger(__name__)

#: How often expired rows are deleted (a load ignores them anyway; this bounds the table).
PURGE_INTERVAL_SECONDS = 60.0

_table = ActionOutcomeRow.__table__


class _Record:
    """One outcome waiting to be written, and how its write ended (set by the writer)."""

    __slots__ = ("values", "written", "error")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.written = False
        self.error: Optional[BaseException] = None


class SqlActionOutcomeStore(ActionOutcomeStore):
    """Outcomes as rows of the platform schema, read and written in threads given by
    ``run_in_thread``; ``now`` gives wall-clock seconds (tests pass their own).

    Writes are group-committed: one writer at a time takes every record queued so far and
    writes them in one transaction, so concurrent actions share a commit (one fsync on
    SQLite) instead of racing for the database's write lock. Each ``save`` still fires
    only once its own record is committed.
    """

    def __init__(
        self,
        db: DbConnection,
        run_in_thread: Callable[..., "Deferred[Any]"],
        window_seconds: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._run_in_thread = run_in_thread
        self.window_seconds = window_seconds
        self._now = now
        self._writes: set[Deferred[Any]] = set()
        self._queue: list[_Record] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    # ---- the contract (called on the reactor thread)

    def load(self, processor: str, action_id: str) -> "Deferred[Optional[ActionOutcome]]":
        return self._run_in_thread(self._load, processor, action_id, self._now())

    def save(
        self, processor: str, action_id: str, outcome: ActionOutcome,
        window_seconds: Optional[float] = None,
    ) -> "Deferred[None]":
        window = self.window_seconds if window_seconds is None else window_seconds
        now = self._now()
        code, message = outcome.error if outcome.error is not None else (None, None)
        record = _Record(dict(
            processorName=processor, actionId=action_id, body=outcome.body,
            compression=outcome.compression, inflatedSize=outcome.inflated_size,
            errorCode=code, errorMessage=message, recordedAt=now, expiresAt=now + window,
        ))
        with self._queue_lock:
            self._queue.append(record)
        return self._track(self._run_in_thread(self._write, record))

    def purge(self) -> "Deferred[int]":
        """Delete the expired rows; fires with how many went."""
        return self._track(self._run_in_thread(self._purge, self._now()))

    def drain(self) -> "Deferred[Any]":
        """Fires once every write running now has finished (or failed)."""
        return DeferredList(list(self._writes), consumeErrors=True)

    def _track(self, d: "Deferred[Any]") -> "Deferred[Any]":
        self._writes.add(d)

        def finished(result: Any) -> Any:
            self._writes.discard(d)
            return result

        return d.addBoth(finished)

    # ---- blocking (threads)

    def _load(self, processor: str, action_id: str, now: float) -> Optional[ActionOutcome]:
        query = select(
            _table.c.body, _table.c.compression, _table.c.inflatedSize,
            _table.c.errorCode, _table.c.errorMessage,
        ).where(
            _table.c.processorName == processor, _table.c.actionId == action_id,
            _table.c.expiresAt > now,
        )
        with self._db.dbEngine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        error = (row.errorCode, row.errorMessage or "") if row.errorCode is not None else None
        return ActionOutcome(bytes(row.body), row.compression, row.inflatedSize, error)

    def _write(self, record: _Record) -> None:
        """Commit ``record``: in the batch of whichever writer takes it first."""
        with self._writer:
            if not record.written:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    self._write_batch(batch)
                except BaseException as e:
                    for queued in batch:
                        queued.error = e
                    raise
                finally:
                    for queued in batch:
                        queued.written = True
        if record.error is not None:
            raise record.error

    def _write_batch(self, batch: list[_Record]) -> None:
        # The last record of a key wins; an expired row of a key may still be there.
        rows = list({(r.values["processorName"], r.values["actionId"]): r.values
                     for r in batch}.values())
        keys = [{"p": row["processorName"], "a": row["actionId"]} for row in rows]
        # Deferred transaction: its first write locks only the platform file on SQLite.
        with self._db.dbEngine.begin() as connection:
            connection.execute(delete(_table).where(
                _table.c.processorName == bindparam("p"), _table.c.actionId == bindparam("a"),
            ), keys)
            connection.execute(insert(_table), rows)

    def _purge(self, now: float) -> int:
        with self._writer, self._db.dbEngine.begin() as connection:
            result = connection.execute(delete(_table).where(_table.c.expiresAt <= now))
        return int(result.rowcount or 0)


class ActionOutcomeService(Service):
    """Installs the durable outcome store on the router while the server runs.

    Start it after the storage service (it needs the migrated platform schema) and before
    the plugins; it stops after them, waiting for the outcomes still being written.
    """

    name = "action-outcomes"
    requires: tuple[str, ...] = ("storage",)

    def __init__(
        self,
        config: ServiceConfig,
        platform_db: Callable[[], Optional[DbConnection]],
        run_in_thread: Callable[..., "Deferred[Any]"],
        router: Optional[PayloadRouter] = None,
        clock: Optional[IReactorTime] = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._window = float(config["vortex.actionDedupSeconds"])
        self._platform_db = platform_db
        self._run_in_thread = run_in_thread
        self._router = router
        self._clock = clock
        self._now = now
        self.store: Optional[SqlActionOutcomeStore] = None
        self._purging: Optional[LoopingCall] = None

    def startService(self) -> None:  # noqa: N802 - twisted API
        super().startService()
        db = self._platform_db()
        if db is None:
            raise RuntimeError("the platform schema must be migrated before action outcomes")
        self.store = SqlActionOutcomeStore(db, self._run_in_thread, self._window, self._now)
        (self._router or default_router()).action_outcome_store = self.store
        self._purging = LoopingCall(self._purge)
        if self._clock is not None:
            self._purging.clock = self._clock
        self._purging.start(PURGE_INTERVAL_SECONDS, now=True)
        logger.info("Action outcomes are recorded in the platform schema for %g s",
                    self._window)

    def stopService(self) -> "Deferred[Any]":  # noqa: N802 - twisted API
        super().stopService()
        if self._purging is not None and self._purging.running:
            self._purging.stop()
        (self._router or default_router()).action_outcome_store = None
        store, self.store = self.store, None
        if store is None:
            return DeferredList([])
        return store.drain()

    def _purge(self) -> "Deferred[None]":
        assert self.store is not None
        d = self.store.purge()

        def purged(count: int) -> None:
            if count:
                logger.debug("Purged %d expired action outcomes", count)

        def failed(failure: Any) -> None:
            # The next run tries again; loads ignore expired rows meanwhile.
            logger.warning("Could not purge expired action outcomes: %s",
                           failure.getErrorMessage())

        return d.addCallbacks(purged, failed)

"""The tutorial's worker tasks: plain functions the server queues and awaits."""

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from peek_plugin_base.worker import CeleryDbConn
from peek_plugin_base.worker.CeleryApp import peekTask
from peek_plugin_tutorial._private.storage.AppliedTask import AppliedTask
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.StringIntTotalTuple import StringIntTotalTuple


@peekTask
def addNumbers(x: int, y: int) -> int:
    """Add two numbers on the worker (the "hello world" of worker tasks)."""
    return x + y


@peekTask
def totalList(values: list[float]) -> float:
    """Total a list; a list that holds something other than numbers fails remotely."""
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"totalList takes numbers only, got {value!r}")
    return sum(values)


@peekTask
def totalStringInts() -> StringIntTotalTuple:
    """Total the StringInt table's int1 column, reading it through this worker's database.

    ``CeleryDbConn`` gives each worker process its own engine; the session is closed after
    the task whatever happens. The result is a bus tuple: it travels as tagged JSON.
    """
    session = CeleryDbConn.getDbSession()
    try:
        total, row_count = session.execute(
            select(func.coalesce(func.sum(StringIntTuple.int1), 0), func.count())
        ).one()
        return StringIntTotalTuple(total=int(total), rowCount=int(row_count))
    finally:
        session.close()


@peekTask(bind=True, acks_late=True)
def addToStringInt(self: Any, stringIntId: int, amount: int) -> int:
    """Add ``amount`` to one StringInt row's int1; returns the new int1.

    At least once: ``acks_late`` makes the broker deliver the call again when the worker
    running it dies, so the task is idempotent. Its task id (the same on every delivery of
    one call) goes into AppliedTask in the same transaction as the effect, and a delivery
    that finds the id there skips the effect. The answer is read from the stored row, so
    every delivery returns the same value.
    """
    session = CeleryDbConn.getDbSession()
    try:
        if session.get(AppliedTask, self.request.id) is None:
            session.add(AppliedTask(taskId=self.request.id))
            added = session.execute(
                update(StringIntTuple)
                .where(StringIntTuple.id == stringIntId)
                .values(int1=func.coalesce(StringIntTuple.int1, 0) + amount)
            ).rowcount
            if not added:
                raise ValueError(f"no StringInt row with id {stringIntId}")
            try:
                session.commit()
            except IntegrityError:
                # Another delivery of this call committed first: its effect stands.
                session.rollback()
        value = session.execute(
            select(StringIntTuple.int1).where(StringIntTuple.id == stringIntId)
        ).scalar_one()
        return int(value or 0)
    finally:
        session.close()

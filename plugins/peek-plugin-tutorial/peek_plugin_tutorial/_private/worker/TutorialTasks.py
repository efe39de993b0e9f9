"""The tutorial's worker tasks: plain functions the server queues and awaits."""

from sqlalchemy import func, select

from peek_plugin_base.worker import CeleryDbConn
from peek_plugin_base.worker.CeleryApp import peekTask
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

"""StringIntTupleProvider: serves the StringInt table to observers."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from peek_plugin_base.vortex import Payload, TupleSelector, TuplesProviderABC, deferToThreadWrap
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple


class StringIntTupleProvider(TuplesProviderABC):
    """Every StringInt row, ordered by id, read in a thread.

    The selector's ``selector`` dict is not used: the tutorial has one view of the table.
    A plugin with many rows would filter on it (and its notifies would name the same
    selector).
    """

    def __init__(self, ormSessionCreator: Callable[[], Session]) -> None:
        self._ormSessionCreator = ormSessionCreator

    @deferToThreadWrap
    def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        session = self._ormSessionCreator()
        try:
            rows = list(session.scalars(select(StringIntTuple).order_by(StringIntTuple.id)))
            # Encoded here, in the thread, while the session can still load the values.
            return Payload(filt, tuples=rows).toVortexMsg()
        finally:
            session.close()

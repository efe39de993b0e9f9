"""StringIntController: processes the StringInt actions devices push, then notifies observers."""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred

from peek_plugin_base.vortex import (
    RemoteError,
    TupleActionABC,
    TupleActionProcessorDelegateABC,
    TupleDataObservableHandler,
    TupleSelector,
    deferToThreadWrap,
)
from peek_plugin_tutorial._private.server.tuple_providers.StringIntTotalTupleProvider import (
    stringIntTotalSelector,
)
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.AddIntValueActionTuple import AddIntValueActionTuple
from peek_plugin_tutorial._private.tuples.StringCapToggleActionTuple import (
    StringCapToggleActionTuple,
)

logger = logging.getLogger(__name__)


class StringIntRowMissingError(RemoteError):
    """An action names a StringInt row that does not exist.

    A RemoteError, so the device gets this code and message as they are; any other
    exception would reach it as its class name and an error id only (the detail is logged).
    """

    def __init__(self, message: str) -> None:
        super().__init__(type(self).__name__, message)


class StringIntController(TupleActionProcessorDelegateABC):
    """Applies AddIntValue and StringCapToggle actions to the StringInt table.

    Each action runs in a thread with its own transaction; once committed, the
    observable is told, so every device watching the table gets the new rows.
    """

    def __init__(
        self,
        dbSessionCreator: Callable[[], Session],
        tupleObservable: TupleDataObservableHandler,
    ) -> None:
        self._dbSessionCreator = dbSessionCreator
        self._tupleObservable = tupleObservable

    def shutdown(self) -> None:
        """Nothing to release; kept so start() can treat it like its other objects."""

    def processTupleAction(self, tupleAction: TupleActionABC) -> "Deferred[list[Any]]":
        if isinstance(tupleAction, AddIntValueActionTuple):
            d = self._processAddIntValue(tupleAction)
        elif isinstance(tupleAction, StringCapToggleActionTuple):
            d = self._processCapToggleString(tupleAction)
        else:
            raise NotImplementedError(tupleAction.tupleName())
        # On the reactor thread, after the commit: tell the observers.
        return d.addCallback(self._notify)

    def _notify(self, result: list[Any]) -> list[Any]:
        self._tupleObservable.notifyOfTupleUpdate(TupleSelector(StringIntTuple.tupleName(), {}))
        self._tupleObservable.notifyOfTupleUpdate(stringIntTotalSelector())
        return result

    def _row(self, session: Session, stringIntId: Any) -> StringIntTuple:
        # Locked until the commit: two actions on one row must not both read the old value
        # and write over each other (PostgreSQL's FOR UPDATE; SQLite transactions already
        # take the write lock at BEGIN).
        row = session.get(StringIntTuple, stringIntId, with_for_update=True)
        if row is None:
            raise StringIntRowMissingError(f"there is no StringInt row with id {stringIntId!r}")
        return row

    @deferToThreadWrap
    def _processAddIntValue(self, action: AddIntValueActionTuple) -> list[Any]:
        session = self._dbSessionCreator()
        try:
            row = self._row(session, action.stringIntId)
            row.int1 = (row.int1 or 0) + action.offset
            session.commit()
            return []
        finally:
            session.close()

    @deferToThreadWrap
    def _processCapToggleString(self, action: StringCapToggleActionTuple) -> list[Any]:
        session = self._dbSessionCreator()
        try:
            row = self._row(session, action.stringIntId)
            value = row.string1 or ""
            row.string1 = value.lower() if value.isupper() else value.upper()
            session.commit()
            return []
        finally:
            session.close()

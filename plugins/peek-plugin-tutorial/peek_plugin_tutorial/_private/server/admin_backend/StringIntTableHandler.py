"""The StringInt table's tuple-loader handler; edits notify the StringInt observable."""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from peek_plugin_base.storage import OrmCrudHandler, OrmCrudHandlerExtension
from peek_plugin_base.vortex import TupleDataObservableHandler, TupleSelector
from peek_plugin_tutorial._private.PluginNames import tutorialFilt
from peek_plugin_tutorial._private.server.tuple_providers.StringIntTotalTupleProvider import (
    stringIntTotalSelector,
)
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple

logger = logging.getLogger(__name__)

#: Where the handler listens; the admin page (and TupleLoaderClient) send here.
filtKey = {"key": "admin.Edit.StringIntTuple", **tutorialFilt}


class _StringIntCrudHandler(OrmCrudHandler):
    """Loads every row (``retreiveAll``); override ``createDeclarative`` to edit a subset."""


class _ExtUpdateObservable(OrmCrudHandlerExtension):
    """After a save or delete is committed, tell the observable so observers get the rows."""

    def __init__(self, tupleObservable: TupleDataObservableHandler) -> None:
        self._tupleObservable = tupleObservable

    def _tellObserver(
        self, tuple_: Any, tuples: list[Any], session: None, payloadFilt: dict[str, Any]
    ) -> None:
        # Notifies are coalesced by the observable, so one per row costs one provider run.
        self._tupleObservable.notifyOfTupleUpdate(TupleSelector(StringIntTuple.tupleName(), {}))
        # The total changes too; its provider asks the worker to sum the table again.
        self._tupleObservable.notifyOfTupleUpdate(stringIntTotalSelector())

    afterUpdateCommit = _tellObserver
    afterDeleteCommit = _tellObserver


def makeStringIntTableHandler(
    tupleObservable: TupleDataObservableHandler, dbSessionCreator: Callable[[], Session]
) -> OrmCrudHandler:
    """The handler for the admin's StringInt page."""
    handler = _StringIntCrudHandler(dbSessionCreator, StringIntTuple, filtKey, retreiveAll=True)
    handler.addExtension(StringIntTuple, _ExtUpdateObservable(tupleObservable))
    logger.debug("StringInt table handler started")
    return handler

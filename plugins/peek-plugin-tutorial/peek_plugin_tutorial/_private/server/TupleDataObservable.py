"""The tutorial's observable on the server, with its tuple providers registered."""

from collections.abc import Callable

from sqlalchemy.orm import Session

from peek_plugin_base.vortex import TupleDataObservableHandler
from peek_plugin_tutorial._private.PluginNames import tutorialFilt, tutorialObservableName
from peek_plugin_tutorial._private.server.tuple_providers.StringIntTotalTupleProvider import (
    StringIntTotalTupleProvider,
)
from peek_plugin_tutorial._private.server.tuple_providers.StringIntTupleProvider import (
    StringIntTupleProvider,
)
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.StringIntTotalTuple import StringIntTotalTuple


def makeTupleDataObservableHandler(
    ormSessionCreator: Callable[[], Session],
) -> TupleDataObservableHandler:
    """The observable devices (through the client service) subscribe to."""
    observable = TupleDataObservableHandler(
        observableName=tutorialObservableName, additionalFilt=tutorialFilt
    )
    observable.addTupleProvider(
        StringIntTuple.tupleName(), StringIntTupleProvider(ormSessionCreator)
    )
    # Chapter "Add Worker Service": the table's total, summed by a worker task.
    observable.addTupleProvider(StringIntTotalTuple.tupleName(), StringIntTotalTupleProvider())
    return observable

"""StringIntTotalTupleProvider: asks the worker for the StringInt total, serves it to observers."""

import logging
from typing import Any

from peek_plugin_base.vortex import Payload, TupleSelector, TuplesProviderABC
from peek_plugin_base.worker.DeferTask import deferTask
from peek_plugin_tutorial._private.tuples.StringIntTotalTuple import StringIntTotalTuple
from peek_plugin_tutorial._private.worker.TutorialTasks import totalStringInts

logger = logging.getLogger(__name__)


def stringIntTotalSelector() -> TupleSelector:
    """The selector observers of the total use; notify it when StringInt rows change."""
    return TupleSelector(StringIntTotalTuple.tupleName(), {})


class StringIntTotalTupleProvider(TuplesProviderABC):
    """One StringIntTotalTuple, computed by the worker task ``totalStringInts``.

    The observable runs this when the first observer subscribes and after each notify of
    the total's selector (the StringInt edits send one), so the sum is done on the worker,
    never on the server's reactor.
    """

    async def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        total = await deferTask(totalStringInts)
        logger.info("Worker task totalStringInts returned %s", total.total)
        return Payload(filt, tuples=[total]).toVortexMsg()

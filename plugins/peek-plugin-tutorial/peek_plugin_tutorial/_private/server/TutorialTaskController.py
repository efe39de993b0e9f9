"""Asks the worker service to do the tutorial's sums and logs the answers."""

import logging
from typing import Any, Optional

from twisted.internet.defer import Deferred

from peek_plugin_base.worker.DeferTask import deferTask
from peek_plugin_base.worker.errors import WorkerTaskError
from peek_plugin_tutorial._private.worker.TutorialTasks import (
    addNumbers,
    totalList,
    totalStringInts,
)

logger = logging.getLogger(__name__)


class TutorialTaskController:
    """Queues the tutorial's tasks when the plugin starts; ``shutdown`` cancels them."""

    def __init__(self) -> None:
        self._running: Optional[Deferred[Any]] = None

    def start(self) -> None:
        self._running = Deferred.fromCoroutine(self._askWorker())

    async def _askWorker(self) -> None:
        try:
            total = await deferTask(addNumbers, 7, 5)
            logger.info("Worker task addNumbers(7, 5) returned %s", total)
            list_total = await deferTask(totalList, [1, 2, 3.5])
            logger.info("Worker task totalList([1, 2, 3.5]) returned %s", list_total)
            # A task that reads the database on the worker and returns a bus tuple.
            totals = await deferTask(totalStringInts)
            logger.info("Worker task totalStringInts returned %s", totals.total)
        except WorkerTaskError as e:
            logger.error("Worker task failed: %s", e)

    def shutdown(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            # Cancelling the pending task's Deferred revokes it on the worker.
            running.cancel()
            running.addErrback(lambda _: None)

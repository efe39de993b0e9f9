"""The tutorial plugin's entry point on the worker service."""

import logging
from typing import Any

from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC

logger = logging.getLogger(__name__)


class WorkerEntryHook(PluginWorkerEntryHookABC):
    """Builds the plugin's worker-side objects in start() and tears them down in stop()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Everything start() creates; stop() shuts each down, newest first.
        self._loadedObjects: list[Any] = []

    @property
    def celeryAppIncludes(self) -> list[str]:
        """The modules holding this plugin's worker tasks; the worker imports them."""
        return ["peek_plugin_tutorial._private.worker.TutorialTasks"]

    def load(self) -> None:
        logger.debug("Loaded")

    def start(self) -> None:
        logger.debug("Started")

    def stop(self) -> None:
        while self._loadedObjects:
            self._loadedObjects.pop().shutdown()
        logger.debug("Stopped")

    def unload(self) -> None:
        logger.debug("Unloaded")

"""The tutorial plugin's entry point on the server service."""

import logging
from typing import Any

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.server.PluginServerWorkerEntryHookABC import (
    PluginServerWorkerEntryHookABC,
)
from peek_plugin_tutorial._private.server.TutorialTaskController import (
    TutorialTaskController,
)

logger = logging.getLogger(__name__)


class ServerEntryHook(PluginServerEntryHookABC, PluginServerWorkerEntryHookABC):
    """Builds the plugin's server-side objects in start() and tears them down in stop()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Everything start() creates; stop() shuts each down, newest first.
        self._loadedObjects: list[Any] = []

    def load(self) -> None:
        logger.debug("Loaded")

    def start(self) -> None:
        task_controller = TutorialTaskController()
        self._loadedObjects.append(task_controller)
        task_controller.start()
        logger.debug("Started")

    def stop(self) -> None:
        while self._loadedObjects:
            self._loadedObjects.pop().shutdown()
        logger.debug("Stopped")

    def unload(self) -> None:
        logger.debug("Unloaded")

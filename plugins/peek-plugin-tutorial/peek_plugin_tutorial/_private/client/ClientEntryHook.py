"""The tutorial plugin's entry point on the client service."""

import logging
from typing import Any

from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_tutorial._private.client.DeviceTupleDataObservableProxy import (
    makeDeviceTupleDataObservableProxy,
)
from peek_plugin_tutorial._private.client.DeviceTupleProcessorActionProxy import (
    makeTupleActionProcessorProxy,
)
from peek_plugin_tutorial._private.tuples import loadPrivateTuples

logger = logging.getLogger(__name__)


class ClientEntryHook(PluginClientEntryHookABC):
    """Builds the plugin's client-side objects in start() and tears them down in stop()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Everything start() creates; stop() shuts each down, newest first.
        self._loadedObjects: list[Any] = []

    def load(self) -> None:
        loadPrivateTuples()
        logger.debug("Loaded")

    def start(self) -> None:
        # Devices reach the server's observable and action processor through these.
        self._loadedObjects.append(makeDeviceTupleDataObservableProxy())
        self._loadedObjects.append(makeTupleActionProcessorProxy())
        logger.debug("Started")

    def stop(self) -> None:
        while self._loadedObjects:
            self._loadedObjects.pop().shutdown()
        logger.debug("Stopped")

    def unload(self) -> None:
        logger.debug("Unloaded")

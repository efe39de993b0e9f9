"""The tutorial plugin's entry point on the server service."""

import logging
from typing import Any

from sqlalchemy import MetaData

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.server.PluginServerStorageEntryHookABC import (
    PluginServerStorageEntryHookABC,
)
from peek_plugin_tutorial._private.storage import DeclarativeBase
from peek_plugin_tutorial._private.storage.DeclarativeBase import loadStorageTuples

logger = logging.getLogger(__name__)


class ServerEntryHook(PluginServerEntryHookABC, PluginServerStorageEntryHookABC):
    """Builds the plugin's server-side objects in start() and tears them down in stop().

    The server migrates schema pl_tutorial before constructing this class, so the
    tables exist by load(); ``dbSessionCreator`` gives sessions to use in threads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Everything start() creates; stop() shuts each down, newest first.
        self._loadedObjects: list[Any] = []

    def load(self) -> None:
        loadStorageTuples()
        logger.debug("Loaded")

    @property
    def dbMetadata(self) -> MetaData:
        return DeclarativeBase.metadata

    def start(self) -> None:
        logger.debug("Started")

    def stop(self) -> None:
        while self._loadedObjects:
            self._loadedObjects.pop().shutdown()
        logger.debug("Stopped")

    def unload(self) -> None:
        logger.debug("Unloaded")

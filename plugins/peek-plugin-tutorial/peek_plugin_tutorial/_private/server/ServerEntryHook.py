"""The tutorial plugin's entry point on the server service."""

import logging
from typing import Any, Optional

from sqlalchemy import MetaData

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.server.PluginServerStorageEntryHookABC import (
    PluginServerStorageEntryHookABC,
)
from peek_plugin_base.server.PluginServerWorkerEntryHookABC import (
    PluginServerWorkerEntryHookABC,
)
from peek_plugin_base.vortex import deferToThreadWrap
from peek_plugin_tutorial._private.rpc.RpcForAgent import RpcForAgent
from peek_plugin_tutorial._private.server.admin_backend import makeAdminBackendHandlers
from peek_plugin_tutorial._private.server.AgentRpcHandler import AgentRpcHandler
from peek_plugin_tutorial._private.server.controller.StringIntController import (
    StringIntController,
)
from peek_plugin_tutorial._private.server.ServerToAgentRpcCallExample import (
    ServerToAgentRpcCallExample,
)
from peek_plugin_tutorial._private.server.TupleActionProcessor import (
    makeTupleActionProcessorHandler,
)
from peek_plugin_tutorial._private.server.TupleDataObservable import (
    makeTupleDataObservableHandler,
)
from peek_plugin_tutorial._private.server.TutorialApi import TutorialApi
from peek_plugin_tutorial._private.server.TutorialTaskController import (
    TutorialTaskController,
)
from peek_plugin_tutorial._private.storage import DeclarativeBase
from peek_plugin_tutorial._private.storage.DeclarativeBase import loadStorageTuples
from peek_plugin_tutorial._private.storage.Setting import globalSetting
from peek_plugin_tutorial._private.tuples import loadPrivateTuples

logger = logging.getLogger(__name__)


class ServerEntryHook(
    PluginServerEntryHookABC, PluginServerStorageEntryHookABC, PluginServerWorkerEntryHookABC
):
    """Builds the plugin's server-side objects in start() and tears them down in stop().

    The server migrates schema pl_tutorial before constructing this class, so the
    tables exist by load(); ``dbSessionCreator`` gives sessions to use in threads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Everything start() creates; stop() shuts each down, newest first.
        self._loadedObjects: list[Any] = []
        #: The API other plugins get while this plugin runs (chapter "Add Plugin Python API").
        self._api: Optional[TutorialApi] = None

    def load(self) -> None:
        loadStorageTuples()
        loadPrivateTuples()
        logger.debug("Loaded")

    @property
    def dbMetadata(self) -> MetaData:
        return DeclarativeBase.metadata

    async def start(self) -> None:
        # Database work runs in a thread; the reactor thread only waits for the result.
        settings = await self._loadSettings()
        logger.info("Tutorial settings: %s", settings)

        # Data chapters: the observable, the admin tuple loader (which notifies the
        # observable) and the action processor (whose controller notifies it too).
        observable = makeTupleDataObservableHandler(self.dbSessionCreator)
        self._loadedObjects.append(observable)
        self._loadedObjects.extend(
            makeAdminBackendHandlers(observable, self.dbSessionCreator)
        )
        controller = StringIntController(self.dbSessionCreator, observable)
        self._loadedObjects.append(controller)
        self._loadedObjects.append(makeTupleActionProcessorHandler(controller))

        # Chapter "Add Vortex RPC": serve the agent's calls, and call the agent's RPCs
        # each time it says it is online.
        server_to_agent = ServerToAgentRpcCallExample().start()
        self._loadedObjects.append(server_to_agent)
        self._loadedObjects.extend(
            RpcForAgent(
                AgentRpcHandler(self.dbSessionCreator, server_to_agent.agentOnline)
            ).makeHandlers()
        )

        # Chapter "Add Plugin Python API": the object other plugins get.
        self._api = TutorialApi()
        self._loadedObjects.append(self._api)

        # Chapter "Add Worker Service": queue a task on the worker and log its result.
        task_controller = TutorialTaskController()
        self._loadedObjects.append(task_controller)
        task_controller.start()
        logger.debug("Started")

    @deferToThreadWrap
    def _loadSettings(self) -> dict[str, Any]:
        """Read the global settings, storing the defaults of any that are missing."""
        session = self.dbSessionCreator()
        try:
            values = globalSetting(session)
            session.commit()
            return values
        finally:
            session.close()

    def stop(self) -> None:
        while self._loadedObjects:
            self._loadedObjects.pop().shutdown()
        self._api = None
        logger.debug("Stopped")

    @property
    def publishedServerApi(self) -> Optional[TutorialApi]:
        """The TutorialApiABC implementation other server plugins get (None when stopped)."""
        return self._api

    def unload(self) -> None:
        logger.debug("Unloaded")

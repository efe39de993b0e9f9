"""The tutorial plugin's entry point on the agent service."""

import logging
from typing import Any

from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_tutorial._private.agent.AgentToServerRpcCallExample import (
    AgentToServerRpcCallExample,
)
from peek_plugin_tutorial._private.rpc.RpcForServer import RpcForServer

logger = logging.getLogger(__name__)


class AgentEntryHook(PluginAgentEntryHookABC):
    """Builds the plugin's agent-side objects in start() and tears them down in stop()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Everything start() creates; stop() shuts each down, newest first.
        self._loadedObjects: list[Any] = []

    def load(self) -> None:
        logger.debug("Loaded")

    def start(self) -> None:
        # Chapter "Add Vortex RPC": serve the server's calls, then call the server's RPCs
        # (now, and again after every reconnect).
        self._loadedObjects.extend(RpcForServer().makeHandlers())
        self._loadedObjects.append(AgentToServerRpcCallExample().start())
        logger.debug("Started")

    def stop(self) -> None:
        while self._loadedObjects:
            self._loadedObjects.pop().shutdown()
        logger.debug("Stopped")

    def unload(self) -> None:
        logger.debug("Unloaded")

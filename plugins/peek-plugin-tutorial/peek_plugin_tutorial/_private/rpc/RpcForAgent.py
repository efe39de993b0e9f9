"""The RPCs the tutorial's server serves for its agent (chapter "Add Vortex RPC").

Declared here, where both sides may import them: the agent calls ``RpcForAgent.addInts(...)``
and the server starts them with its ``AgentRpcHandler`` doing the work.
"""

import logging
from collections.abc import Iterator
from typing import Protocol

from peek_plugin_base.PeekVortexUtil import peekAgentName, peekServerName
from peek_plugin_base.vortex import RpcHandle, vortexRPC
from peek_plugin_tutorial._private.PluginNames import tutorialFilt

logger = logging.getLogger(__name__)


class AgentRpcHandlerProtocol(Protocol):
    """What the serving side supplies (the server's ``AgentRpcHandler``)."""

    def addStringInt(self, string1: str, int1: int) -> int: ...

    def agentOnline(self) -> None: ...


class RpcForAgent:
    """Procedures the agent calls; only connections authenticated as ``peek-agent`` may.

    The handler's ``agentOnline`` is called each time the agent reports that its own RPCs
    are being served, which is when the server may start calling them.
    """

    def __init__(self, handler: AgentRpcHandlerProtocol) -> None:
        self._handler = handler

    def makeHandlers(self) -> Iterator[RpcHandle]:
        """Start serving every RPC of this class; each handle's shutdown() stops one."""
        yield self.addInts.start(funcSelf=self)
        yield self.updateStatus.start(funcSelf=self)
        yield self.addStringInt.start(funcSelf=self)
        yield self.agentOnline.start(funcSelf=self)
        logger.debug("RPCs for the agent started")

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=tutorialFilt)
    def addInts(self, val1: int, kwval1: int = 9) -> int:
        """The simplest RPC there is: add two numbers."""
        return val1 + kwval1

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=tutorialFilt)
    def updateStatus(self, updateStr: str) -> None:
        """The agent reports progress of something it runs."""
        logger.info("Agent said: %s", updateStr)

    @vortexRPC(
        peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=tutorialFilt,
        deferToThread=True,
    )
    def addStringInt(self, string1: str, int1: int) -> int:
        """Insert a StringInt row for the agent and return its id.

        Database work blocks, so ``deferToThread=True`` runs this in the reactor's thread
        pool; the handler's code is ordinary blocking code.
        """
        return self._handler.addStringInt(string1, int1)

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=tutorialFilt)
    def agentOnline(self) -> None:
        """The agent serves its RPCs now (it calls this after every connect)."""
        self._handler.agentOnline()

"""The RPCs the tutorial's server serves for its agent (chapter "Add Vortex RPC")."""

import logging
from collections.abc import Callable, Iterator
from typing import Any

from peek_plugin_base.PeekVortexUtil import peekAgentName, peekServerName
from peek_plugin_base.vortex import RpcHandle, vortexRPC
from peek_plugin_tutorial._private.PluginNames import tutorialFilt
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple

logger = logging.getLogger(__name__)


class RpcForAgent:
    """Procedures the agent calls; only connections authenticated as ``peek-agent`` may.

    ``onAgentOnline`` is called each time the agent reports that its own RPCs are being
    served, which is when the server may start calling them.
    """

    def __init__(
        self, dbSessionCreator: Callable[[], Any], onAgentOnline: Callable[[], None]
    ) -> None:
        self._dbSessionCreator = dbSessionCreator
        self._onAgentOnline = onAgentOnline

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
        pool; everything in here is ordinary blocking code.
        """
        session = self._dbSessionCreator()
        try:
            row = StringIntTuple(string1=string1, int1=int1)
            session.add(row)
            session.commit()
            return int(row.id)
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=tutorialFilt)
    def agentOnline(self) -> None:
        """The agent serves its RPCs now (it calls this after every connect)."""
        # Not awaited: the agent's call returns at once, the server's calls follow.
        self._onAgentOnline()

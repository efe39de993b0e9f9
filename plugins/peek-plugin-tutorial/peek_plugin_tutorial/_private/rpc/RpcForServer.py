"""The RPCs the tutorial's agent serves for the server (chapter "Add Vortex RPC"), declared
where both sides may import them."""

import logging
from collections.abc import Iterator

from peek_plugin_base.PeekVortexUtil import peekAgentName, peekServerName
from peek_plugin_base.vortex import RpcHandle, vortexRPC
from peek_plugin_tutorial._private.PluginNames import tutorialFilt

logger = logging.getLogger(__name__)


class RpcForServer:
    """Procedures the server calls on the agent (e.g. to query a system only the agent
    can reach); only connections authenticated as ``peek-server`` may call them."""

    def makeHandlers(self) -> Iterator[RpcHandle]:
        """Start serving every RPC of this class; each handle's shutdown() stops one."""
        yield self.subInts.start(funcSelf=self)
        logger.debug("RPCs for the server started")

    @vortexRPC(peekAgentName, acceptOnlyFromVortex=peekServerName, additionalFilt=tutorialFilt)
    def subInts(self, val1: int, kwval1: int = 9) -> int:
        """Subtract ``kwval1`` from ``val1``."""
        return val1 - kwval1

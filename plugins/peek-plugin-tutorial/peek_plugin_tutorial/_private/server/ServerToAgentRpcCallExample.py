"""The server calling an RPC the agent serves (chapter "Add Vortex RPC")."""

import logging

from twisted.internet.defer import CancelledError, Deferred

from peek_plugin_tutorial._private.rpc.RpcForServer import RpcForServer

logger = logging.getLogger(__name__)


class ServerToAgentRpcCallExample:
    """Calls the agent's ``subInts(7, kwval1=5)`` whenever the agent comes online.

    The server's plugins may start long before any agent connects, and an agent that
    reconnects (after a restart of either side) serves its RPCs again, so the call is
    made each time the agent says it is ready (``RpcForAgent.agentOnline``), not once
    at start.
    """

    def __init__(self) -> None:
        #: Runs not finished yet (several agents, or one reconnecting, may overlap).
        self._running: set[Deferred[None]] = set()
        self._active = True

    def start(self) -> "ServerToAgentRpcCallExample":
        return self

    def agentOnline(self) -> None:
        """Run the example now (the agent just said its RPCs are served)."""
        if self._active:
            d = Deferred.fromCoroutine(self.run())
            if not d.called:
                self._running.add(d)
                d.addBoth(self._finished, d)

    def _finished(self, result: object, d: "Deferred[None]") -> object:
        self._running.discard(d)
        return result

    async def run(self) -> None:
        """Call the agent and log the answer; a failure is logged, never raised."""
        try:
            result = await RpcForServer.subInts(7, kwval1=5)
        except CancelledError:
            return  # the plugin is stopping
        except Exception as e:
            logger.warning("Tutorial RPC: subInts(7, kwval1=5) failed: %s: %s",
                           type(e).__name__, e)
            return
        logger.info("Tutorial RPC: subInts(7, kwval1=5) = %s", result)

    def shutdown(self) -> None:
        self._active = False
        for d in list(self._running):
            d.cancel()

"""The agent calling the RPCs the server serves (chapter "Add Vortex RPC")."""

import logging
from collections.abc import Callable
from typing import Optional

from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall

from peek_plugin_base.PeekVortexUtil import peekServerName
from peek_plugin_base.vortex import VortexSender, connection_events
from peek_plugin_tutorial._private.rpc.RpcForAgent import RpcForAgent

logger = logging.getLogger(__name__)

#: Where the example's addInts chain starts; five additions of 7 end at 40.
SEED_INT = 5


class AgentToServerRpcCallExample:
    """Runs the example each time the agent is connected to the server.

    The agent's plugins start once the first connection is up, so the example runs at
    start; after a lost connection (the server restarted) it runs again on the next one.
    It first tells the server that the agent's own RPCs are served, so the server can
    call them (see ``ServerToAgentRpcCallExample``).
    """

    def __init__(self) -> None:
        self._running: Optional[Deferred[None]] = None
        self._firstRun: Optional[IDelayedCall] = None
        self._removeListener: Callable[[], None] = lambda: None

    def start(self) -> "AgentToServerRpcCallExample":
        events = connection_events()
        self._removeListener = events.add_listener(self)
        if events.is_connected(peekServerName):
            # Not from start() itself: the plugin finishes starting first.
            self._firstRun = reactor.callLater(0, self._kickOff)
        return self

    def on_connection_open(self, connection: VortexSender) -> None:
        if connection.vortex_name == peekServerName:
            self._kickOff()

    def on_connection_lost(self, connection: VortexSender) -> None:
        """Calls in flight fail with ConnectionLostError; the next open runs again."""

    def _kickOff(self) -> None:
        if self._running is not None:
            self._running.cancel()
        self._running = Deferred.fromCoroutine(self.run())

    async def run(self) -> None:
        """Call the server's RPCs in turn; a failure is logged, never raised."""
        try:
            await RpcForAgent.agentOnline()
            await RpcForAgent.updateStatus("Agent RPC Example Started")
            seed_int = SEED_INT
            logger.debug("seedInt = %s", seed_int)
            for _ in range(5):
                seed_int = await RpcForAgent.addInts(seed_int, kwval1=7)
                logger.debug("seedInt = %s", seed_int)
            logger.info("Tutorial RPC: addInts chain from %s ended at %s", SEED_INT, seed_int)
            row_id = await RpcForAgent.addStringInt("Created from Agent RPC", 50)
            logger.debug("The server stored StringInt row %s", row_id)
            await RpcForAgent.updateStatus("Agent RPC Example Completed")
        except CancelledError:
            return  # stopping, or a new connection started a new run
        except Exception as e:
            logger.warning("Tutorial RPC: the agent's example failed: %s: %s",
                           type(e).__name__, e)

    def shutdown(self) -> None:
        self._removeListener()
        if self._firstRun is not None and self._firstRun.active():
            self._firstRun.cancel()
        if self._running is not None:
            self._running.cancel()
            self._running = None

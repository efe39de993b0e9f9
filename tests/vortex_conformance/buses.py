"""The two buses the conformance cases run on: MemoryVortex, and websockets on 127.0.0.1.

Both offer the same small surface (:class:`Bus`): a ``peek-server`` process, services that
connect to it, devices that connect to a client service's device websocket, dropping a
link (its connecting process goes away), and ``until`` to wait for what the cases check.
On the in-memory bus everything has happened when a call returns, so ``until`` only
checks; over websockets it waits (up to a deadline) for the reactor to carry the frames.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from peek_vortex.routing import PayloadRouter
from peek_vortex.testing import MemoryConnection, MemoryNode, MemoryVortex
from peek_vortex.transport import (
    AccessPolicy,
    VortexBridge,
    VortexClientService,
    VortexConnection,
    VortexServer,
)
from peek_vortex.wire.constants import CloseCode
from tests.vortex_transport.harness import FAST, TOKEN, client, listen, vortex_server, wait_for

#: Called with a new process before it connects (to register endpoints and listeners).
Prepare = Callable[["Process"], None]


@dataclass(eq=False)
class Process:
    """One simulated or real process: its vortex name and router (and its bus's handle)."""

    name: str
    router: PayloadRouter
    #: The bus's own object for it (a MemoryNode, or the websocket's bridge).
    handle: Any = None
    #: Over websockets: the client service that holds its connection.
    service: Optional[VortexClientService] = None
    #: Over websockets: the port of its device websocket, once one was asked for.
    device_port: Optional[int] = field(default=None)


@dataclass(eq=False)
class Link:
    """One connection: the process that connected and the two ends' connection objects."""

    process: Process
    #: The connection the connecting process holds (to the server or client service).
    connecting_end: Any
    #: The connection the accepting side holds (its view of the connecting process).
    accepting_end: Any


class Bus(Protocol):
    """What the conformance cases use of a bus."""

    server: Process

    async def service(self, name: str, prepare: Optional[Prepare] = None) -> Link:
        """A new service process ``name`` connected to the server."""

    async def device(self, name: str, client: Process) -> Link:
        """A new device process ``name`` connected to ``client``'s device websocket."""

    async def drop(self, link: Link) -> None:
        """The connecting process closes the link; returns when both sides were told."""

    async def until(self, condition: Callable[[], Any], what: str) -> Any:
        """The first truthy value of ``condition`` (the bus is given time to get there)."""


class MemoryBus:
    """The cases' bus as :class:`MemoryVortex` nodes on one Clock."""

    def __init__(self) -> None:
        self.vortex = MemoryVortex(Clock())
        node = self.vortex.node("peek-server")
        self.server = Process(node.name, node.router, node)

    async def service(self, name: str, prepare: Optional[Prepare] = None) -> Link:
        return self._link(self.vortex.node(name), self.server.handle, prepare)

    async def device(self, name: str, client: Process) -> Link:
        return self._link(self.vortex.node(name, device=True), client.handle, None)

    def _link(self, node: MemoryNode, to: MemoryNode, prepare: Optional[Prepare]) -> Link:
        process = Process(node.name, node.router, node)
        if prepare is not None:
            prepare(process)
        ours, theirs = self.vortex.link(node, to)
        return Link(process, ours, theirs)

    async def drop(self, link: Link) -> None:
        end: MemoryConnection = link.connecting_end
        # As a stopping client service does: it closes with 1001.
        end.close(int(CloseCode.GOING_AWAY), f"{link.process.name} shutting down")

    async def until(self, condition: Callable[[], Any], what: str) -> Any:
        value = condition()
        assert value, f"the in-memory bus has not got to {what}"
        return value


class WebsocketBus:
    """The cases' bus as real processes' parts: a VortexServer, VortexClientServices and a
    VortexBridge per process, over TCP on 127.0.0.1, on the reactor."""

    def __init__(self, test: TestCase) -> None:
        self._test = test
        router = PayloadRouter()
        self.server = Process("peek-server", router, VortexBridge(router, "peek-server"))
        endpoint = vortex_server()
        endpoint.handler = self.server.handle
        port = listen(endpoint)
        test.addCleanup(port.stopListening)
        self._port: int = port.getHost().port

    async def service(self, name: str, prepare: Optional[Prepare] = None) -> Link:
        return await self._connect(name, self._port, TOKEN, self.server, prepare)

    async def device(self, name: str, client: Process) -> Link:
        if client.device_port is None:
            hub = VortexServer(client.name, AccessPolicy.for_devices(), FAST,
                               client.handle.device_handler)
            port = listen(hub)
            self._test.addCleanup(port.stopListening)
            client.device_port = port.getHost().port
        return await self._connect(name, client.device_port, None, client, None)

    async def _connect(self, name: str, port: int, token: Optional[str], to: Process,
                       prepare: Optional[Prepare]) -> Link:
        router = PayloadRouter()
        bridge = VortexBridge(router, name)
        service = client(port, name, token=token, handler=bridge)
        process = Process(name, router, bridge, service)
        if prepare is not None:
            prepare(process)
        self._test.addCleanup(self._stop, service)
        await service.startService()
        ours = service.connection
        assert ours is not None
        accepting: VortexBridge = to.handle

        def theirs() -> Optional[VortexConnection]:
            # Both ends of a websocket carry the same connection uuid.
            return next((c for c in accepting.connections_named(name) if c.uuid == ours.uuid),
                        None)

        return Link(process, ours, await self.until(theirs, f"{to.name} accepting {name}"))

    @staticmethod
    async def _stop(service: VortexClientService) -> None:
        if service.running:
            await service.stopService()

    async def drop(self, link: Link) -> None:
        service = link.process.service
        assert service is not None
        await service.stopService()
        await self.until(lambda: link.connecting_end.closed and link.accepting_end.closed,
                         f"both ends of {link.process.name}'s connection closed")

    async def until(self, condition: Callable[[], Any], what: str) -> Any:
        return await wait_for(condition, what=what)

"""A real bus client protocol and server protocol joined in memory by ``twisted.test.iosim``.

No sockets and no wall clock: bytes move only when the test pumps, and every timer of
both ends (hello timeout, heartbeats) runs on one ``task.Clock`` the test advances.
"""

from dataclasses import dataclass
from typing import Optional

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.test.iosim import FakeTransport, IOPump, connect

from peek_vortex.transport import (
    AccessPolicy,
    TransportLimits,
    VortexClientService,
    VortexServer,
    VortexServerProtocol,
)
from peek_vortex.transport._client import VortexClientProtocol, _ClientFactory
from peek_vortex.wire import Hello
from tests.vortex_transport.harness import FAST, TOKEN, RecordingHandler

# autobahn's own handshake timers run on the global reactor; ours (on the Clock) cover them.
_NO_AUTOBAHN_TIMERS = {"openHandshakeTimeout": 0, "closeHandshakeTimeout": 0}


@dataclass
class MemoryPair:
    """Both ends of one in-memory bus connection and the pump between them."""

    clock: Clock
    vortex_server: VortexServer
    service: VortexClientService
    server: VortexServerProtocol
    client: VortexClientProtocol
    pump: IOPump
    server_handler: RecordingHandler
    client_handler: RecordingHandler

    def flush(self) -> None:
        """Move bytes both ways until neither end has anything to send."""
        self.pump.flush(advanceClock=False)


def memory_pair(
    name: str = "peek-agent",
    token: Optional[str] = TOKEN,
    server_limits: TransportLimits = FAST,
    client_limits: TransportLimits = FAST,
    greet: bool = True,
) -> MemoryPair:
    """Connect a client protocol to a server protocol in memory (the hello is pumped if
    ``greet``)."""
    clock = Clock()
    server_handler, client_handler = RecordingHandler(echo=True), RecordingHandler()
    endpoint = VortexServer("peek-server", AccessPolicy.for_server(lambda: TOKEN),
                                    server_limits, server_handler, clock=clock)
    endpoint.factory.setProtocolOptions(**_NO_AUTOBAHN_TIMERS)
    # Never started: it only lends the protocol its limits, handler, clock and logging.
    service = VortexClientService("vortex", "ws://127.0.0.1:9/vortexws", name, lambda: token,
                                  client_limits, client_handler, clock=clock)
    factory = _ClientFactory(service, Hello(name, token))
    factory.setProtocolOptions(**_NO_AUTOBAHN_TIMERS, serverConnectionDropTimeout=0)
    server_address = IPv4Address("TCP", "127.0.0.1", 9)
    client_address = IPv4Address("TCP", "127.0.0.1", 40000)
    server = endpoint.factory.buildProtocol(client_address)
    client = factory.buildProtocol(server_address)
    server_io = FakeTransport(server, isServer=True, hostAddress=server_address,
                              peerAddress=client_address)
    client_io = FakeTransport(client, isServer=False, hostAddress=client_address,
                              peerAddress=server_address)
    pump = connect(server, server_io, client, client_io, greet=False, clock=clock)
    # Outside a ClientService nobody awaits the welcome; a refusal must not go unhandled.
    client.welcomed.addErrback(lambda _: None)
    pair = MemoryPair(clock, endpoint, service, server, client, pump, server_handler,
                      client_handler)
    if greet:
        pair.flush()
    return pair

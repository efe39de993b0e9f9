"""exposeToDevices: exactly the declared RPCs and keys reach the server, as the device."""

import pytest

from peek_plugin_base.testing import MemoryNode, MemoryVortex
from peek_plugin_base.vortex import (
    AccessDeniedError,
    Payload,
    PayloadEndpoint,
    RemoteError,
    exposeToDevices,
    vortexRPC,
)
from peek_vortex.errors import NoEndpointError, RoutingError
from peek_vortex.wire import Originator
from tests.support import result_of


@vortexRPC("peek-server")
def serverSubInts(val1: int, kwval1: int = 9) -> int:
    """An RPC anyone may call."""
    return val1 - kwval1


@vortexRPC("peek-server", acceptOnlyFromVortex="peek-client")
def clientOnly() -> str:
    """An RPC meant for the client service only."""
    return "served"


def topology(bus: MemoryVortex) -> tuple[MemoryNode, MemoryNode, MemoryNode]:
    """server <- client <- device, the device on the client's device websocket."""
    server, client = bus.node("peek-server"), bus.node("peek-client")
    device = bus.node("peek-mobile", device=True)
    bus.link(client, server)
    bus.link(device, client)
    return server, client, device


def test_exposed_rpc_runs_for_the_device_and_sees_it_as_caller(bus: MemoryVortex) -> None:
    """An exposed RPC answers a device's call through the client; one meant for peek-client
    refuses it, naming the device; an unexposed one never leaves the client."""
    server, client, device = topology(bus)
    serverSubInts.start(router=server.router)
    clientOnly.start(router=server.router)
    forwarder = exposeToDevices(serverSubInts, clientOnly, router=client.router)
    assert result_of(serverSubInts.callThroughVia(device.router, "peek-client", 5, kwval1=2)) == 3
    with pytest.raises(RemoteError) as info:
        result_of(clientOnly.callThroughVia(device.router, "peek-client"))
    assert info.value.code == AccessDeniedError.code and "'peek-mobile'" in info.value.message
    forwarder.shutdown()
    with pytest.raises(RemoteError) as info:
        result_of(serverSubInts.callThroughVia(device.router, "peek-client", 5))
    assert info.value.code == NoEndpointError.code and "peek-client" in info.value.message


def test_exposed_key_carries_the_originator_and_one_owner_per_key(bus: MemoryVortex) -> None:
    """A forwarded message reaches the server stamped with the device; a key can be exposed
    once per client service."""
    server, client, device = topology(bus)
    seen: list = []
    PayloadEndpoint({"key": "k"}, lambda payloadEnvelope, **_: seen.append(
        payloadEnvelope.originator), router=server.router)
    exposeToDevices({"key": "k"}, router=client.router)
    device.router.send(Payload({"key": "k"}), "peek-client")
    assert seen == [Originator("peek-mobile", device.uuid, True)]
    with pytest.raises(RoutingError, match="'k' is already handled"):
        exposeToDevices("k", router=client.router)
    with pytest.raises(TypeError, match="exposeToDevices takes"):
        exposeToDevices(42, router=client.router)  # type: ignore[arg-type]

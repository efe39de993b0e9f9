"""Finding 2: an anonymous device reaches only what a client plugin exposes, as itself.

Real run_peek_server and run_peek_client processes with the tutorial plugin and a fixture
plugin (tests/security/boundary_probe.py); Python devices on the client's device sites
over real websockets, and a service peer holding the platform token.
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, Union

from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import filtKey
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import (
    peekAgentName,
    peekClientName,
    peekDesktopName,
    peekMobileName,
    peekServerName,
    peekWorkerName,
)
from peek_plugin_base.storage import TupleLoaderClient
from peek_plugin_base.vortex import (
    Payload,
    PayloadEndpoint,
    PayloadEnvelope,
    PayloadRouter,
    RemoteError,
)
from peek_vortex.transport import VortexBridge
from tests.e2e.devices_data import (
    ServerAndClient,
    VortexPeer,
)
from tests.security.boundary_probe import PLUGIN_SOURCE, WHO_AM_I, serviceOnly
from tests.support import write_plugin

PROBE = "fx_boundary_probe"
PLUGINS = ["peek_plugin_tutorial", PROBE]
#: Long enough for a loaded machine; a refusal comes back at once.
TIMEOUT = 10.0


class AnyAddressRouter(PayloadRouter):
    """A hostile device's router: writes whatever destination name it is given into the
    header (``d``) and sends every request over its one connection, to the client."""

    def __init__(self, connection: Callable[[], Any]) -> None:
        super().__init__()
        self._connection = connection

    def request(self, message: Union[Payload, PayloadEnvelope], destination: Any,
                timeout: Optional[float] = None) -> "Deferred[PayloadEnvelope]":
        envelope = message.makePayloadEnvelope() if isinstance(message, Payload) else message
        if isinstance(destination, str):
            envelope.destVortexName = destination
        return super().request(envelope, self._connection(), timeout)


class ForgedStamp(PayloadEnvelope):
    """An envelope whose header claims it was forwarded for someone else (``stamp``)."""

    __slots__ = ("stamp",)

    def __init__(self, *args: Any, stamp: Optional[list[Any]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stamp = stamp or [peekClientName, "forged-uuid", False]

    def header(self) -> dict[str, Any]:
        header = super().header()
        header["o"] = self.stamp
        return header


async def error_code(d: "Deferred[Any]") -> str:
    """The code of the RemoteError ``d`` fails with (a success fails the test)."""
    try:
        result = await d
    except RemoteError as e:
        return e.code
    raise AssertionError(f"expected a refusal, got {result!r}")


class DeviceBoundary(ServerAndClient, TestCase):
    """A server and a client service with the tutorial and probe plugins."""

    timeout = 90

    def setUp(self) -> None:
        plugins = Path(tempfile.mkdtemp(prefix="peek-sec-boundary-plugins-"))
        self.addCleanup(shutil.rmtree, plugins, True)
        write_plugin(plugins, PROBE, services=("server", "client"), init_source=PLUGIN_SOURCE)
        self.start_services(PLUGINS, "peek-sec-boundary-", pythonpath=plugins)

    async def hostile_peer(self, port: int, name: str) -> VortexPeer:
        """A device whose router addresses any vortex or connection it is told to."""
        peer = VortexPeer(port, name)
        peer.router = AnyAddressRouter(lambda: peer.service.connection)
        peer.bridge = VortexBridge(peer.router, name)
        peer.service.handler = peer.bridge
        self.addCleanup(peer.close)
        await peer.connect()
        return peer

    def request(self, device: VortexPeer, envelope: PayloadEnvelope, to: str) -> "Deferred[Any]":
        return device.router.request(envelope, to, timeout=TIMEOUT)

    async def _addressing(self) -> None:
        device = await self.hostile_peer(self.mobile_port, peekMobileName)
        desktop = await self.peer(self.desktop_port, peekDesktopName)
        reached: list[PayloadEnvelope] = []
        PayloadEndpoint({"key": "probe.desktop"}, lambda payloadEnvelope, **_: reached.append(
            payloadEnvelope), router=desktop.router)
        for name in (peekServerName, peekAgentName, peekWorkerName, peekDesktopName):
            for key in (WHO_AM_I, "probe.desktop"):
                code = await error_code(self.request(device, PayloadEnvelope({"key": key}), name))
                assert code == "AccessDeniedError", (name, key, code)
        desktop_uuid = desktop.service.connection.uuid
        other = PayloadEnvelope({"key": "probe.desktop"}, destVortexUuid=desktop_uuid)
        assert await error_code(self.request(device, other, peekClientName)) == (
            "AccessDeniedError")
        # A round trip from the desktop: anything forwarded to it would have arrived first.
        sync = PayloadEnvelope({"key": "probe.sync"})
        assert await error_code(self.request(desktop, sync, peekClientName)) == (
            "NoEndpointError")
        assert reached == []
        assert "Refused a device message from peek-mobile" in self.client.log()

    def test_device_cannot_address_other_vortexes_or_connections(self) -> Deferred[None]:
        """A device's requests addressed to peek-server, peek-agent, peek-worker, another
        device name or another connection's uuid reach no handler (the server's probe
        endpoint, the other device) and are answered with AccessDeniedError."""
        return Deferred.fromCoroutine(self._addressing())

    async def _admin_crud(self) -> None:
        admin = await self.peer(self.platform_port, peekClientName, self.token)
        loader = TupleLoaderClient(filtKey, router=admin.router, timeoutSeconds=TIMEOUT)
        (row,) = await loader.save([StringIntTuple(string1="kept", int1=1)])
        device = await self.hostile_peer(self.mobile_port, peekMobileName)
        sneaky = TupleLoaderClient(filtKey, peekServerName, device.router, timeoutSeconds=5)
        row.int1 = 666
        attempts = (
            lambda: sneaky.save([StringIntTuple(string1="from a device", int1=0)]),
            lambda: sneaky.save([row]),
            lambda: sneaky.delete(id=row.id),
            lambda: sneaky.load(),
        )
        outcomes = []
        for attempt in attempts:
            try:
                outcomes.append(await error_code(attempt()))
            except Exception as e:  # e.g. no answer: the table check below says more
                outcomes.append(type(e).__name__)
        assert [(t.id, t.string1, t.int1) for t in await loader.load()] == [
            (row.id, "kept", 1)]
        assert outcomes == ["AccessDeniedError"] * len(attempts)

    def test_device_cannot_drive_the_tutorial_admin_crud(self) -> Deferred[None]:
        """A device addressing the server's admin edit handler (OrmCrudHandler) cannot
        insert, update, delete or read rows: every attempt is refused, the table is as
        the admin left it."""
        return Deferred.fromCoroutine(self._admin_crud())

    async def _originator(self) -> None:
        device = await self.peer(self.mobile_port, peekMobileName)
        me = {"vortexName": peekMobileName, "vortexUuid": device.service.connection.uuid,
              "isDevice": True}
        reply = await self.request(device, PayloadEnvelope({"key": WHO_AM_I}), peekClientName)
        assert reply.result == me
        # A stamp the device writes itself (header 'o') is replaced by the client's.
        reply = await self.request(device, ForgedStamp({"key": WHO_AM_I}), peekClientName)
        assert reply.result == me
        # The exposed service-only RPC refuses the device, naming it; peek-client may call.
        try:
            await serviceOnly.callThroughVia(device.router, peekClientName)
        except RemoteError as e:
            assert e.code == "AccessDeniedError" and repr(peekMobileName) in e.message, e
        else:
            raise AssertionError("a device-originated call reached a peek-client-only RPC")
        service = await self.peer(self.platform_port, peekClientName, self.token)
        assert await serviceOnly.callVia(service.router) == "served"
        reply = await self.request(service, Payload({"key": WHO_AM_I}).makePayloadEnvelope(),
                                   peekServerName)
        assert reply.result["vortexName"] == peekClientName and not reply.result["isDevice"]
        # A service carries only a device's stamp through: it never speaks as another
        # service, peek-server included, whether or not the stamp says "device".
        for stamp in ([peekServerName, "forged", False], [peekServerName, "forged", True],
                      [peekAgentName, "forged", False]):
            reply = await self.request(service, ForgedStamp({"key": WHO_AM_I}, stamp=stamp),
                                       peekServerName)
            assert reply.result["vortexName"] == peekClientName, (stamp, reply.result)

    def test_server_handlers_see_the_device_as_originator(self) -> Deferred[None]:
        """Through an exposed forward the server sees peek-mobile (its connection uuid,
        isDevice) and never peek-client, whatever originator stamp the device writes;
        an RPC with acceptOnlyFromVortex=peek-client refuses the device's call; a service
        connection's stamp naming another service (peek-server) is replaced by its own."""
        return Deferred.fromCoroutine(self._originator())

"""A fixture plugin's handlers for the device-boundary tests (imported by services and tests).

On the server: ``serviceOnly`` (an RPC accepting only ``peek-client``) and the
``probe.whoAmI`` endpoint, which answers with the originator it sees. On the client
service: both exposed to devices through ``exposeToDevices``.
"""

from typing import Any

from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.PeekVortexUtil import peekClientName, peekServerName
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import Payload, PayloadEndpoint, PayloadEnvelope, vortexRPC

#: The filt key of the endpoint answering with the originator the server sees.
WHO_AM_I = "probe.whoAmI"


@vortexRPC(peekServerName, acceptOnlyFromVortex=peekClientName)
def serviceOnly() -> str:
    """An RPC meant for the client service only."""
    return "served"


def _who_am_i(payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str,
              sendResponse: Any, **_: Any) -> None:
    origin = payloadEnvelope.originator
    assert origin is not None
    sendResponse(Payload(result={"vortexName": vortexName, "vortexUuid": vortexUuid,
                                 "isDevice": origin.isDevice}))


class ServerHook(PluginServerEntryHookABC):
    """Serves the probe's RPC and endpoint on the server."""

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._handles = [serviceOnly.start(), PayloadEndpoint({"key": WHO_AM_I}, _who_am_i)]

    def stop(self) -> None:
        for handle in self._handles:
            handle.shutdown()

    def unload(self) -> None:
        pass


class ClientHook(PluginClientEntryHookABC):
    """Exposes the probe's RPC and endpoint to devices."""

    def load(self) -> None:
        pass

    def start(self) -> None:
        from peek_plugin_base.vortex import exposeToDevices

        self._forwarder = exposeToDevices(serviceOnly, WHO_AM_I)

    def stop(self) -> None:
        self._forwarder.shutdown()

    def unload(self) -> None:
        pass


PLUGIN_SOURCE = '''
"""Fixture plugin for the device-boundary tests."""
from tests.security.boundary_probe import ClientHook, ServerHook


def peekServerEntryHook():
    return ServerHook


def peekClientEntryHook():
    return ClientHook
'''

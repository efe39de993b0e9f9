"""Entry hooks of ``fx_browser``, the fixture plugin the browser bus client tests enable.

Its client part exposes RPCs to devices (listening on ``peek-client``): ``echo`` answers
its arguments with what the codec carried, ``fail`` raises a ``RemoteError``. Its server
part exposes an RPC on ``peek-server`` only, which a page must never reach.
"""

import logging
from typing import Any

from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.PeekVortexUtil import peekClientName, peekServerName
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import RemoteError, vortexRPC

logger = logging.getLogger(__name__)


@vortexRPC(peekClientName)
def echo(value: Any, times: int = 1) -> dict[str, Any]:
    """The value, repeated ``times`` in a list, with the Python type name the codec gave it."""
    return {"values": [value] * times, "type": type(value).__name__}


@vortexRPC(peekClientName)
def fail(code: str, message: str) -> None:
    """Answers with the error asked for."""
    raise RemoteError(code, message)


@vortexRPC(peekServerName)
def serverSecret() -> str:
    """Only services may call this; a device's call is refused at the client service."""
    logger.warning("fx_browser: serverSecret was called")
    return "secret"


class FixtureClientHook(PluginClientEntryHookABC):
    """Starts the device RPCs."""

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._handles = [echo.start(), fail.start()]

    def stop(self) -> None:
        for handle in self._handles:
            handle.shutdown()

    def unload(self) -> None:
        pass


class FixtureServerHook(PluginServerEntryHookABC):
    """Starts the server-only RPC."""

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._handle = serverSecret.start()

    def stop(self) -> None:
        self._handle.shutdown()

    def unload(self) -> None:
        pass


def peekClientEntryHook() -> type[PluginClientEntryHookABC]:
    """The client hook class (the plugin contract's entry function)."""
    return FixtureClientHook


def peekServerEntryHook() -> type[PluginServerEntryHookABC]:
    """The server hook class (the plugin contract's entry function)."""
    return FixtureServerHook

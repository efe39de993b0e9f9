"""The bus transport: authenticated websocket connections carrying opaque binary frames.

The layer above implements ``VortexHandler`` (``on_open``, ``on_frame``, ``on_close``)
and talks to peers through ``VortexConnection`` (``name``, ``uuid``, ``send``,
``writable``, ``close``). The server side is a ``VortexServerEndpoint`` mounted on a
twisted.web site; the connecting side is a ``VortexClientService``.
"""

from peek_platform.vortex.transport.access import AccessPolicy
from peek_platform.vortex.transport.backoff import Backoff
from peek_platform.vortex.transport.client import VortexClientService
from peek_platform.vortex.transport.connection import (
    CloseReason,
    NullHandler,
    TransportLimits,
    VortexConnection,
    VortexHandler,
)
from peek_platform.vortex.transport.hello import CloseCode, Hello, Welcome
from peek_platform.vortex.transport.server import VortexHubService, VortexServerEndpoint

__all__ = [
    "AccessPolicy",
    "Backoff",
    "CloseCode",
    "CloseReason",
    "Hello",
    "NullHandler",
    "TransportLimits",
    "VortexClientService",
    "VortexConnection",
    "VortexHandler",
    "VortexHubService",
    "VortexServerEndpoint",
    "Welcome",
]

"""DeviceForwarder: the client service's declared list of messages devices may send upstream."""

import logging
from collections.abc import Iterable
from typing import Any, Optional, Union

from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._call_support import Responder, forward_upstream
from peek_vortex.handlers._rpc import VortexRPC
from peek_vortex.routing._names import (
    AcceptNames,
    peekDesktopName,
    peekMobileName,
    peekServerName,
)
from peek_vortex.routing._router import PayloadRouter
from peek_vortex.wire._codec import PayloadEnvelope

logger = logging.getLogger(__name__)

#: What may be exposed: a filt ``key`` value, a whole filt dict, or an RPC.
Exposed = Union[str, dict[str, Any], VortexRPC]

#: The names devices connect to a client service with.
DEVICE_VORTEX_NAMES = (peekMobileName, peekDesktopName)


def _filt_of(item: Exposed) -> dict[str, Any]:
    if isinstance(item, VortexRPC):
        return dict(item.filt)
    if isinstance(item, str):
        return {"key": item}
    if isinstance(item, dict) and isinstance(item.get("key"), str):
        return dict(item)
    raise TypeError(
        "exposeToDevices takes filt keys (str), filt dicts with a 'key', or @vortexRPC "
        f"functions; got {item!r}"
    )


class DeviceForwarder(HandlerBase):
    """Forwards the messages a client plugin declares to ``proxyToVortexName``.

    Devices reach the server only through what a client plugin exposes: its observable
    proxies, its action proxies, and this. Each item of ``exposed`` is a filt ``key``
    (``"myPlugin.thing"``), a filt dict (``{"key": ..., **additionalFilt}``) or a
    ``@vortexRPC`` function (its filt). A device addresses these messages to the client
    service (header ``d`` absent or the client's name, never the server's); the
    forwarder sends them upstream with the device's originator stamp, so the server's
    handlers and ``acceptOnlyFromVortex`` see ``peek-mobile``/``peek-desktop`` with
    ``isDevice`` true, never ``peek-client``. Requests get exactly one answer: the
    upstream's, or an error when it cannot be reached or does not answer within
    ``timeoutSeconds``. Only ``acceptOnlyFromVortex`` (default: the device names) may use
    it. Everything else a device sends stays on the client service.
    """

    def __init__(
        self,
        exposed: Iterable[Exposed],
        proxyToVortexName: str = peekServerName,
        router: Optional[PayloadRouter] = None,
        timeoutSeconds: float = 30.0,
        acceptOnlyFromVortex: AcceptNames = DEVICE_VORTEX_NAMES,
    ) -> None:
        self.proxyToVortexName = proxyToVortexName
        self.timeoutSeconds = timeoutSeconds
        self.filts = [_filt_of(item) for item in exposed]
        if not self.filts:
            raise ValueError("DeviceForwarder needs at least one filt key, filt or RPC")
        super().__init__(router)
        try:
            for filt in self.filts:
                # One handler per key: two would answer a device's request twice.
                self._claim(filt["key"])
                self._listen(filt, self._forward, acceptOnlyFromVortex)
        except Exception:
            # What was claimed before the refused key is released again.
            self.shutdown()
            raise
        self._own(f"device forwarder {[f['key'] for f in self.filts]!r} -> "
                  f"{proxyToVortexName!r}")

    def _forward(
        self, payloadEnvelope: PayloadEnvelope, sendResponse: Responder, **_: Any
    ) -> None:
        forward_upstream(self._router, payloadEnvelope, self.proxyToVortexName,
                         self.timeoutSeconds, sendResponse, repr(self))

    def __repr__(self) -> str:
        return f"DeviceForwarder({[f['key'] for f in self.filts]!r} -> {self.proxyToVortexName!r})"


def exposeToDevices(
    *exposed: Exposed,
    proxyToVortexName: str = peekServerName,
    router: Optional[PayloadRouter] = None,
    timeoutSeconds: float = 30.0,
) -> DeviceForwarder:
    """Declare filt keys, filts or RPCs devices may send upstream; see :class:`DeviceForwarder`.

    Call it in a client plugin's ``start()`` and shut the result down in ``stop()``
    (unloading the plugin does that too)::

        self._forwarder = exposeToDevices(RpcForDevices.listTasks, "myPlugin.ping")
    """
    return DeviceForwarder(exposed, proxyToVortexName, router, timeoutSeconds)

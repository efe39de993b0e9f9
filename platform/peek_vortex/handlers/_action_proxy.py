"""TupleActionProcessorProxy: the client service's relay of device actions to the server."""

from typing import Any, Optional

from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._call_support import Responder, forward_upstream
from peek_vortex.routing._router import PayloadRouter
from peek_vortex.tuples._actions import action_filt
from peek_vortex.wire._codec import PayloadEnvelope


class TupleActionProcessorProxy(HandlerBase):
    """Forwards actions for ``tupleActionProcessorName`` to ``proxyToVortexName`` and relays
    the answer back to the device that sent each one.

    The action bytes are forwarded as received (only the header is rewritten) and the
    server's response goes back the same way, so the proxy never decodes or re-encodes
    tuples. The device's originator stamp goes along, so the server's processor (and its
    ``acceptOnlyFromVortex``) sees the device, not the client service. Each forwarded
    action gets exactly one response: the server's, or an error when the server cannot
    be reached (``ConnectionLostError``, ``NoTransportError``) or does not
    answer within ``timeoutSeconds`` (``ReplyTimeoutError``). The messages are those of
    :class:`~peek_vortex.handlers._action_processor.TupleActionProcessor`; retries from a
    device are forwarded too and answered once per action id by the server's processor.
    """

    def __init__(
        self,
        tupleActionProcessorName: str,
        proxyToVortexName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        router: Optional[PayloadRouter] = None,
        timeoutSeconds: float = 30.0,
    ) -> None:
        super().__init__(router)
        self.tupleActionProcessorName = tupleActionProcessorName
        self.proxyToVortexName = proxyToVortexName
        self.filt = action_filt(tupleActionProcessorName, additionalFilt)
        self.timeoutSeconds = timeoutSeconds
        self._claim(self.filt["key"])
        self._listen(self.filt, self._forward)
        self._own(f"tuple action proxy {tupleActionProcessorName!r} -> {proxyToVortexName!r}")

    def _forward(
        self, payloadEnvelope: PayloadEnvelope, sendResponse: Responder, **_: Any
    ) -> None:
        forward_upstream(self._router, payloadEnvelope, self.proxyToVortexName,
                         self.timeoutSeconds, sendResponse, repr(self))

    def __repr__(self) -> str:
        return (f"TupleActionProcessorProxy({self.tupleActionProcessorName!r} -> "
                f"{self.proxyToVortexName!r})")

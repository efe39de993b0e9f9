"""TupleActionProcessorProxy: the client service's relay of device actions to the server."""

import logging
from typing import Any, Optional

from twisted.python.failure import Failure

from peek_plugin_base.registrations import record_registration
from peek_plugin_base.vortex.actions import action_filt
from peek_plugin_base.vortex.call_support import (
    Responder,
    claim_key,
    error_envelope,
    release_key,
)
from peek_plugin_base.vortex.error_reply import error_reply
from peek_plugin_base.vortex.payload import PayloadEnvelope
from peek_plugin_base.vortex.router import PayloadEndpoint, PayloadRouter, default_router

logger = logging.getLogger(__name__)


def _relayed(envelope: PayloadEnvelope, filt: dict[str, Any]) -> PayloadEnvelope:
    """A copy of ``envelope`` with the same body bytes and no routing ids."""
    return PayloadEnvelope(
        filt=filt,
        encodedPayload=envelope.encodedPayload,
        result=envelope.result,
        error=envelope.error,
        compression=envelope.compression,
        inflatedSize=envelope.inflatedSize,
    )


class TupleActionProcessorProxy:
    """Forwards actions for ``tupleActionProcessorName`` to ``proxyToVortexName`` and relays
    the answer back to the device that sent each one.

    The action bytes are forwarded as received (only the header is rewritten) and the
    server's response goes back the same way, so the proxy never decodes or re-encodes
    tuples. Each forwarded action gets exactly one response: the server's, or an error when
    the server cannot be reached (``ConnectionLostError``, ``NoTransportError``) or does not
    answer within ``timeoutSeconds`` (``ReplyTimeoutError``). The messages are those of
    :class:`~peek_plugin_base.vortex.action_processor.TupleActionProcessor`; retries from a
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
        self.tupleActionProcessorName = tupleActionProcessorName
        self.proxyToVortexName = proxyToVortexName
        self.filt = action_filt(tupleActionProcessorName, additionalFilt)
        self.timeoutSeconds = timeoutSeconds
        self._router = router or default_router()
        claim_key(self._router, self.filt["key"], self)
        self._endpoint = PayloadEndpoint(self.filt, self._forward, router=self._router)
        record_registration(
            f"tuple action proxy {tupleActionProcessorName!r} -> {proxyToVortexName!r}",
            self.shutdown,
        )

    def shutdown(self) -> None:
        """Stop forwarding; safe to call more than once."""
        self._endpoint.shutdown()
        release_key(self._router, self.filt["key"], self)

    def _forward(
        self,
        payloadEnvelope: PayloadEnvelope,
        vortexName: str,
        vortexUuid: str,
        sendResponse: Responder,
    ) -> None:
        upstream = _relayed(payloadEnvelope, payloadEnvelope.filt)
        if payloadEnvelope.messageId is None:
            # Nobody waits for an answer: pass it on without one.
            self._router.send(upstream, self.proxyToVortexName)
            return

        def answer(envelope: PayloadEnvelope) -> None:
            try:
                sendResponse(envelope)
            except Exception as e:  # the device may be gone; nothing else to tell
                logger.warning("Action proxy %r: could not answer %s (%s): %s",
                               self.tupleActionProcessorName, vortexName, vortexUuid, e)

        def failed(failure: Failure) -> None:
            answer(error_envelope(*error_reply(
                failure, logger, f"Action proxy {self.tupleActionProcessorName!r}")))

        d = self._router.request(upstream, self.proxyToVortexName, timeout=self.timeoutSeconds)
        d.addCallbacks(lambda reply: answer(_relayed(reply, {})), failed)

    def __repr__(self) -> str:
        return (f"TupleActionProcessorProxy({self.tupleActionProcessorName!r} -> "
                f"{self.proxyToVortexName!r})")

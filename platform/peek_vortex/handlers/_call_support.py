"""Helpers shared by the action and RPC handlers: key claims, error replies, forwarding."""

import logging
from collections.abc import Callable
from typing import Any

from twisted.python.failure import Failure

from peek_vortex.errors import RoutingError, error_reply
from peek_vortex.routing._router import PayloadRouter
from peek_vortex.wire._codec import PayloadEnvelope

logger = logging.getLogger(__name__)
#: The ``sendResponse`` callable an endpoint callback is given.
Responder = Callable[..., None]


def error_envelope(code: str, message: str) -> PayloadEnvelope:
    """A reply carrying only an error (replies have an empty filt)."""
    return PayloadEnvelope(filt={}, error=(code, message))


def claim_key(router: PayloadRouter, key: str, owner: object) -> None:
    """Make ``owner`` the only action/RPC handler of filt ``key`` on ``router`` (its
    ``handler_claims``: two owners would answer one call twice)."""
    claims = router.handler_claims
    existing = claims.get(key)
    if existing is not None and existing is not owner:
        raise RoutingError(
            f"{key!r} is already handled on this bus by {existing!r}; one handler per name "
            f"(each call must be answered once), cannot add {owner!r}"
        )
    claims[key] = owner


def release_key(router: PayloadRouter, key: str, owner: object) -> None:
    """Undo :func:`claim_key` (only if ``owner`` still holds the key)."""
    claims = router.handler_claims
    if claims.get(key) is owner:
        del claims[key]


def relayed(envelope: PayloadEnvelope, filt: dict[str, Any]) -> PayloadEnvelope:
    """A copy of ``envelope`` with the same body bytes and originator, and no routing ids."""
    return PayloadEnvelope(
        filt=filt,
        encodedPayload=envelope.encodedPayload,
        result=envelope.result,
        error=envelope.error,
        compression=envelope.compression,
        inflatedSize=envelope.inflatedSize,
        originator=envelope.originator,
    )


def forward_upstream(
    router: PayloadRouter,
    envelope: PayloadEnvelope,
    upstream: str,
    timeoutSeconds: float,
    sendResponse: Responder,
    label: str,
) -> None:
    """Forward a received message to ``upstream`` on its originator's behalf.

    The body bytes go as received and the originator stamp goes along (header ``o``), so
    the upstream handlers and their ``acceptOnlyFromVortex`` see who really sent it. A
    request gets exactly one answer back through ``sendResponse``: the upstream's, or an
    error when upstream cannot be reached or does not answer in ``timeoutSeconds``.
    """
    upstream_envelope = relayed(envelope, envelope.filt)
    if envelope.messageId is None:
        # Nobody waits for an answer: pass it on without one.
        router.send(upstream_envelope, upstream)
        return

    def answer(reply: PayloadEnvelope) -> None:
        try:
            sendResponse(reply)
        except Exception as e:  # the sender may be gone; nothing else to tell
            logger.warning("%s: could not answer %s: %s", label, envelope.originator, e)

    def failed(failure: Failure) -> None:
        answer(error_envelope(*error_reply(failure, logger, label)))

    d = router.request(upstream_envelope, upstream, timeout=timeoutSeconds)
    d.addCallbacks(lambda reply: answer(relayed(reply, {})), failed)

"""TupleActionPushClient: pushes actions from Python (devices, services, tests), awaits answers."""

from typing import Any, Optional

from twisted.internet.defer import Deferred

from peek_vortex.errors import (
    ActionTimeoutError,
    ConnectionLostError,
    ReplyTimeoutError,
)
from peek_vortex.routing._router import PayloadRouter, default_router, require_reactor_thread
from peek_vortex.tuples._actions import TupleActionABC, action_filt, action_type_name
from peek_vortex.wire._codec import Payload, PayloadEnvelope


class TupleActionPushClient:
    """Sends actions to the processor ``tupleActionProcessorName`` at ``destVortexName``.

    A device pushes to its client service (``peek-client``, whose
    :class:`~peek_vortex.handlers._action_proxy.TupleActionProcessorProxy` relays to the
    server); a service can push straight to ``peek-server``.

    Wire format: the request is one message whose header ``f`` is
    ``{**additionalFilt, "key": "vortex.action.<tupleActionProcessorName>"}`` with a message
    id ``m``, and whose body holds the one action tuple; the response is described in
    :class:`~peek_vortex.handlers._action_processor.TupleActionProcessor`.
    """

    def __init__(
        self,
        tupleActionProcessorName: str,
        destVortexName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        router: Optional[PayloadRouter] = None,
        timeoutSeconds: float = 30.0,
    ) -> None:
        self.tupleActionProcessorName = tupleActionProcessorName
        self.destVortexName = destVortexName
        self.filt = action_filt(tupleActionProcessorName, additionalFilt)
        self.timeoutSeconds = timeoutSeconds
        self._router = router

    @property
    def router(self) -> PayloadRouter:
        return self._router or default_router()

    def pushAction(
        self, tupleAction: TupleActionABC, timeout: Optional[float] = None, retries: int = 0
    ) -> "Deferred[list[Any]]":
        """Send ``tupleAction``; the Deferred fires with the result tuples.

        It fails with :class:`~peek_vortex.errors.RemoteError` carrying the
        processor's error code and message, or with :class:`ActionTimeoutError` when no
        answer came within ``timeout`` seconds on each of ``1 + retries`` attempts. A retry
        sends the same action (same ``uuid``), so the processor runs it at most once; a
        lost connection is retried the same way. Call it on the reactor thread (a
        RoutingError says so otherwise).
        """
        require_reactor_thread(f"pushAction of {self!r}")
        if not isinstance(tupleAction, TupleActionABC):
            raise TypeError(
                f"pushAction needs a TupleActionABC tuple, got {type(tupleAction).__name__}"
            )
        return Deferred.fromCoroutine(
            self._push(tupleAction, self.timeoutSeconds if timeout is None else timeout, retries)
        )

    async def _push(self, action: TupleActionABC, timeout: float, retries: int) -> list[Any]:
        # Encoded once; every attempt sends the same body bytes.
        encoded = Payload(filt=self.filt, tuples=[action]).makePayloadEnvelope()
        attempts = 0
        while True:
            attempts += 1
            attempt = PayloadEnvelope(
                filt=encoded.filt,
                encodedPayload=encoded.encodedPayload,
                compression=encoded.compression,
                inflatedSize=encoded.inflatedSize,
            )
            try:
                reply = await self.router.request(attempt, self.destVortexName, timeout=timeout)
            except (ReplyTimeoutError, ConnectionLostError) as e:
                if attempts <= retries:
                    continue
                if isinstance(e, ConnectionLostError):
                    raise
                raise ActionTimeoutError(
                    action_type_name(action), action.uuid, self.tupleActionProcessorName,
                    f"vortex {self.destVortexName!r}", timeout, attempts,
                ) from None
            return reply.decodePayload().tuples

    def __repr__(self) -> str:
        return (f"TupleActionPushClient({self.tupleActionProcessorName!r} -> "
                f"{self.destVortexName!r})")

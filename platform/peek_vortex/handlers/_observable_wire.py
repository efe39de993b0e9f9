"""The observable messages on the wire: one encoder shared by handler, proxy and client."""

import logging
from collections.abc import Callable
from typing import Any, Optional, Protocol, Union

from peek_vortex._log_throttle import LogThrottle
from peek_vortex.errors import DecodeError, TooManySubscriptionsError
from peek_vortex.wire._codec import Payload, PayloadEnvelope

logger = logging.getLogger(__name__)

#: A slow subscriber refuses every update until it drains or is closed: one line per
#: kind of failure and interval, not one per update.
_send_failures = LogThrottle(logger)

#: The error code of a subscribe refused because of the cap on subscriptions per
#: connection (a router's ``max_subscriptions_per_connection``).
TOO_MANY_SUBSCRIPTIONS = TooManySubscriptionsError.code

OBSERVABLE_KEY = "tupleDataObservable"

OP_SUBSCRIBE = "subscribe"
OP_UNSUBSCRIBE = "unsubscribe"
OP_POLL = "poll"
OP_UPDATE = "update"
OP_ERROR = "error"

#: Filt keys the observable messages use; ``additionalFilt`` may not set them.
RESERVED_FILT_KEYS = frozenset(("key", "name", "op", "tupleSelector", "version", "epoch"))

ProviderResult = Union[bytes, Payload, PayloadEnvelope]


class ObservableMessages:
    """Builds and reads the messages of one observable (name plus ``additionalFilt``).

    Observable wire messages
    ========================

    Every message is an ordinary bus message (see
    :class:`~peek_vortex.wire._codec.VortexCodec`) whose header filt is::

        {"key": "tupleDataObservable", "name": <observableName>, **additionalFilt,
         "op": <operation>, "tupleSelector": <selector key>, ...}

    where ``<selector key>`` is ``TupleSelector.toJsonStr()`` (a stable string: the
    same selector always gives the same key). The operations:

    ``subscribe`` (observer -> observable, sent to the observable's vortex name, no
        body, no message id)
        Start receiving the selector's data on this connection. Idempotent: a repeat
        from the same connection just re-sends the current data. The first ``update``
        the subscriber receives is the current data; every later state follows in order.
    ``unsubscribe`` (observer -> observable, no body)
        Stop receiving the selector's data on this connection.
    ``poll`` (observer -> observable, a request: header ``m`` set, no body)
        One-shot: the answer is an ``update`` message marked as the reply (header ``r``),
        or an error reply (header ``e``). Answered from the cache when it is current,
        otherwise after the next provider run.
    ``update`` (observable -> observer)
        The selector's data: the body is the provider's tuples, exactly as the provider
        encoded them. Extra filt keys ``"epoch"`` (a random string naming one
        observable instance) and ``"version"`` (an int, increasing with every update of
        that instance). Receivers keep an update only if its epoch differs from the one
        they hold or its version is higher; so a late or repeated update never replaces
        newer data, and a restarted server (new epoch) is accepted. Receivers take
        updates only from the connection they subscribed through (the update's
        originator is that connection), and an update of the held epoch more than
        ``VERSION_JUMP_LIMIT`` versions ahead is not taken: the receiver polls for the
        current data instead (resync) and takes the poll's answer, so a bogus version
        can never make it ignore the real updates that follow. An update is
        encoded once and the same bytes go to every subscriber; a proxy forwards them
        unchanged.
    ``error`` (observable -> observer, no body)
        The provider failed (or there is none for the selector's name); the header
        ``e`` holds ``[code, message]``. Subscribers keep their last data; later
        updates still come.
    """

    def __init__(self, observableName: str, additionalFilt: Optional[dict[str, Any]] = None):
        if not isinstance(observableName, str) or not observableName:
            raise ValueError(f"observableName must be a non-empty string, got {observableName!r}")
        additional = dict(additionalFilt or {})
        clash = RESERVED_FILT_KEYS & additional.keys()
        if clash:
            raise ValueError(
                f"additionalFilt of observable {observableName!r} may not set "
                f"{sorted(clash)}: the observable messages use those keys"
            )
        self.observableName = observableName
        self.base_filt: dict[str, Any] = {
            "key": OBSERVABLE_KEY, "name": observableName, **additional,
        }

    def filt(self, op: str, selectorKey: Optional[str] = None, **extra: Any) -> dict[str, Any]:
        """The filt of one message (a new dict)."""
        filt = dict(self.base_filt, op=op)
        if selectorKey is not None:
            filt["tupleSelector"] = selectorKey
        filt.update(extra)
        return filt

    def endpoint_filt(self, op: str) -> dict[str, Any]:
        """The filt an endpoint listening for ``op`` messages registers."""
        return self.filt(op)

    def subscribe(self, selectorKey: str) -> PayloadEnvelope:
        """A ``subscribe`` message for the selector with key ``selectorKey``."""
        return PayloadEnvelope(filt=self.filt(OP_SUBSCRIBE, selectorKey))

    def unsubscribe(self, selectorKey: str) -> PayloadEnvelope:
        """A ``unsubscribe`` message for the selector with key ``selectorKey``."""
        return PayloadEnvelope(filt=self.filt(OP_UNSUBSCRIBE, selectorKey))

    def poll(self, selectorKey: str) -> PayloadEnvelope:
        """A ``poll`` message for the selector with key ``selectorKey``."""
        return PayloadEnvelope(filt=self.filt(OP_POLL, selectorKey))

    def provider_filt(self, selectorKey: str) -> dict[str, Any]:
        """The filt handed to a provider's ``makeVortexMsg`` (its header is replaced)."""
        return self.filt(OP_UPDATE, selectorKey)

    def update(self, provided: ProviderResult, selectorKey: str, version: int, epoch: str) -> bytes:
        """The ``update`` message for a provider's result: only the header is rewritten."""
        if isinstance(provided, (bytes, bytearray, memoryview)):
            envelope = PayloadEnvelope.fromVortexMsg(bytes(provided))
        elif isinstance(provided, Payload):
            envelope = provided.makePayloadEnvelope()
        elif isinstance(provided, PayloadEnvelope):
            envelope = provided
        else:
            raise TypeError(
                "a tuple provider must return message bytes (Payload(...).toVortexMsg()), "
                f"a Payload or a PayloadEnvelope, got {type(provided).__name__}"
            )
        envelope.filt = self.filt(OP_UPDATE, selectorKey, version=version, epoch=epoch)
        envelope.messageId = envelope.replyToId = None
        envelope.destVortexName = envelope.destVortexUuid = None
        envelope.error = None
        return envelope.toVortexMsg()

    def error(self, selectorKey: Optional[str], code: str, message: str) -> PayloadEnvelope:
        """An ``error`` message (also used as the error reply to a poll)."""
        return PayloadEnvelope(filt=self.filt(OP_ERROR, selectorKey), error=(code, message))

    @staticmethod
    def selector_key(envelope: PayloadEnvelope) -> str:
        """The selector key of a received message; a missing key is a DecodeError."""
        key = envelope.filt.get("tupleSelector")
        if type(key) is not str or not key:
            raise DecodeError(f"observable message without a 'tupleSelector' key: {envelope!r}")
        return key

    @staticmethod
    def version_of(envelope: PayloadEnvelope) -> tuple[str, int]:
        """(epoch, version) of an ``update`` message."""
        epoch = envelope.filt.get("epoch")
        version = envelope.filt.get("version")
        if type(epoch) is not str or type(version) is not int:
            raise DecodeError(f"observable update without epoch/version: {envelope!r}")
        return epoch, version


#: How far ahead of the held version (same epoch) an update may be and still be taken.
#: Versions come from one counter per observable, so legitimate jumps happen (other
#: selectors were updated meanwhile); one beyond this only costs a poll (resync).
VERSION_JUMP_LIMIT = 1 << 20


def is_newer(epoch: str, version: int, held_epoch: Optional[str], held_version: int) -> bool:
    """Whether an update (epoch, version) should replace the one held."""
    return epoch != held_epoch or version > held_version


def is_far_ahead(epoch: str, version: int, held_epoch: Optional[str], held_version: int) -> bool:
    """Whether an update of the held epoch jumps more than ``VERSION_JUMP_LIMIT`` ahead.

    Such an update is not taken as it is: the receiver resyncs with a poll instead.
    """
    return epoch == held_epoch and version - held_version > VERSION_JUMP_LIMIT


class HeldSelection(Protocol):
    """What a subscriber holds of one selector: the version it has and whether it polls."""

    epoch: Optional[str]
    version: int
    resyncing: bool


def resync(
    router: Any,
    messages: "ObservableMessages",
    key: str,
    destination: Any,
    held: HeldSelection,
    still_held: Callable[[], bool],
    take: Callable[[PayloadEnvelope, str, int], None],
    label: str,
    version: int,
) -> None:
    """Poll ``destination`` for the current data of ``key`` instead of taking an update
    that jumps to ``version``, far ahead of the one held (see :func:`is_far_ahead`).

    One poll at a time per held selection; its answer is taken (``take(reply, epoch,
    version)``) only if the selection is still held and the answer is newer.
    """
    logger.warning("%s: an update of %s jumps from version %s to %s; asking for the current "
                   "data instead", label, key, held.version, version)
    if held.resyncing:
        return
    held.resyncing = True

    def answered(reply: PayloadEnvelope) -> None:
        held.resyncing = False
        epoch, new_version = ObservableMessages.version_of(reply)
        if still_held() and is_newer(epoch, new_version, held.epoch, held.version):
            take(reply, epoch, new_version)

    def failed(failure: Any) -> None:
        held.resyncing = False
        logger.warning("%s: resync of %s failed: %s", label, key, failure.value)

    d = router.request(messages.poll(key), destination)
    d.addCallbacks(answered, failed)
    d.addErrback(lambda f: logger.error("%s: resync of %s: %s", label, key, f.getTraceback()))


def send_quietly(
    send: Callable[[Any], Any], message: Union[bytes, PayloadEnvelope], what: str
) -> None:
    """Send through a ``sendResponse``-style callable; a failure is logged, not raised.

    One subscriber's dead connection must not stop the others from getting their data.
    """
    try:
        send(message)
    except Exception as e:
        kind = type(e).__name__
        _send_failures.log(kind, f"Could not send observable messages ({kind})",
                           "Could not send %s: %s", what, e)


def subscription_refusal(
    observableName: str, held: Optional[set[str]], selectorKey: str, cap: int
) -> Optional[str]:
    """Why a connection holding ``held`` may not subscribe to ``selectorKey`` when one
    connection may watch ``cap`` selectors (None: it may).

    A repeat subscribe to a selector already held is always allowed (it re-sends data).
    """
    if held is None or selectorKey in held or len(held) < cap:
        return None
    return (f"this connection already watches {len(held)} selectors of observable "
            f"{observableName!r}, the most one connection may (vortex."
            "maxSubscriptionsPerConnection); unsubscribe from one first")

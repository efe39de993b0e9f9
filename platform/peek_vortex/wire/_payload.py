"""Payload (what handlers work with) and PayloadEnvelope (what travels, body left encoded)."""

from typing import Any, NamedTuple, Optional

from peek_vortex.errors import EncodeError
from peek_vortex.wire._codec import VortexCodec, default_codec
from peek_vortex.wire.constants import (
    DEFLATE,
    H_COMPRESSION,
    H_DEST_NAME,
    H_DEST_UUID,
    H_ERROR,
    H_FILT,
    H_INFLATED_SIZE,
    H_MESSAGE_ID,
    H_ORIGINATOR,
    H_REPLY_TO,
    H_RESULT,
    H_VERSION,
    WIRE_VERSION,
)


class Originator(NamedTuple):
    """Who really sent a message: the first hop's view of the connection it came from.

    The first hop (the process whose connection received the message from its author)
    stamps it from that connection's authenticated identity: ``vortexName`` (the name
    the peer authenticated as), ``vortexUuid`` (the connection's uuid) and ``isDevice``
    (it arrived on a client service's device websocket). A hop that forwards a message on
    someone's behalf (an action proxy, a :class:`~peek_vortex.handlers._device_forwarder.
    DeviceForwarder`) keeps the stamp and writes it into the header (key ``o``); the next
    hop keeps a stamp only when it arrives over an authenticated service connection, and
    replaces any stamp a device sends. Like Crossbar's ``forward_for``: handlers and
    ``acceptOnlyFromVortex`` see the originator, never just the last hop.
    """

    vortexName: str
    vortexUuid: str
    isDevice: bool


class Payload:
    """A message as handlers see it: a routing ``filt``, decoded ``tuples`` and a ``result``.

    ``filt`` and ``result`` travel in the envelope header, so they must be JSON-native
    (see :class:`~peek_vortex.wire._codec.VortexCodec`); ``tuples`` are registered
    :class:`~peek_vortex.tuples._tuples.Tuple` instances.
    """

    __slots__ = ("filt", "tuples", "result")

    def __init__(
        self,
        filt: Optional[dict[str, Any]] = None,
        tuples: Optional[list[Any]] = None,
        result: Any = None,
    ) -> None:
        self.filt: dict[str, Any] = {} if filt is None else filt
        self.tuples: list[Any] = [] if tuples is None else tuples
        self.result = result

    def toEncodedPayload(self, codec: Optional[VortexCodec] = None) -> bytes:
        """The encoded (uncompressed) body of this payload's tuples."""
        return (codec or default_codec).encode_body(self.tuples)

    def makePayloadEnvelope(
        self,
        messageId: Optional[str] = None,
        replyToId: Optional[str] = None,
        destVortexName: Optional[str] = None,
        destVortexUuid: Optional[str] = None,
        codec: Optional[VortexCodec] = None,
        originator: Optional[Originator] = None,
    ) -> "PayloadEnvelope":
        """Encode the tuples once and wrap them in an envelope (compressed if large)."""
        codec = codec or default_codec
        body, compression, size = codec.pack_body(codec.encode_body(self.tuples))
        return PayloadEnvelope(
            filt=self.filt,
            encodedPayload=body,
            result=self.result,
            messageId=messageId,
            replyToId=replyToId,
            destVortexName=destVortexName,
            destVortexUuid=destVortexUuid,
            compression=compression,
            inflatedSize=size,
            originator=originator,
        )

    def toVortexMsg(self, codec: Optional[VortexCodec] = None, **envelopeArgs: Any) -> bytes:
        """The complete message bytes (envelope header and body) for this payload."""
        return self.makePayloadEnvelope(codec=codec, **envelopeArgs).toVortexMsg(codec)

    makePayloadEnvelopeVortexMsg = toVortexMsg

    @staticmethod
    def fromVortexMsg(vortexMsg: bytes, codec: Optional[VortexCodec] = None) -> "Payload":
        """Decode a complete message into a Payload (header and tuples)."""
        return PayloadEnvelope.fromVortexMsg(vortexMsg, codec).decodePayload(codec)

    def __repr__(self) -> str:
        return f"Payload(filt={self.filt!r}, tuples=<{len(self.tuples)}>, result={self.result!r})"


class PayloadEnvelope:
    """A message as it travels: routing header fields plus the body as opaque bytes.

    ``encodedPayload`` holds the body exactly as on the wire (deflated when
    ``compression`` is ``"deflate"``), so forwarding an envelope never re-encodes tuples.
    ``error`` is ``(code, message)`` when the sender reports a failure. ``originator``
    is who really sent it (:class:`Originator`): on a received envelope, the router's
    stamp; on an envelope being sent, set only when forwarding on someone's behalf (it is
    then written as header ``o``).

    ``vortexMsg`` is, on a received envelope, the complete message bytes exactly as they
    arrived (None on an envelope built locally): an endpoint callback that forwards the
    message can send them on instead of encoding it again, see :meth:`forwardMsg`.
    """

    __slots__ = (
        "filt", "encodedPayload", "result", "error", "messageId", "replyToId",
        "destVortexName", "destVortexUuid", "compression", "inflatedSize", "_originator",
        "_sender", "vortexMsg", "_arrivedHeader",
    )

    def __init__(
        self,
        filt: Optional[dict[str, Any]] = None,
        encodedPayload: bytes = b"",
        result: Any = None,
        error: Optional[tuple[str, str]] = None,
        messageId: Optional[str] = None,
        replyToId: Optional[str] = None,
        destVortexName: Optional[str] = None,
        destVortexUuid: Optional[str] = None,
        compression: Optional[str] = None,
        inflatedSize: Optional[int] = None,
        originator: Optional[Originator] = None,
    ) -> None:
        self.filt: dict[str, Any] = {} if filt is None else filt
        self.encodedPayload = encodedPayload
        self.result = result
        self.error = error
        self.messageId = messageId
        self.replyToId = replyToId
        self.destVortexName = destVortexName
        self.destVortexUuid = destVortexUuid
        self.compression = compression
        self.inflatedSize = inflatedSize
        self._originator = originator
        # The service connection a received envelope came from, when it carried no stamp:
        # the stamp is then built from it only if someone asks (most handlers never do).
        self._sender: Any = None
        self.vortexMsg: Optional[bytes] = None
        self._arrivedHeader: Optional[dict[str, Any]] = None

    @property
    def originator(self) -> Optional[Originator]:
        """Who really sent this message (see :class:`Originator`); None if nobody knows."""
        origin = self._originator
        if origin is None:
            sender = self._sender
            if sender is not None:
                origin = self._originator = Originator(
                    sender.vortex_name, sender.vortex_uuid, False
                )
        return origin

    @originator.setter
    def originator(self, value: Optional[Originator]) -> None:
        self._originator = value
        self._sender = None

    def stamp_sender(self, sender: Any) -> None:
        """Mark a received envelope without a stamp as sent by service connection ``sender``."""
        self._sender = sender

    def header(self) -> dict[str, Any]:
        """The header dict as written on the wire (absent fields omitted)."""
        header: dict[str, Any] = {H_VERSION: WIRE_VERSION, H_FILT: self.filt}
        if self.messageId is not None:
            header[H_MESSAGE_ID] = self.messageId
        if self.replyToId is not None:
            header[H_REPLY_TO] = self.replyToId
        if self.destVortexName is not None:
            header[H_DEST_NAME] = self.destVortexName
        if self.destVortexUuid is not None:
            header[H_DEST_UUID] = self.destVortexUuid
        if self.result is not None:
            header[H_RESULT] = self.result
        if self.error is not None:
            code, message = self.error
            header[H_ERROR] = [str(code), str(message)]
        if self.compression is not None:
            if self.compression != DEFLATE or self.inflatedSize is None:
                raise EncodeError("a compressed envelope needs compression 'deflate' and a size")
            header[H_COMPRESSION] = self.compression
            header[H_INFLATED_SIZE] = self.inflatedSize
        if self._originator is not None:
            header[H_ORIGINATOR] = list(self._originator)
        return header

    def toVortexMsg(self, codec: Optional[VortexCodec] = None) -> bytes:
        """The message bytes: header line plus the body as it is."""
        return (codec or default_codec).encode_frame(self.header(), self.encodedPayload)

    def forwardMsg(self, codec: Optional[VortexCodec] = None) -> bytes:
        """This envelope's bytes as the forwarding hop's own message (no ``o``, ``m``, ``r``).

        Clears the originator, message id and reply-to, then returns the bytes that
        arrived when their header already says exactly what this envelope now holds (the
        common case: an observable update from the upstream, forwarded to N devices),
        and the re-encoded message otherwise (a stamp, an id or a changed field to drop
        or rewrite). Either way the result decodes to the same message as
        :meth:`toVortexMsg` would write; the body bytes are never touched.
        """
        self.originator = None
        self.messageId = self.replyToId = None
        arrived = self._arrivedHeader
        if arrived is not None and self.vortexMsg is not None and self.header() == arrived:
            return self.vortexMsg
        return self.toVortexMsg(codec)

    @classmethod
    def fromVortexMsg(
        cls, vortexMsg: bytes, codec: Optional[VortexCodec] = None
    ) -> "PayloadEnvelope":
        """Read the header of a message; the body stays encoded until :meth:`decodePayload`."""
        header, offset = (codec or default_codec).decode_header(vortexMsg)
        get = header.get
        error = get(H_ERROR)
        # Built slot by slot: this runs for every received frame.
        envelope = cls.__new__(cls)
        envelope.filt = header[H_FILT]
        envelope.encodedPayload = bytes(vortexMsg[offset:])
        envelope.result = get(H_RESULT)
        envelope.error = (error[0], error[1]) if error is not None else None
        envelope.messageId = get(H_MESSAGE_ID)
        envelope.replyToId = get(H_REPLY_TO)
        envelope.destVortexName = get(H_DEST_NAME)
        envelope.destVortexUuid = get(H_DEST_UUID)
        envelope.compression = get(H_COMPRESSION)
        envelope.inflatedSize = get(H_INFLATED_SIZE)
        origin = get(H_ORIGINATOR)
        envelope._originator = Originator(*origin) if origin is not None else None
        envelope._sender = None
        envelope.vortexMsg = vortexMsg
        envelope._arrivedHeader = header
        return envelope

    def decodePayload(self, codec: Optional[VortexCodec] = None) -> Payload:
        """Inflate (within the codec's cap) and decode the body into a Payload."""
        codec = codec or default_codec
        body = codec.unpack_body(self.encodedPayload, self.compression, self.inflatedSize)
        return Payload(filt=self.filt, tuples=codec.decode_body(body), result=self.result)

    def isEmpty(self) -> bool:
        """True when the envelope carries no tuples."""
        return not self.encodedPayload

    def __repr__(self) -> str:
        return (
            f"PayloadEnvelope(filt={self.filt!r}, body={len(self.encodedPayload)} B, "
            f"m={self.messageId!r}, r={self.replyToId!r}, d={self.destVortexName!r}, "
            f"result={self.result!r}, error={self.error!r})"
        )

"""PayloadEnvelope.forwardMsg: the arrived bytes when they already are the message, a
re-encode otherwise; either way the same message as a full re-encode."""

import orjson

from peek_plugin_base.vortex import Payload, PayloadEnvelope
from peek_vortex.wire import Originator
from tests.vortex_observables.harness import ItemTuple

FILT = {"key": "k", "name": "n", "op": "update", "tupleSelector": "s", "version": 3,
        "epoch": "e"}


def header_of(data: bytes) -> dict:
    return orjson.loads(data[: data.index(b"\n")])


def body_of(data: bytes) -> bytes:
    return data[data.index(b"\n") + 1:]


def fresh_encode(data: bytes) -> bytes:
    """What the proxy wrote before forwardMsg: decode the header, drop o/m/r, encode."""
    envelope = PayloadEnvelope.fromVortexMsg(data)
    envelope.originator = envelope.messageId = envelope.replyToId = None
    return envelope.toVortexMsg()


def test_clean_message_is_forwarded_as_the_very_bytes_that_arrived() -> None:
    """A message with no stamp, id or reply-to is forwarded as the arrived bytes, and those
    equal, byte for byte, what a full re-encode writes."""
    data = Payload(dict(FILT), tuples=[ItemTuple(value=1)]).toVortexMsg(destVortexName="c")
    envelope = PayloadEnvelope.fromVortexMsg(data)
    assert envelope.vortexMsg is data
    forwarded = envelope.forwardMsg()
    assert forwarded is data
    assert forwarded == fresh_encode(data)


def test_stamp_id_and_reply_to_are_dropped_and_the_body_kept() -> None:
    """An originator stamp, a message id and a reply-to are not forwarded: the header is
    written again without them, the body bytes are the arrived ones, and the result
    equals a full re-encode and decodes to the same tuples."""
    data = Payload(dict(FILT), tuples=[ItemTuple(value=[1, 2])]).toVortexMsg(
        messageId="m1", replyToId="r1",
        originator=Originator("peek-mobile", "uuid-1", True))
    assert {"o", "m", "r"} <= header_of(data).keys()
    envelope = PayloadEnvelope.fromVortexMsg(data)
    forwarded = envelope.forwardMsg()
    assert forwarded is not data
    assert not {"o", "m", "r"} & header_of(forwarded).keys()
    assert body_of(forwarded) == body_of(data)
    assert forwarded == fresh_encode(data)
    decoded = Payload.fromVortexMsg(forwarded)
    assert decoded.filt == FILT and [t.value for t in decoded.tuples] == [[1, 2]]


def test_each_dropped_field_alone_forces_a_re_encode() -> None:
    """Any one of o, m, r in the arrived header is enough to rewrite it."""
    for extra in (dict(messageId="m"), dict(replyToId="r"),
                  dict(originator=Originator("peek-desktop", "u", True))):
        data = Payload(dict(FILT)).toVortexMsg(**extra)
        forwarded = PayloadEnvelope.fromVortexMsg(data).forwardMsg()
        assert forwarded != data
        assert header_of(forwarded) == {"v": 1, "f": FILT}


def test_a_field_changed_after_arrival_is_written() -> None:
    """A handler that changes a field before forwarding gets it in the bytes: the arrived
    bytes are reused only while the header still says the same."""
    data = Payload(dict(FILT), tuples=[ItemTuple(value=1)]).toVortexMsg()
    envelope = PayloadEnvelope.fromVortexMsg(data)
    envelope.filt = dict(FILT, version=4)
    forwarded = envelope.forwardMsg()
    assert header_of(forwarded)["f"]["version"] == 4
    assert body_of(forwarded) == body_of(data)


def test_a_locally_built_envelope_is_encoded() -> None:
    """An envelope that did not arrive has no bytes to reuse: it is encoded as usual."""
    envelope = Payload(dict(FILT), tuples=[ItemTuple(value=1)]).makePayloadEnvelope(
        originator=Originator("peek-mobile", "u", True))
    assert envelope.vortexMsg is None
    forwarded = envelope.forwardMsg()
    assert "o" not in header_of(forwarded)
    assert forwarded == PayloadEnvelope.fromVortexMsg(forwarded).toVortexMsg()

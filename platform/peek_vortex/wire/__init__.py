"""The wire: what one bus message is, byte for byte.

``constants`` holds every header key, body key, value tag, close code and version, used by
both the encoder and the decoder (the specification is ``docs/wire-protocol.md``);
``VortexCodec`` encodes and decodes frames; ``Payload`` and ``PayloadEnvelope`` are a
message before and after encoding; ``Hello`` and ``Welcome`` are the opening exchange."""

from peek_vortex.wire._codec import (
    Originator,
    Payload,
    PayloadEnvelope,
    VortexCodec,
    default_codec,
    plain_row_body,
    read_plain_row,
    tuple_from_json_dict,
    tuple_to_json_dict,
)
from peek_vortex.wire._hello import (
    Hello,
    Welcome,
)
from peek_vortex.wire.constants import (
    MAX_HEADER_DEPTH,
    CloseCode,
)

__all__ = [
    "CloseCode",
    "Hello",
    "MAX_HEADER_DEPTH",
    "Originator",
    "Payload",
    "PayloadEnvelope",
    "VortexCodec",
    "Welcome",
    "default_codec",
    "plain_row_body",
    "read_plain_row",
    "tuple_from_json_dict",
    "tuple_to_json_dict",
]

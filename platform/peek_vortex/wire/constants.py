"""The wire's names and numbers in one place: versions, header and body keys, tags, close codes.

The encoder and the decoder (``codec``, ``payload``, ``router``, the transport's ``hello``)
read their keys from here, and ``docs/wire-protocol.md`` is the specification of each
one; ``tests/vortex/test_wire_spec.py`` checks that every constant below appears in that
document, that the golden vectors use every header key and tag, and that the browser
client's copies (``peek_vortex/js/codec.js`` and ``client.js``) hold the same values.
"""

from enum import IntEnum
from typing import Final

#: The protocol's version. One number for the whole protocol: the hello and welcome carry
#: it as ``"version"`` and every message header as ``"v"``. Both change together, so a
#: peer that accepted the hello can read every message that follows.
PROTOCOL_VERSION: Final = 1
#: The version in every message header (the same number as :data:`PROTOCOL_VERSION`).
WIRE_VERSION: Final = PROTOCOL_VERSION
#: The version in the hello and the welcome (the same number as :data:`PROTOCOL_VERSION`).
HELLO_VERSION: Final = PROTOCOL_VERSION

# ---- hello and welcome (the first frame each way, a JSON object)

#: The key naming what the first frame is: ``"hello"`` or ``"welcome"``.
HELLO_KIND: Final = "vortex"
HELLO: Final = "hello"
WELCOME: Final = "welcome"
HELLO_KEY_VERSION: Final = "version"
HELLO_KEY_NAME: Final = "name"
HELLO_KEY_TOKEN: Final = "token"
WELCOME_KEY_UUID: Final = "uuid"
WELCOME_KEY_MAX_FRAME: Final = "maxFrameBytes"

#: The filt key of the browser client's heartbeat request (browsers cannot send websocket
#: pings). A client service answers it with an empty reply (``answer_heartbeats``); any
#: reply, a ``NoEndpointError`` too, proves the link alive.
HEARTBEAT_KEY: Final = "vortex.heartbeat"

# ---- frame: HEADER 0x0A BODY

#: The byte that ends the header (JSON escapes it inside strings).
HEADER_END: Final = b"\n"

# ---- header keys (one letter each)

H_VERSION: Final = "v"
H_FILT: Final = "f"
H_MESSAGE_ID: Final = "m"
H_REPLY_TO: Final = "r"
H_DEST_NAME: Final = "d"
H_DEST_UUID: Final = "c"
H_RESULT: Final = "s"
H_ERROR: Final = "e"
H_COMPRESSION: Final = "z"
H_INFLATED_SIZE: Final = "n"
H_ORIGINATOR: Final = "o"
#: Every header key, in the order the encoder writes them.
HEADER_KEYS: Final = (
    H_VERSION, H_FILT, H_MESSAGE_ID, H_REPLY_TO, H_DEST_NAME, H_DEST_UUID, H_RESULT,
    H_ERROR, H_COMPRESSION, H_INFLATED_SIZE, H_ORIGINATOR,
)
#: The header keys whose value, when present, must be a string.
STRING_HEADER_KEYS: Final = (H_MESSAGE_ID, H_REPLY_TO, H_DEST_NAME, H_DEST_UUID)
#: The only body compression (``z``): a zlib stream (RFC 1950).
DEFLATE: Final = "deflate"
#: Deepest nesting of arrays and objects a header may hold (the header object is level 1).
MAX_HEADER_DEPTH: Final = 32

# ---- body keys

B_TYPES: Final = "T"
B_RUNS: Final = "R"
B_TAGGED: Final = "x"
#: The type-name key of a tuple's standalone JSON dict (``tuple_to_json_dict``).
JSON_DICT_TYPE: Final = "_tt"
BODY_KEYS: Final = (B_TYPES, B_RUNS, B_TAGGED)

# ---- tagged values: an object with one key starting with TAG_PREFIX

TAG_PREFIX: Final = "~"
TAG_ESCAPED_DICT: Final = "~e"
TAG_TUPLE: Final = "~t"
TAG_DATETIME: Final = "~d"
TAG_DATE: Final = "~D"
TAG_BYTES: Final = "~b"
TAG_DECIMAL: Final = "~n"
TAG_BIG_INT: Final = "~i"
TAG_FLOAT: Final = "~f"
#: A nested tuple in the standalone JSON-dict form (never in a message body).
TAG_JSON_TUPLE: Final = "~j"
#: Every tag a message body may carry.
BODY_TAGS: Final = frozenset((
    TAG_ESCAPED_DICT, TAG_TUPLE, TAG_DATETIME, TAG_DATE, TAG_BYTES, TAG_DECIMAL,
    TAG_BIG_INT, TAG_FLOAT,
))
#: Every tag there is (the body's and ``~j``).
TAGS: Final = BODY_TAGS | {TAG_JSON_TUPLE}
#: The strings ``~f`` carries.
NON_FINITE_FLOATS: Final = ("NaN", "Infinity", "-Infinity")


class CloseCode(IntEnum):
    """Websocket close codes the bus uses; each close also carries a reason text.

    1000-1011 are the standard codes (autobahn sends 1009 itself for an oversized frame
    and 1002 for a protocol violation); 4xxx are ours, numbered after the HTTP status
    they resemble.
    """

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    ABNORMAL = 1006
    TOO_BIG = 1009
    #: The browser client gave up on the connection (no welcome, no heartbeat answer).
    CLIENT_DROPPED = 4000
    #: The first frame was not a well-formed hello (or welcome).
    HELLO_MALFORMED = 4400
    #: The hello's credentials are missing or wrong; also: the admin session ended.
    UNAUTHORISED = 4401
    #: The credentials are valid but may not claim the requested name.
    NAME_FORBIDDEN = 4403
    #: No hello arrived within the hello timeout.
    HELLO_TIMEOUT = 4408
    #: A text frame arrived; the bus speaks binary frames only.
    TEXT_FRAME = 4415
    #: A frame's routing header is not a valid bus message; only that connection closes.
    MALFORMED_MESSAGE = 4422
    #: Too many wrong tokens came from this address; it is refused for a while.
    TOO_MANY_ATTEMPTS = 4429
    #: The peer read too slowly: its send queue stayed full; reconnect and resync.
    SLOW_CONSUMER = 4507

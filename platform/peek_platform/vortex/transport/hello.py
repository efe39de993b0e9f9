"""The hello exchange that opens every bus connection, and the close codes it can end with."""

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Optional

HELLO_VERSION = 1
#: A hello or welcome larger than this is malformed; it is read before any authentication.
HELLO_MAX_BYTES = 4096
#: Longest name a peer may claim.
NAME_MAX_CHARS = 64


class CloseCode(IntEnum):
    """Websocket close codes the transport uses; each close also carries a reason text.

    1000-1011 are the standard codes (autobahn sends 1009 itself for an oversized frame
    and 1002 for a protocol violation); 4xxx are ours, numbered after the HTTP status
    they resemble.
    """

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    ABNORMAL = 1006
    TOO_BIG = 1009
    #: The first frame was not a well-formed hello (or welcome).
    HELLO_MALFORMED = 4400
    #: The hello's credentials are missing or wrong.
    UNAUTHORISED = 4401
    #: The credentials are valid but may not claim the requested name.
    NAME_FORBIDDEN = 4403
    #: No hello arrived within the hello timeout.
    HELLO_TIMEOUT = 4408
    #: A text frame arrived; the bus speaks binary frames only.
    TEXT_FRAME = 4415
    #: Too many wrong tokens came from this address; it is refused for a while.
    TOO_MANY_ATTEMPTS = 4429
    #: The peer read too slowly: its send queue stayed full; reconnect and resync.
    SLOW_CONSUMER = 4507


class HelloError(Exception):
    """A hello that is refused: the close code and the reason sent to the peer."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(f"{int(code)} {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Hello:
    """The first frame a connecting peer sends: who it is and its credentials.

    Wire format: one binary websocket frame holding a UTF-8 JSON object, at most
    ``HELLO_MAX_BYTES`` long::

        {"vortex": "hello", "version": 1, "name": "peek-agent", "token": "<secret>"}

    ``name`` is the vortex name the peer claims (1-64 printable characters); ``token`` is
    optional (absent or null for anonymous devices). The accepting side answers with a
    ``Welcome`` frame or closes the websocket with a ``CloseCode`` and a reason; no other
    frame may be sent before the welcome. Unknown keys are ignored so that later versions
    can add fields; a different ``version`` is refused.
    """

    name: str
    token: Optional[str] = None

    def encode(self) -> bytes:
        """The hello frame's bytes."""
        body: dict[str, Any] = {"vortex": "hello", "version": HELLO_VERSION, "name": self.name}
        if self.token is not None:
            body["token"] = self.token
        return json.dumps(body).encode()

    @classmethod
    def decode(cls, data: bytes) -> "Hello":
        """Parse a hello; raises HelloError(HELLO_MALFORMED) saying what is wrong."""
        body = _decode_object(data, "hello")
        name = body.get("name")
        token = body.get("token")
        if not _valid_name(name):
            raise HelloError(CloseCode.HELLO_MALFORMED,
                             f"hello name must be 1-{NAME_MAX_CHARS} printable characters")
        if token is not None and not isinstance(token, str):
            raise HelloError(CloseCode.HELLO_MALFORMED, "hello token must be a string")
        return cls(name=name, token=token)

    def __repr__(self) -> str:
        # Never print the secret in logs or tracebacks.
        return f"Hello(name={self.name!r}, token={'***' if self.token else None})"


@dataclass(frozen=True)
class Welcome:
    """The accepting side's answer to a good hello: its own name and the connection uuid.

    Wire format: one binary websocket frame holding a UTF-8 JSON object::

        {"vortex": "welcome", "version": 1, "name": "peek-server",
         "uuid": "6f1c...-...", "maxFrameBytes": 16777216}

    ``uuid`` is assigned by the accepting side, so both ends log the same id;
    ``maxFrameBytes`` tells the connecting side the largest frame it may send.
    Application frames (opaque bytes) follow in both directions.
    """

    name: str
    uuid: str
    max_frame_bytes: int

    def encode(self) -> bytes:
        """The welcome frame's bytes."""
        return json.dumps({
            "vortex": "welcome", "version": HELLO_VERSION, "name": self.name,
            "uuid": self.uuid, "maxFrameBytes": self.max_frame_bytes,
        }).encode()

    @classmethod
    def decode(cls, data: bytes) -> "Welcome":
        """Parse a welcome; raises HelloError(HELLO_MALFORMED) saying what is wrong."""
        body = _decode_object(data, "welcome")
        name, uuid, max_frame = body.get("name"), body.get("uuid"), body.get("maxFrameBytes")
        if not _valid_name(name) or not isinstance(uuid, str) or not uuid:
            raise HelloError(CloseCode.HELLO_MALFORMED, "welcome lacks a valid name or uuid")
        if type(max_frame) is not int or max_frame < 1:
            raise HelloError(CloseCode.HELLO_MALFORMED, "welcome maxFrameBytes is invalid")
        return cls(name=name, uuid=uuid, max_frame_bytes=max_frame)


def _decode_object(data: bytes, kind: str) -> dict[str, Any]:
    if len(data) > HELLO_MAX_BYTES:
        raise HelloError(CloseCode.HELLO_MALFORMED, f"{kind} larger than {HELLO_MAX_BYTES} bytes")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting: RecursionError
        raise HelloError(CloseCode.HELLO_MALFORMED,
                         f"first frame must be a JSON {kind}") from None
    if not isinstance(body, dict) or body.get("vortex") != kind:
        raise HelloError(CloseCode.HELLO_MALFORMED, f"first frame must be a {kind}")
    if body.get("version") != HELLO_VERSION:
        raise HelloError(CloseCode.HELLO_MALFORMED,
                         f"{kind} version {body.get('version')!r} unsupported"
                         f" (this side speaks {HELLO_VERSION})")
    return body


def _valid_name(name: Any) -> bool:
    return isinstance(name, str) and 0 < len(name) <= NAME_MAX_CHARS and name.isprintable()

"""The hello exchange that opens every bus connection, and the close codes it can end with."""

import json
from dataclasses import dataclass
from typing import Any, Optional

from peek_vortex.errors import VortexHelloRefusedError
from peek_vortex.wire.constants import (
    HELLO,
    HELLO_KEY_NAME,
    HELLO_KEY_TOKEN,
    HELLO_KEY_VERSION,
    HELLO_KIND,
    HELLO_VERSION,
    WELCOME,
    WELCOME_KEY_MAX_FRAME,
    WELCOME_KEY_UUID,
    CloseCode,
)

__all__ = ["CloseCode", "HELLO_VERSION", "HELLO_MAX_BYTES", "NAME_MAX_CHARS", "Hello",
           "Welcome"]
#: A hello or welcome larger than this is malformed; it is read before any authentication.
HELLO_MAX_BYTES = 4096
#: Longest name a peer may claim.
NAME_MAX_CHARS = 64


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
        body: dict[str, Any] = {
            HELLO_KIND: HELLO, HELLO_KEY_VERSION: HELLO_VERSION, HELLO_KEY_NAME: self.name,
        }
        if self.token is not None:
            body[HELLO_KEY_TOKEN] = self.token
        return json.dumps(body).encode()

    @classmethod
    def decode(cls, data: bytes) -> "Hello":
        """Parse a hello; raises VortexHelloRefusedError(HELLO_MALFORMED) saying what is wrong."""
        body = _decode_object(data, HELLO)
        name = body.get(HELLO_KEY_NAME)
        token = body.get(HELLO_KEY_TOKEN)
        if not _valid_name(name):
            raise VortexHelloRefusedError(
                CloseCode.HELLO_MALFORMED,
                f"hello name must be 1-{NAME_MAX_CHARS} printable characters")
        if token is not None and not isinstance(token, str):
            raise VortexHelloRefusedError(CloseCode.HELLO_MALFORMED, "hello token must be a string")
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
            HELLO_KIND: WELCOME, HELLO_KEY_VERSION: HELLO_VERSION, HELLO_KEY_NAME: self.name,
            WELCOME_KEY_UUID: self.uuid, WELCOME_KEY_MAX_FRAME: self.max_frame_bytes,
        }).encode()

    @classmethod
    def decode(cls, data: bytes) -> "Welcome":
        """Parse a welcome; raises VortexHelloRefusedError(HELLO_MALFORMED) saying what is wrong."""
        body = _decode_object(data, WELCOME)
        name = body.get(HELLO_KEY_NAME)
        uuid, max_frame = body.get(WELCOME_KEY_UUID), body.get(WELCOME_KEY_MAX_FRAME)
        if not _valid_name(name) or not isinstance(uuid, str) or not uuid:
            raise VortexHelloRefusedError(
                CloseCode.HELLO_MALFORMED, "welcome lacks a valid name or uuid")
        if type(max_frame) is not int or max_frame < 1:
            raise VortexHelloRefusedError(
                CloseCode.HELLO_MALFORMED, "welcome maxFrameBytes is invalid")
        return cls(name=name, uuid=uuid, max_frame_bytes=max_frame)


def _decode_object(data: bytes, kind: str) -> dict[str, Any]:
    if len(data) > HELLO_MAX_BYTES:
        raise VortexHelloRefusedError(
            CloseCode.HELLO_MALFORMED, f"{kind} larger than {HELLO_MAX_BYTES} bytes")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting: RecursionError
        raise VortexHelloRefusedError(CloseCode.HELLO_MALFORMED,
                                      f"first frame must be a JSON {kind}") from None
    if not isinstance(body, dict) or body.get(HELLO_KIND) != kind:
        raise VortexHelloRefusedError(CloseCode.HELLO_MALFORMED, f"first frame must be a {kind}")
    if body.get(HELLO_KEY_VERSION) != HELLO_VERSION:
        raise VortexHelloRefusedError(CloseCode.HELLO_MALFORMED,
                                      f"{kind} version {body.get(HELLO_KEY_VERSION)!r} unsupported"
                         f" (this side speaks {HELLO_VERSION})")
    return body


def _valid_name(name: Any) -> bool:
    return isinstance(name, str) and 0 < len(name) <= NAME_MAX_CHARS and name.isprintable()

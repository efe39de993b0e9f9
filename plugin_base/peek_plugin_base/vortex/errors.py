"""Errors the bus raises to plugins, each naming the type, field or message it is about.

::

    VortexError
    ├── TupleTypeError              a tuple class cannot be registered or used
    │   └── DuplicateTupleTypeError two classes claim one ``__tupleType__`` (names both)
    ├── CodecError                  bytes <-> payload conversion failed
    │   ├── EncodeError             a value cannot be put on the wire (names type/field)
    │   └── DecodeError             received bytes are not a valid message
    │       ├── UnknownTupleTypeError   the type name on the wire is not registered here
    │       ├── UndeclaredFieldError    the wire sets a field the type does not declare
    │       └── PayloadTooLargeError    the body would inflate beyond the configured cap
    ├── RoutingError                a message could not be routed or answered
    │   ├── NoTransportError        nothing to send with (transport not attached)
    │   ├── ReplyTimeoutError       no reply to a request within its timeout
    │   ├── ConnectionLostError     the peer a request went to disconnected first
    │   ├── NoEndpointError         the receiving process has no handler for the filt
    │   │   │                       (sent back as a RemoteError with this code)
    │   │   └── PluginReloadingError    the handler's plugin is being reloaded there
    │   │                               (also a RemoteError code; retry shortly)
    │   └── RemoteError             the remote handler failed; carries its code and message
    └── VortexTransportError        a bus connection could not carry a frame (``code``)
        ├── VortexConnectionClosedError   a send on (or a wait for) a connection that closed
        ├── VortexFrameTooLargeError      an outbound frame above the frame size limit
        └── VortexBackPressureError       the connection's outbound queue is full

Every error the bus raises into plugin code is in this tree, so ``except VortexError``
catches them all. The services' own start-up errors (config, token, plugin loading) are
in ``peek_platform.errors``; the platform token's error extends VortexTransportError.
"""


class VortexError(Exception):
    """The root of every bus error a plugin can see."""


class TupleTypeError(VortexError):
    """A tuple class is declared wrongly or used without being registered."""


class DuplicateTupleTypeError(TupleTypeError):
    """Two different classes were registered under one ``__tupleType__``."""

    def __init__(self, tuple_type: str, existing: type, new: type) -> None:
        super().__init__(
            f"tuple type {tuple_type!r} is already registered by "
            f"{_class_path(existing)}; cannot register {_class_path(new)} under the same name"
        )
        self.tuple_type = tuple_type
        self.existing = existing
        self.new = new


class CodecError(VortexError):
    """Converting between bytes and payloads failed."""


class EncodeError(CodecError):
    """A value cannot be encoded; the message says which type and field."""


class DecodeError(CodecError):
    """Received bytes are not a valid bus message; the message says what is wrong."""


class UnknownTupleTypeError(DecodeError):
    """The wire names a tuple type that is not registered in this process."""

    def __init__(self, tuple_type: str) -> None:
        super().__init__(
            f"unknown tuple type {tuple_type!r}: no class is registered under that name "
            "(is the plugin that declares it loaded here?)"
        )
        self.tuple_type = tuple_type


class UndeclaredFieldError(DecodeError):
    """The wire carries a field that the tuple type does not declare."""

    def __init__(self, tuple_type: str, field: str) -> None:
        super().__init__(f"tuple type {tuple_type!r} has no declared field {field!r}")
        self.tuple_type = tuple_type
        self.field = field


class PayloadTooLargeError(DecodeError):
    """A compressed body would inflate beyond the configured maximum."""

    def __init__(self, limit: int, claimed: int | None = None) -> None:
        detail = f" (the header claims {claimed} bytes)" if claimed is not None else ""
        super().__init__(
            f"payload body inflates beyond the limit of {limit} bytes{detail}; refused"
        )
        self.limit = limit
        self.claimed = claimed


class RoutingError(VortexError):
    """A message could not be routed, or a request got no usable answer."""


class NoEndpointError(RoutingError):
    """The receiving process has no endpoint for a request's filt (e.g. plugin not running).

    The receiver answers the request at once with this error's name as the code, so the
    caller gets a RemoteError instead of waiting for its timeout.
    """


class PluginReloadingError(NoEndpointError):
    """The receiving process is reloading the plugin that handles a request's filt.

    Sent back at once (as a RemoteError with this error's name as the code) for every
    request that arrives between the plugin's stop and its start again, so a caller can
    retry shortly instead of taking the plugin for missing.
    """


class NoTransportError(RoutingError):
    """The router has no transport to send with yet."""


class ReplyTimeoutError(RoutingError):
    """A request got no reply within its timeout."""

    def __init__(self, message_id: str, destination: str, key: object, timeout: float) -> None:
        super().__init__(
            f"no reply from {destination} to request {message_id} (filt key {key!r}) "
            f"within {timeout:g} s"
        )
        self.message_id = message_id
        self.destination = destination
        self.timeout = timeout


class ConnectionLostError(RoutingError):
    """The connection a request was sent over closed before the reply arrived."""


class RemoteError(RoutingError):
    """The remote side answered a request with an error code and message (no traceback)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class VortexTransportError(VortexError):
    """The bus transport could not do something; carries a short code and a message.

    ``code`` is a stable, machine-readable word (``"back-pressure"``, ``"closed"``, ...);
    the message says which connection and why. No traceback ever crosses the wire.
    """

    code = "transport"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VortexConnectionClosedError(VortexTransportError):
    """A frame was sent on (or a writer waited for) a connection that is closed."""

    code = "closed"


class VortexFrameTooLargeError(VortexTransportError):
    """An outbound frame exceeds the configured maximum frame size."""

    code = "frame-too-large"


class VortexBackPressureError(VortexTransportError):
    """The connection's outbound queue is full; wait for ``conn.writable()`` and retry."""

    code = "back-pressure"

    def __init__(self, connection: str, queued: int, limit: int) -> None:
        super().__init__(
            f"{connection}: outbound queue full ({queued} bytes queued, limit {limit});"
            " wait for writable() before sending more"
        )
        self.queued = queued
        self.limit = limit


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"

"""Every error of the bus, in one tree; each names the type, field, call or connection.

::

    class                                   code (on the wire)              rebuilt
    VortexError                             VortexError
    ├── TupleTypeError                      TupleTypeError
    │   └── DuplicateTupleTypeError         DuplicateTupleTypeError
    ├── CodecError                          CodecError                      *
    │   ├── EncodeError                     EncodeError                     *
    │   └── DecodeError                     DecodeError                     *
    │       ├── UnknownTupleTypeError       UnknownTupleTypeError           *
    │       ├── UndeclaredFieldError        UndeclaredFieldError            *
    │       └── PayloadTooLargeError        PayloadTooLargeError            *
    ├── RoutingError                        RoutingError
    │   ├── NoTransportError                NoTransportError
    │   ├── ReplyTimeoutError               ReplyTimeoutError
    │   │   ├── RpcTimeoutError             RpcTimeoutError
    │   │   └── ActionTimeoutError          ActionTimeoutError
    │   ├── ConnectionLostError             ConnectionLostError
    │   ├── NoEndpointError                 NoEndpointError                 *
    │   │   └── PluginReloadingError        PluginReloadingError            *
    │   ├── CallRefusedError                CallRefusedError                *
    │   │   ├── AccessDeniedError           AccessDeniedError               *
    │   │   ├── UnknownActionTypeError      UnknownActionTypeError          *
    │   │   ├── InvalidActionError          InvalidActionError              *
    │   │   ├── TupleActionRefusedError     TupleActionRefusedError         *
    │   │   └── TooManySubscriptionsError   TooManySubscriptions            *
    │   ├── ActionOutcomeUnavailableError   ActionOutcomeUnavailableError   *
    │   └── RemoteError                     (the code the reply carried)
    └── VortexTransportError                transport
        ├── VortexConnectionClosedError     closed
        ├── VortexFrameTooLargeError        frame-too-large
        ├── VortexBackPressureError         back-pressure
        └── VortexHelloRefusedError         hello-refused

What each means:

- ``TupleTypeError``: a tuple class is declared wrongly or used without being registered;
  ``DuplicateTupleTypeError``: two classes claim one ``__tupleType__`` (names both).
- ``CodecError``: bytes <-> payload conversion failed; ``EncodeError`` names the type and
  field that cannot go on the wire; ``DecodeError``: received bytes are not a valid
  message (``UnknownTupleTypeError``, ``UndeclaredFieldError``, ``PayloadTooLargeError``
  say which part).
- ``RoutingError``: a message could not be routed or answered: nothing to send with
  (``NoTransportError``), no reply in time (``ReplyTimeoutError``; ``RpcTimeoutError``
  and ``ActionTimeoutError`` name the call), the peer went away first
  (``ConnectionLostError``), no handler there (``NoEndpointError``; its plugin is being
  reloaded: ``PluginReloadingError``, retry shortly), the handler refused without running
  anything (``CallRefusedError`` and its five kinds), an action processor could not check
  earlier outcomes (``ActionOutcomeUnavailableError``, nothing ran), or the remote handler
  failed with a code of its own (``RemoteError``).
- ``VortexTransportError``: a bus connection could not carry a frame (closed, frame above
  the size limit, outbound queue full), or its opening hello was refused
  (``VortexHelloRefusedError``, with the close code and reason sent to the peer).

``except VortexError`` catches every error the bus raises into plugin code. The services'
own errors (config, token, plugin loading) are in ``peek_platform.errors``; its
``VortexTokenError`` extends :class:`VortexTransportError`. ``VortexHelloRefusedError``
never reaches plugin code: the protocol that reads a hello catches it and closes that
connection with its close code.

**Codes.** Every class above has a ``code`` class attribute (the middle column): a
stable word that an error reply carries as ``e: [code, message]`` (see
``docs/wire-protocol.md``) instead of the class's name, so renaming a class does not change
the wire. The classes marked ``*`` cross the wire (``crosses_wire``): an answering side
sends them on purpose, and :data:`WIRE_ERRORS` maps each of their codes to its class.
:func:`error_from_reply` turns a received ``[code, message]`` back into that class, as an
instance that is also a :class:`RemoteError` (so ``except NoEndpointError`` and ``except
RemoteError`` both catch it, and ``.code``/``.message`` are set). Any other code (a
timeout or lost connection reported by a hop further on, a plugin's own
``RemoteError("MyCode", ...)``, a non-bus exception's class name) gives a plain
:class:`RemoteError` with that code: a caller's retry logic catching ``ReplyTimeoutError``
never mistakes another hop's timeout for its own. Compare codes with the class
attribute: ``error.code == AccessDeniedError.code``.

**Error replies.** :func:`error_reply` is how an answering side turns a failure into the
``(code, message)`` of its reply: bus errors and ``RemoteError`` keep their text, anything
else is logged with an error id and answered as ``"internal error, id <id>"``.

Delegates raise :class:`TupleActionRefusedError` to refuse an action for good: the refusal
is remembered like a success and a retry of the same action id gets it again without
running. Any other exception from a delegate is a transient failure: it is answered, not
remembered, and a retry of the same id runs the action again.
"""

import logging
import os
from typing import ClassVar, Union

from twisted.python.failure import Failure

#: Every registered error class by its wire ``code``.
WIRE_ERRORS: dict[str, type["VortexError"]] = {}


class VortexError(Exception):
    """The root of every bus error a plugin can see; ``code`` names its class on the wire."""

    code: ClassVar[str] = "VortexError"
    #: True for errors an answering side sends on purpose (refusals, no endpoint, bad
    #: request): a received reply with their code is rebuilt as their class. The others
    #: (timeouts, lost connections, transport) describe the caller's own link; received
    #: from a hop further on, they stay plain RemoteErrors so that retry logic catching
    #: them never mistakes another hop's failure for its own.
    crosses_wire: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if not isinstance(code, str) or not cls.crosses_wire:
            return  # RemoteError (its code is per instance), local errors, the mixes
        existing = WIRE_ERRORS.get(code)
        if existing is not None and existing is not cls:
            raise TypeError(f"bus error code {code!r} of {_class_path(cls)} is already "
                            f"used by {_class_path(existing)}")
        WIRE_ERRORS[code] = cls


class TupleTypeError(VortexError):
    """A tuple class is declared wrongly or used without being registered."""

    code: ClassVar[str] = "TupleTypeError"


class DuplicateTupleTypeError(TupleTypeError):
    """Two different classes were registered under one ``__tupleType__``."""

    code: ClassVar[str] = "DuplicateTupleTypeError"

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

    crosses_wire: ClassVar[bool] = True

    code: ClassVar[str] = "CodecError"


class EncodeError(CodecError):
    """A value cannot be encoded; the message says which type and field."""

    code: ClassVar[str] = "EncodeError"


class DecodeError(CodecError):
    """Received bytes are not a valid bus message; the message says what is wrong."""

    code: ClassVar[str] = "DecodeError"


class UnknownTupleTypeError(DecodeError):
    """The wire names a tuple type that is not registered in this process."""

    code: ClassVar[str] = "UnknownTupleTypeError"

    def __init__(self, tuple_type: str) -> None:
        super().__init__(
            f"unknown tuple type {tuple_type!r}: no class is registered under that name "
            "(is the plugin that declares it loaded here?)"
        )
        self.tuple_type = tuple_type


class UndeclaredFieldError(DecodeError):
    """The wire carries a field that the tuple type does not declare."""

    code: ClassVar[str] = "UndeclaredFieldError"

    def __init__(self, tuple_type: str, field: str) -> None:
        super().__init__(f"tuple type {tuple_type!r} has no declared field {field!r}")
        self.tuple_type = tuple_type
        self.field = field


class PayloadTooLargeError(DecodeError):
    """A compressed body would inflate beyond the configured maximum."""

    code: ClassVar[str] = "PayloadTooLargeError"

    def __init__(self, limit: int, claimed: int | None = None) -> None:
        detail = f" (the header claims {claimed} bytes)" if claimed is not None else ""
        super().__init__(
            f"payload body inflates beyond the limit of {limit} bytes{detail}; refused"
        )
        self.limit = limit
        self.claimed = claimed


class RoutingError(VortexError):
    """A message could not be routed, or a request got no usable answer."""

    code: ClassVar[str] = "RoutingError"


class NoEndpointError(RoutingError):
    """The receiving process has no endpoint for a request's filt (e.g. plugin not running).

    The receiver answers the request at once with this error's code, so the caller gets
    the error instead of waiting for its timeout.
    """

    code: ClassVar[str] = "NoEndpointError"
    crosses_wire: ClassVar[bool] = True


class PluginReloadingError(NoEndpointError):
    """The receiving process is reloading the plugin that handles a request's filt.

    Sent back at once (as an error reply with this error's code) for every
    request that arrives between the plugin's stop and its start again, so a caller can
    retry shortly instead of taking the plugin for missing.
    """

    code: ClassVar[str] = "PluginReloadingError"


class NoTransportError(RoutingError):
    """The router has no transport to send with yet."""

    code: ClassVar[str] = "NoTransportError"


class ReplyTimeoutError(RoutingError):
    """A request got no reply within its timeout."""

    code: ClassVar[str] = "ReplyTimeoutError"

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

    code: ClassVar[str] = "ConnectionLostError"


class RemoteError(RoutingError):
    """The remote side answered a request with an error code and message (no traceback).

    Raise it with your own code to tell a caller something; received replies whose code
    is registered arrive as that class mixed with this one (see :func:`error_from_reply`).
    """

    code: str  # per instance: whatever the reply carried

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RpcTimeoutError(ReplyTimeoutError):
    """An RPC call got no answer within the decorator's ``timeoutSeconds``."""

    code: ClassVar[str] = "RpcTimeoutError"

    def __init__(self, rpc_name: str, destination: str, timeout: float, message_id: str) -> None:
        # ReplyTimeoutError's own message names only the filt key; this one names the call.
        RoutingError.__init__(
            self,
            f"RPC {rpc_name} to {destination} got no answer within {timeout:g} s "
            f"(request {message_id})",
        )
        self.rpc_name = rpc_name
        self.message_id = message_id
        self.destination = destination
        self.timeout = timeout


class ActionTimeoutError(ReplyTimeoutError):
    """A pushed action got no response within its timeout (after any retries)."""

    code: ClassVar[str] = "ActionTimeoutError"

    def __init__(
        self, action_type: str, action_id: str, processor: str, destination: str,
        timeout: float, attempts: int,
    ) -> None:
        RoutingError.__init__(
            self,
            f"action {action_type} {action_id!r} to processor {processor!r} on {destination} "
            f"got no response within {timeout:g} s ({attempts} attempt(s))",
        )
        self.action_type = action_type
        self.action_id = action_id
        self.message_id = action_id
        self.destination = destination
        self.timeout = timeout
        self.attempts = attempts


class CallRefusedError(RoutingError):
    """The answering side refused a call or action without running it."""

    code: ClassVar[str] = "CallRefusedError"
    crosses_wire: ClassVar[bool] = True


class AccessDeniedError(CallRefusedError):
    """The sender's authenticated vortex name is not in the handler's accepted names."""

    code: ClassVar[str] = "AccessDeniedError"


class UnknownActionTypeError(CallRefusedError):
    """An action processor has no delegate (and no default) for the action's tuple type."""

    code: ClassVar[str] = "UnknownActionTypeError"


class InvalidActionError(CallRefusedError):
    """An action message does not hold exactly one action tuple with a string id."""

    code: ClassVar[str] = "InvalidActionError"


class TupleActionRefusedError(CallRefusedError):
    """Raised by a delegate: this action must not be applied, now or on any retry.

    The processor answers with this error (its ``code``, the text
    as message) and remembers it for the action id like a success, so a retry of the same
    action gets the same refusal without running the delegate again. Raise it only when
    the answer cannot change (the action is invalid, or refers to something deleted);
    raise anything else for failures a retry may get past (a database that is down).
    """

    code: ClassVar[str] = "TupleActionRefusedError"


class TooManySubscriptionsError(CallRefusedError):
    """An observable refused a subscribe: the connection holds its cap of subscriptions."""

    code: ClassVar[str] = "TooManySubscriptions"


class ActionOutcomeUnavailableError(RoutingError):
    """An action processor could not check its record of earlier outcomes (its store is
    unavailable), so it ran nothing; the same action id may be retried later."""

    code: ClassVar[str] = "ActionOutcomeUnavailableError"
    crosses_wire: ClassVar[bool] = True


class VortexTransportError(VortexError):
    """The bus transport could not do something; carries a short code and a message.

    ``code`` is a stable, machine-readable word (``"back-pressure"``, ``"closed"``, ...);
    the message says which connection and why. No traceback ever crosses the wire.
    """

    code: ClassVar[str] = "transport"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VortexConnectionClosedError(VortexTransportError):
    """A frame was sent on (or a writer waited for) a connection that is closed."""

    code: ClassVar[str] = "closed"


class VortexFrameTooLargeError(VortexTransportError):
    """An outbound frame exceeds the configured maximum frame size."""

    code: ClassVar[str] = "frame-too-large"


class VortexBackPressureError(VortexTransportError):
    """The connection's outbound queue is full; wait for ``conn.writable()`` and retry."""

    code: ClassVar[str] = "back-pressure"

    def __init__(self, connection: str, queued: int, limit: int) -> None:
        super().__init__(
            f"{connection}: outbound queue full ({queued} bytes queued, limit {limit});"
            " wait for writable() before sending more"
        )
        self.queued = queued
        self.limit = limit


class VortexHelloRefusedError(VortexTransportError):
    """A hello (or welcome) that is refused: ``close_code`` and ``reason`` are what the
    connection is closed with, so the peer learns why."""

    code: ClassVar[str] = "hello-refused"

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__(f"{int(close_code)} {reason}")
        self.close_code = close_code
        self.reason = reason


#: The message an unexpected exception is replaced by; ``{id}`` is its error id.
INTERNAL_MESSAGE = "internal error, id {id}"

# The RemoteError mix of each registered class, made once (see error_from_reply).
_REMOTE_CLASSES: dict[type[VortexError], type[RemoteError]] = {}


def error_from_reply(code: str, message: str) -> RemoteError:
    """The exception a received error reply ``[code, message]`` stands for.

    A registered code gives an instance of its class that is also a :class:`RemoteError`
    (the class's own ``__init__`` is not run: only the code and message crossed the wire);
    any other code gives a plain ``RemoteError(code, message)``.
    """
    cls = WIRE_ERRORS.get(code)
    if cls is None:
        return RemoteError(code, message)
    remote = _REMOTE_CLASSES.get(cls)
    if remote is None:
        remote = type(cls.__name__, (cls, RemoteError), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": f"A received error reply with code {code!r}.",
        })
        _REMOTE_CLASSES[cls] = remote
    error = Exception.__new__(remote)
    RemoteError.__init__(error, code, message)
    return error


def new_error_id() -> str:
    """A short random id naming one failure in both the reply and the log."""
    return os.urandom(6).hex()


def error_reply(
    failure: Union[Failure, BaseException],
    log: logging.Logger,
    what: str,
    passes: tuple[type[BaseException], ...] = (),
) -> tuple[str, str]:
    """Log a failed request and return the ``(code, message)`` its error reply carries.

    Errors raised on purpose keep their text: a :class:`RemoteError` (its own code and
    message: raise ``RemoteError(code, message)`` to tell the caller something), any other
    bus error (:class:`VortexError`, with its ``code``: refusals, timeouts, decode errors)
    and the types in ``passes`` (code: their ``code`` class attribute, e.g. the
    ``CrudError`` family's, else their class name); they are logged as one debug
    line (a peer repeating a refused call cannot flood the log). Any other exception may
    carry what a caller must never see (SQL statements, database host and port, paths):
    the code is its class name, the message ``"internal error, id <id>"``, and the log
    gets the traceback with ``error id <id>``.
    """
    if not isinstance(failure, Failure):
        failure = Failure(failure, type(failure), failure.__traceback__)
    exc = failure.value
    if isinstance(exc, RemoteError):
        code, message = exc.code, exc.message
    elif isinstance(exc, VortexError):
        code, message = exc.code, str(exc)
    elif isinstance(exc, passes):
        code = getattr(type(exc), "code", None)
        code, message = code if isinstance(code, str) else type(exc).__name__, str(exc)
    else:
        error_id = new_error_id()
        log.error("%s failed, error id %s: %s", what, error_id, failure.getTraceback())
        return type(exc).__name__, INTERNAL_MESSAGE.format(id=error_id)
    log.debug("%s answered with an error: %s: %s", what, code, message)
    return code, message


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"

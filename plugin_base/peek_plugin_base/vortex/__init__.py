"""The bus ("vortex") API for plugins: import everything bus-related from here.

Declaring tuples
----------------
A tuple is a registered record type. Give it a globally unique ``__tupleType__``
(conventionally your plugin's prefix plus the class name) and declare its fields::

    from peek_plugin_base.vortex import Tuple, TupleField, addTupleType

    @addTupleType
    class TaskTuple(Tuple):
        __tupleType__ = "peek_plugin_tutorial.TaskTuple"

        title = TupleField()                     # default None
        tags = TupleField(defaultValue=list)     # callables are called per instance
        done = TupleField(defaultValue=False)

    task = TaskTuple(title="water plants")
    assert task == TaskTuple(title="water plants")          # value equality
    assert TaskTuple.tupleName() == "peek_plugin_tutorial.TaskTuple"

SQLAlchemy 2.x declarative classes can be tuples too; their mapped columns are the
fields::

    class DeclarativeBase(sqlalchemy.orm.DeclarativeBase):
        metadata = MetaData(schema="pl_tutorial")

    @addTupleType
    class StringIntTuple(Tuple, DeclarativeBase):
        __tupleType__ = "peek_plugin_tutorial.StringIntTuple"
        __tablename__ = "StringIntTuple"
        id = Column(Integer, primary_key=True, autoincrement=True)
        string1 = Column(String(50))
        int1 = Column(Integer)

Registering a second class under a taken name is an error naming both classes. A
plugin's registrations (tuple types, endpoints) are undone when it fails or unloads.
Field values may be ``None``, bools, ints, floats (incl. NaN/inf), strings, bytes,
datetimes (tz-aware or naive), dates, Decimals, other tuples, and lists/dicts of those
(dict keys must be strings). A receiver only builds registered types and only sets
their declared fields.

Payloads, envelopes and routing
-------------------------------
``Payload(filt, tuples, result)`` is a message; ``payload.toVortexMsg()`` gives its bytes,
``PayloadEnvelope.fromVortexMsg(data)`` reads only the routing header and
``envelope.decodePayload()`` the tuples. Handlers listen with
``PayloadEndpoint(filt, callback)`` (``filt`` needs a ``"key"``; a message reaches every
endpoint whose filt is a subset of its own) and stop with ``endpoint.shutdown()``. The
wire format is specified in :class:`~peek_plugin_base.vortex.codec.VortexCodec`; routing
and request/reply in :mod:`peek_plugin_base.vortex.router`.

``TupleSelector(name, selector)`` names the data an observer wants; ``toJsonStr()`` is
its stable key.

Porting from the original platform: ``from vortex.Tuple import ...``,
``vortex.Payload``, ``vortex.PayloadEnvelope``, ``vortex.PayloadEndpoint`` and
``vortex.TupleSelector`` all become ``from peek_plugin_base.vortex import ...``;
``Payload(filt, tuples).toVortexMsg()`` still returns the message bytes, synchronously
(about a microsecond per small tuple, so typical payloads need no thread).
"""

from peek_plugin_base.vortex.codec import VortexCodec, configure_default_codec, default_codec
from peek_plugin_base.vortex.errors import (
    CodecError,
    ConnectionLostError,
    DecodeError,
    DuplicateTupleTypeError,
    EncodeError,
    NoTransportError,
    PayloadTooLargeError,
    RemoteError,
    ReplyTimeoutError,
    RoutingError,
    TupleTypeError,
    UndeclaredFieldError,
    UnknownTupleTypeError,
    VortexError,
)
from peek_plugin_base.vortex.payload import Payload, PayloadEnvelope
from peek_plugin_base.vortex.router import (
    LocalSender,
    PayloadEndpoint,
    PayloadRouter,
    VortexSender,
    default_router,
)
from peek_plugin_base.vortex.tuple_selector import TupleSelector
from peek_plugin_base.vortex.tuples import (
    Tuple,
    TupleField,
    addTupleType,
    registeredTupleNames,
    removeTupleType,
)

__all__ = [
    "CodecError",
    "ConnectionLostError",
    "DecodeError",
    "DuplicateTupleTypeError",
    "EncodeError",
    "LocalSender",
    "NoTransportError",
    "Payload",
    "PayloadEndpoint",
    "PayloadEnvelope",
    "PayloadRouter",
    "PayloadTooLargeError",
    "RemoteError",
    "ReplyTimeoutError",
    "RoutingError",
    "Tuple",
    "TupleField",
    "TupleSelector",
    "TupleTypeError",
    "UndeclaredFieldError",
    "UnknownTupleTypeError",
    "VortexCodec",
    "VortexError",
    "VortexSender",
    "addTupleType",
    "configure_default_codec",
    "default_codec",
    "default_router",
    "registeredTupleNames",
    "removeTupleType",
]

# Actions and RPC (see the docstrings of TupleActionProcessor and VortexRPC).
from peek_plugin_base.vortex.action_processor import (  # noqa: E402
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
)
from peek_plugin_base.vortex.action_proxy import TupleActionProcessorProxy  # noqa: E402
from peek_plugin_base.vortex.action_push_client import TupleActionPushClient  # noqa: E402
from peek_plugin_base.vortex.actions import (  # noqa: E402
    TupleActionABC,
    TupleGenericAction,
    TupleUpdateAction,
)
from peek_plugin_base.vortex.call_errors import (  # noqa: E402
    AccessDeniedError,
    ActionTimeoutError,
    CallRefusedError,
    InvalidActionError,
    RpcTimeoutError,
    UnknownActionTypeError,
)
from peek_plugin_base.vortex.rpc import RpcHandle, VortexRPC, vortexRPC  # noqa: E402

__all__ += [
    "AccessDeniedError",
    "ActionTimeoutError",
    "CallRefusedError",
    "InvalidActionError",
    "RpcHandle",
    "RpcTimeoutError",
    "TupleActionABC",
    "TupleActionProcessor",
    "TupleActionProcessorDelegateABC",
    "TupleActionProcessorProxy",
    "TupleActionPushClient",
    "TupleGenericAction",
    "TupleUpdateAction",
    "UnknownActionTypeError",
    "VortexRPC",
    "vortexRPC",
]

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
wire format is specified in :class:`~peek_vortex.wire.VortexCodec`; routing
and request/reply in :mod:`peek_vortex.routing`.

Devices and the originator: a device on a client service's device websocket may address
only that client service; it reaches the server only through the client plugin's
``TupleDataObservableProxyHandler``, ``TupleActionProcessorProxy`` and what it declares
with ``exposeToDevices(...)`` (a :class:`DeviceForwarder`). Handlers get the originator
of a message (``payloadEnvelope.originator``: name, connection uuid, is it a device) as
``vortexName``/``vortexUuid``, also when a proxy forwarded it, and
``acceptOnlyFromVortex`` is checked against it.

``TupleSelector(name, selector)`` names the data an observer wants; ``toJsonStr()`` is
its stable key.

Porting from the original platform: ``from vortex.Tuple import ...``,
``vortex.Payload``, ``vortex.PayloadEnvelope``, ``vortex.PayloadEndpoint`` and
``vortex.TupleSelector`` all become ``from peek_plugin_base.vortex import ...``;
``Payload(filt, tuples).toVortexMsg()`` still returns the message bytes, synchronously
(about a microsecond per small tuple, so typical payloads need no thread).
"""

from peek_vortex.errors import (
    AccessDeniedError,
    ActionOutcomeUnavailableError,
    ActionTimeoutError,
    CallRefusedError,
    CodecError,
    ConnectionLostError,
    DecodeError,
    DuplicateTupleTypeError,
    EncodeError,
    InvalidActionError,
    NoEndpointError,
    NoTransportError,
    PayloadTooLargeError,
    PluginReloadingError,
    RemoteError,
    ReplyTimeoutError,
    RoutingError,
    RpcTimeoutError,
    TooManySubscriptionsError,
    TupleActionRefusedError,
    TupleTypeError,
    UndeclaredFieldError,
    UnknownActionTypeError,
    UnknownTupleTypeError,
    VortexBackPressureError,
    VortexConnectionClosedError,
    VortexError,
    VortexFrameTooLargeError,
    VortexTransportError,
    error_from_reply,
)
from peek_vortex.handlers import (
    DeviceForwarder,
    ObservableMessages,
    ObservedTuples,
    RpcHandle,
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
    TupleActionProcessorProxy,
    TupleActionPushClient,
    TupleDataObservableHandler,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
    TuplesProviderABC,
    VortexRPC,
    exposeToDevices,
    vortexRPC,
)
from peek_vortex.routing import (
    ConnectionEvents,
    ConnectionListener,
    LocalSender,
    PayloadEndpoint,
    PayloadRouter,
    VortexSender,
    connection_events,
    default_router,
    deferToThreadWrap,
    deferToThreadWrapWithLogger,
)
from peek_vortex.tuples import (
    Tuple,
    TupleActionABC,
    TupleField,
    TupleGenericAction,
    TupleSelector,
    TupleUpdateAction,
    addTupleType,
    filterModules,
    registeredTupleNames,
    removeTupleType,
)
from peek_vortex.wire import (
    Originator,
    Payload,
    PayloadEnvelope,
    VortexCodec,
    default_codec,
)

__all__ = [
    "AccessDeniedError",
    "ActionOutcomeUnavailableError",
    "ActionTimeoutError",
    "CallRefusedError",
    "CodecError",
    "ConnectionEvents",
    "ConnectionListener",
    "ConnectionLostError",
    "DecodeError",
    "DeviceForwarder",
    "DuplicateTupleTypeError",
    "EncodeError",
    "InvalidActionError",
    "LocalSender",
    "NoEndpointError",
    "NoTransportError",
    "ObservableMessages",
    "ObservedTuples",
    "Originator",
    "Payload",
    "PayloadEndpoint",
    "PayloadEnvelope",
    "PayloadRouter",
    "PayloadTooLargeError",
    "PluginReloadingError",
    "RemoteError",
    "ReplyTimeoutError",
    "RoutingError",
    "RpcHandle",
    "RpcTimeoutError",
    "TooManySubscriptionsError",
    "Tuple",
    "TupleActionABC",
    "TupleActionProcessor",
    "TupleActionProcessorDelegateABC",
    "TupleActionProcessorProxy",
    "TupleActionPushClient",
    "TupleActionRefusedError",
    "TupleDataObservableHandler",
    "TupleDataObservableProxyHandler",
    "TupleDataObserverClient",
    "TupleField",
    "TupleGenericAction",
    "TupleSelector",
    "TupleTypeError",
    "TupleUpdateAction",
    "TuplesProviderABC",
    "UndeclaredFieldError",
    "UnknownActionTypeError",
    "UnknownTupleTypeError",
    "VortexBackPressureError",
    "VortexCodec",
    "VortexConnectionClosedError",
    "VortexError",
    "VortexFrameTooLargeError",
    "VortexRPC",
    "VortexSender",
    "VortexTransportError",
    "addTupleType",
    "connection_events",
    "default_codec",
    "default_router",
    "deferToThreadWrap",
    "deferToThreadWrapWithLogger",
    "error_from_reply",
    "exposeToDevices",
    "filterModules",
    "registeredTupleNames",
    "removeTupleType",
    "vortexRPC",
]

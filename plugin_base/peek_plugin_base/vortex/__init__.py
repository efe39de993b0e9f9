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

Devices and the originator: a device on a client service's device endpoint may address
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

from peek_plugin_base.vortex.action_processor import (
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
)
from peek_plugin_base.vortex.action_proxy import TupleActionProcessorProxy
from peek_plugin_base.vortex.action_push_client import TupleActionPushClient
from peek_plugin_base.vortex.actions import TupleActionABC, TupleGenericAction, TupleUpdateAction
from peek_plugin_base.vortex.codec import VortexCodec, configure_default_codec, default_codec
from peek_plugin_base.vortex.connection_events import (
    ConnectionEvents,
    ConnectionListener,
    connection_events,
)
from peek_plugin_base.vortex.device_forwarder import DeviceForwarder, exposeToDevices
from peek_plugin_base.vortex.errors import (
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
from peek_plugin_base.vortex.modules import filterModules
from peek_plugin_base.vortex.observable import TupleDataObservableHandler, TuplesProviderABC
from peek_plugin_base.vortex.observable_proxy import TupleDataObservableProxyHandler
from peek_plugin_base.vortex.observable_wire import ObservableMessages
from peek_plugin_base.vortex.observer_client import ObservedTuples, TupleDataObserverClient
from peek_plugin_base.vortex.payload import Originator, Payload, PayloadEnvelope
from peek_plugin_base.vortex.router import (
    LocalSender,
    PayloadEndpoint,
    PayloadRouter,
    VortexSender,
    default_router,
)
from peek_plugin_base.vortex.rpc import RpcHandle, VortexRPC, vortexRPC
from peek_plugin_base.vortex.threads import deferToThreadWrap, deferToThreadWrapWithLogger
from peek_plugin_base.vortex.tuple_selector import TupleSelector
from peek_plugin_base.vortex.tuples import (
    Tuple,
    TupleField,
    addTupleType,
    registeredTupleNames,
    removeTupleType,
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
    "configure_default_codec",
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

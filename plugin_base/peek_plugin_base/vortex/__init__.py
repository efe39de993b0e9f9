"""The bus ("vortex") API for plugins: import everything bus-related from here.

This module is a façade: the bus itself is the ``peek_vortex`` package (platform code,
which plugins never import); this module re-exports the part of it plugins use, and
nothing else. The services configure, connect and run the bus; plugins declare tuples,
send payloads and register handlers.

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
wire format is specified in ``docs/wire-protocol.md``. ``default_router()`` is the
process's :class:`PayloadRouter`: ``send(payload, destVortexName)`` and
``request(payload, destVortexName, timeout=...)`` (a Deferred of the reply).

Devices and the originator: a device on a client service's device websocket may address
only that client service; it reaches the server only through the client plugin's
``TupleDataObservableProxyHandler``, ``TupleActionProcessorProxy`` and what it declares
with ``exposeToDevices(...)`` (shut it down in ``stop()``). Handlers get the originator
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

Connection events: ``connection_events().add_listener(listener)`` calls
``listener.on_connection_open(connection)`` / ``on_connection_lost(connection)`` with a
:class:`VortexSender` (``connection.vortex_name``); it returns a callable that removes the
listener. ``is_connected(vortexName)`` says whether one is up now.

Errors a plugin catches
-----------------------
Everything the bus raises into plugin code is a :class:`VortexError`, so
``except VortexError`` catches it all. The classes exported here are the ones a plugin
has a reason to handle differently, or to raise:

- :class:`RemoteError`: the other side's handler failed; ``code`` and ``message`` say how.
  Raise one (or a subclass) to answer a caller with a code and message on purpose.
- :class:`NoEndpointError`: nothing handles that request there (plugin not loaded);
  :class:`PluginReloadingError` (a subclass): it is being reloaded, retry shortly.
- :class:`AccessDeniedError`: refused by ``acceptOnlyFromVortex`` or the device boundary.
- :class:`TupleActionRefusedError`: a delegate raises it to refuse an action for good
  (remembered like a success); a pusher gets it back.
- :class:`ReplyTimeoutError`, with :class:`RpcTimeoutError` and
  :class:`ActionTimeoutError` naming the call: no answer in time.
- :class:`ConnectionLostError`: the connection went away while the call was in flight;
  retry once connected again.
- :class:`VortexTransportError`: a connection could not carry a frame (closed, frame too
  large, send queue full).

The rest of the tree is caught as ``VortexError`` or through the bases above (the
transport's subclasses under ``VortexTransportError``, ``PluginReloadingError`` under
``NoEndpointError``): codec and tuple-type errors mean a programming error, the other
refusals and routing errors need no handling of their own. Those classes live in
``peek_vortex.errors``, for the platform.

What is not here, on purpose: everything only the platform calls (codec configuration,
the router's senders, error replies, tuple-type removal, the transport), which plugins
never need; it stays in ``peek_vortex``. ``tests/test_architecture.py`` keeps this module
to re-exports only, within a budget of names.
"""

from peek_vortex.errors import (
    AccessDeniedError,
    ActionTimeoutError,
    ConnectionLostError,
    NoEndpointError,
    PluginReloadingError,
    RemoteError,
    ReplyTimeoutError,
    RpcTimeoutError,
    TupleActionRefusedError,
    VortexError,
    VortexTransportError,
)
from peek_vortex.handlers import (
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
    exposeToDevices,
    vortexRPC,
)
from peek_vortex.routing import (
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
)
from peek_vortex.wire import Payload, PayloadEnvelope

__all__ = [
    "AccessDeniedError",
    "ActionTimeoutError",
    "ConnectionLostError",
    "NoEndpointError",
    "ObservedTuples",
    "Payload",
    "PayloadEndpoint",
    "PayloadEnvelope",
    "PayloadRouter",
    "PluginReloadingError",
    "RemoteError",
    "ReplyTimeoutError",
    "RpcHandle",
    "RpcTimeoutError",
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
    "TupleUpdateAction",
    "TuplesProviderABC",
    "VortexError",
    "VortexSender",
    "VortexTransportError",
    "addTupleType",
    "connection_events",
    "default_router",
    "deferToThreadWrap",
    "deferToThreadWrapWithLogger",
    "exposeToDevices",
    "filterModules",
    "vortexRPC",
]

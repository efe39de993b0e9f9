"""The handlers built on the router: observables (provider, proxy, observer client), actions
(processor, proxy, push client, outcome store), RPC and the device forwarder, and the
skeleton they share (:class:`HandlerBase`: endpoints, connection notices, ownership,
shutdown once), which handlers outside the bus (the contract's CRUD handler) build on too."""

from peek_vortex.handlers._action_outcomes import (
    MAX_ACTION_ID_LENGTH,
    ActionOutcome,
    ActionOutcomeStore,
)
from peek_vortex.handlers._action_processor import (
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
)
from peek_vortex.handlers._action_proxy import TupleActionProcessorProxy
from peek_vortex.handlers._action_push_client import TupleActionPushClient
from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._device_forwarder import (
    DeviceForwarder,
    exposeToDevices,
)
from peek_vortex.handlers._observable import (
    TupleDataObservableHandler,
    TuplesProviderABC,
)
from peek_vortex.handlers._observable_proxy import TupleDataObservableProxyHandler
from peek_vortex.handlers._observable_wire import (
    OP_POLL,
    OP_SUBSCRIBE,
    OP_UPDATE,
    TOO_MANY_SUBSCRIPTIONS,
    VERSION_JUMP_LIMIT,
    ObservableMessages,
)
from peek_vortex.handlers._observer_client import (
    ObservedTuples,
    TupleDataObserverClient,
)
from peek_vortex.handlers._rpc import (
    RpcHandle,
    VortexRPC,
    vortexRPC,
)

__all__ = [
    "ActionOutcome",
    "ActionOutcomeStore",
    "DeviceForwarder",
    "HandlerBase",
    "MAX_ACTION_ID_LENGTH",
    "OP_POLL",
    "OP_SUBSCRIBE",
    "OP_UPDATE",
    "ObservableMessages",
    "ObservedTuples",
    "RpcHandle",
    "TOO_MANY_SUBSCRIPTIONS",
    "TupleActionProcessor",
    "TupleActionProcessorDelegateABC",
    "TupleActionProcessorProxy",
    "TupleActionPushClient",
    "TupleDataObservableHandler",
    "TupleDataObservableProxyHandler",
    "TupleDataObserverClient",
    "TuplesProviderABC",
    "VERSION_JUMP_LIMIT",
    "VortexRPC",
    "exposeToDevices",
    "vortexRPC",
]

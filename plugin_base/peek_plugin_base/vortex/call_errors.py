"""Old import path of the action and RPC errors (see :mod:`peek_plugin_base.vortex.errors`)."""

from peek_plugin_base.vortex.errors import (
    AccessDeniedError,
    ActionOutcomeUnavailableError,
    ActionTimeoutError,
    CallRefusedError,
    InvalidActionError,
    RpcTimeoutError,
    TupleActionRefusedError,
    UnknownActionTypeError,
)

__all__ = [
    "AccessDeniedError", "ActionOutcomeUnavailableError", "ActionTimeoutError",
    "CallRefusedError", "InvalidActionError", "RpcTimeoutError", "TupleActionRefusedError",
    "UnknownActionTypeError",
]

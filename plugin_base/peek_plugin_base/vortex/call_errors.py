"""Errors of actions and RPC calls; they extend the tree in :mod:`peek_plugin_base.vortex.errors`.

::

    RoutingError
    ├── ReplyTimeoutError
    │   ├── RpcTimeoutError         an RPC got no answer in time (names function and target)
    │   └── ActionTimeoutError      a pushed action got no answer in time (names type and id)
    ├── CallRefusedError            a handler refused a call before running anything
    │   ├── AccessDeniedError       the sender's authenticated name is not accepted
    │   ├── UnknownActionTypeError  no delegate handles the action's tuple type
    │   ├── InvalidActionError      the message is not exactly one action with an id
    │   └── TupleActionRefusedError a delegate refused an action for good (raise it)
    └── ActionOutcomeUnavailableError  an action processor could not check whether an
                                    action id already ran; nothing ran, retry later

Delegates raise :class:`TupleActionRefusedError` to refuse an action for good: the
refusal is remembered like a success and a retry of the same action id gets it again
without running. Any other exception from a delegate is a transient failure: it is
answered, not remembered, and a retry of the same id runs the action again.

The refusals are raised on the answering side and travel as an error reply; the caller
gets a :class:`~peek_plugin_base.vortex.errors.RemoteError` whose ``code`` is the class
name (compare with ``AccessDeniedError.__name__``) and whose ``message`` says why.
"""

from peek_plugin_base.vortex.errors import ReplyTimeoutError, RoutingError


class RpcTimeoutError(ReplyTimeoutError):
    """An RPC call got no answer within the decorator's ``timeoutSeconds``."""

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


class AccessDeniedError(CallRefusedError):
    """The sender's authenticated vortex name is not in the handler's accepted names."""


class UnknownActionTypeError(CallRefusedError):
    """An action processor has no delegate (and no default) for the action's tuple type."""


class InvalidActionError(CallRefusedError):
    """An action message does not hold exactly one action tuple with a string id."""


class TupleActionRefusedError(CallRefusedError):
    """Raised by a delegate: this action must not be applied, now or on any retry.

    The processor answers with this error (code ``"TupleActionRefusedError"``, the text
    as message) and remembers it for the action id like a success, so a retry of the same
    action gets the same refusal without running the delegate again. Raise it only when
    the answer cannot change (the action is invalid, or refers to something deleted);
    raise anything else for failures a retry may get past (a database that is down).
    """


class ActionOutcomeUnavailableError(RoutingError):
    """An action processor could not check its record of earlier outcomes (its store is
    unavailable), so it ran nothing; the same action id may be retried later."""

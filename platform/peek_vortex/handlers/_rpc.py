"""``@vortexRPC``: call a function that runs in another service as if it were local."""

import functools
import logging
import time
from collections.abc import Callable
from types import CoroutineType
from typing import Any, Optional

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.defer import TimeoutError as DeferTimeoutError
from twisted.python.failure import Failure

from peek_vortex._aio import as_deferred
from peek_vortex.errors import (
    AccessDeniedError,
    RemoteError,
    ReplyTimeoutError,
    RoutingError,
    RpcTimeoutError,
    error_reply,
)
from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._call_support import Responder, error_envelope
from peek_vortex.routing._names import AcceptNames, accept_set
from peek_vortex.routing._router import (
    PayloadRouter,
    default_router,
    require_reactor_thread,
)
from peek_vortex.routing._threads import run_in_thread
from peek_vortex.tuples._tuples import Tuple, TupleField, register_platform_tuple
from peek_vortex.wire._codec import (
    Payload,
    PayloadEnvelope,
    VortexCodec,
    plain_row_body,
    read_plain_row,
)

logger = logging.getLogger(__name__)


@register_platform_tuple
class _RpcArgsTuple(Tuple):
    """The arguments of one RPC call."""

    __tupleType__ = "vortex.rpc.Args"

    args = TupleField(defaultValue=list)
    kwargs = TupleField(defaultValue=dict)


@register_platform_tuple
class _RpcResultTuple(Tuple):
    """The return value of one RPC call."""

    __tupleType__ = "vortex.rpc.Result"

    result = TupleField()


# Type tables of the call and answer bodies. Calls and answers whose values are all
# JSON-native are written and read straight from these rows (same bytes as through
# Payload and the tuples, several times cheaper); anything else takes the tuple path.
_ARGS_TABLE = [[_RpcArgsTuple.__tupleType__, list(_RpcArgsTuple.tupleFieldNames())]]
_RESULT_TABLE = [[_RpcResultTuple.__tupleType__, list(_RpcResultTuple.tupleFieldNames())]]


def _envelope(filt: dict[str, Any], body: bytes, codec: VortexCodec) -> PayloadEnvelope:
    if len(body) < codec.compress_threshold:
        return PayloadEnvelope(filt, body)  # what pack_body would do, one call less
    packed, compression, size = codec.pack_body(body)
    return PayloadEnvelope(filt=filt, encodedPayload=packed, compression=compression,
                           inflatedSize=size)


def _call_envelope(
    filt: dict[str, Any], args: Any, kwargs: dict[str, Any], codec: VortexCodec
) -> PayloadEnvelope:
    body = plain_row_body(_ARGS_TABLE, [list(args), kwargs])
    if body is not None:
        return _envelope(filt, body, codec)
    return Payload(filt=filt, tuples=[_RpcArgsTuple(args=list(args), kwargs=kwargs)]
                   ).makePayloadEnvelope(codec=codec)


def _answer_envelope(result: Any, codec: VortexCodec) -> PayloadEnvelope:
    body = plain_row_body(_RESULT_TABLE, [result])
    if body is not None:
        return _envelope({}, body, codec)
    return Payload(filt={}, tuples=[_RpcResultTuple(result=result)]
                   ).makePayloadEnvelope(codec=codec)


def _row_of(
    envelope: PayloadEnvelope, table: list[list[Any]], codec: VortexCodec
) -> Optional[list[Any]]:
    """The row of a plain one-tuple body of ``table``'s type, else None (inflates if needed,
    within ``codec``'s limit: the router's, which read the envelope)."""
    body = envelope.encodedPayload
    if envelope.compression is not None or len(body) > codec.max_inflated_bytes:
        body = codec.unpack_body(body, envelope.compression, envelope.inflatedSize)
    return read_plain_row(body, table)


def _call_of(envelope: PayloadEnvelope, codec: VortexCodec) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) of a call message; raises on anything that is not one."""
    row = _row_of(envelope, _ARGS_TABLE, codec)
    if row is not None and type(row[0]) is list and type(row[1]) is dict:
        return row[0], row[1]
    (call,) = envelope.decodePayload(codec).tuples
    if type(call) is not _RpcArgsTuple:
        raise TypeError(f"expected {_RpcArgsTuple.__tupleType__}, got {call!r}")
    return call.args, call.kwargs


#: Return types that are certainly not a Deferred, Failure or coroutine.
_PLAIN_TYPES = frozenset((type(None), bool, int, float, str, bytes, list, dict, tuple))


def _as_remote_error(failure: Failure) -> RemoteError:
    # A local call gets what a remote caller would: no internals in the message.
    return RemoteError(*error_reply(failure, logger, "A local RPC call"))


class RpcHandle(HandlerBase):
    """One started RPC on one router; :meth:`shutdown` stops it answering.

    The registration is recorded against the loading plugin, so unloading it stops the
    RPC.
    """

    def __init__(self, rpc: "VortexRPC", router: PayloadRouter, funcSelf: Any) -> None:
        super().__init__(router)
        self.rpc = rpc
        self.router = router
        self.funcSelf = funcSelf
        self._refused_logged: set[str] = set()
        self._claim(rpc.filt["key"])
        self.endpoint = self._listen(rpc.filt, self._on_call)
        self._own(f"RPC {rpc.rpcName}")
        router.rpc_handles[rpc.filt["key"]] = self

    def _on_shutdown(self) -> None:
        key = self.rpc.filt["key"]
        if self.router.rpc_handles.get(key) is self:
            del self.router.rpc_handles[key]

    def invoke(self, args: list[Any], kwargs: dict[str, Any]) -> Deferred:
        """Run the function with decoded arguments (in a thread if the RPC says so)."""
        if self.funcSelf is not None:
            args = [self.funcSelf, *args]
        if self.rpc.deferToThread:
            return run_in_thread(self.rpc.func, *args, **kwargs)
        return maybeDeferred(self.rpc.func, *args, **kwargs)

    def _on_call(
        self,
        payloadEnvelope: PayloadEnvelope,
        vortexName: str,
        vortexUuid: str,
        sendResponse: Responder,
    ) -> None:
        # Runs for every call: bound methods with arguments, no closures built per call.
        rpc = self.rpc
        if payloadEnvelope.messageId is None:
            logger.debug("RPC %s called by %s without a message id: ignored",
                         rpc.rpcName, vortexName)
            return
        caller = (sendResponse, vortexName, vortexUuid, time.monotonic())
        accept = rpc.acceptOnly
        if accept is not None and vortexName not in accept:
            # One warning per sender name, so a misbehaving peer cannot flood the log.
            level = logging.DEBUG if vortexName in self._refused_logged else logging.WARNING
            self._refused_logged.add(vortexName)
            logger.log(level, "RPC %s refused a call from vortex %r (accepts only %s)",
                       rpc.rpcName, vortexName, sorted(accept))
            exc = AccessDeniedError(
                f"RPC {rpc.rpcName} does not accept calls from vortex {vortexName!r}"
            )
            self._answer(error_envelope(exc.code, str(exc)), *caller, status="denied")
            return
        try:
            call_args, call_kwargs = _call_of(payloadEnvelope, self.router.codec)
        except Exception as e:
            logger.warning("RPC %s: undecodable call from %s: %s", rpc.rpcName, vortexName, e)
            self._answer(
                error_envelope(type(e).__name__, f"RPC {rpc.rpcName}: bad call: {e}"), *caller,
                status="bad_call")
            return
        logger.debug("RPC %s called by %s", rpc.rpcName, vortexName)

        if rpc.deferToThread:
            self.invoke(call_args, call_kwargs).addCallbacks(
                self._succeeded, self._failed, callbackArgs=caller, errbackArgs=caller)
            return
        # Most RPCs answer at once: build no Deferred unless the function returns one.
        args = call_args if self.funcSelf is None else [self.funcSelf, *call_args]
        try:
            result = rpc.func(*args, **call_kwargs)
        except Exception:
            self._failed(Failure(), *caller)
            return
        # Plain values first: isinstance against Deferred (an ABC) is slow on a miss.
        if type(result) not in _PLAIN_TYPES and isinstance(
                result, (Deferred, Failure, CoroutineType)):
            # as_deferred: a coroutine runs as an asyncio Task on the asyncio reactor.
            as_deferred(result).addCallbacks(
                self._succeeded, self._failed, callbackArgs=caller, errbackArgs=caller)
        else:
            self._succeeded(result, *caller)

    def _answer(
        self, envelope: PayloadEnvelope, sendResponse: Responder, vortexName: str,
        vortexUuid: str, started: float, status: str = "ok",
    ) -> None:
        try:
            sendResponse(envelope)
        except Exception as e:  # the caller may be gone; nothing else to tell
            logger.warning("RPC %s: could not answer %s (%s): %s",
                           self.rpc.rpcName, vortexName, vortexUuid, e)
        observer = self.router.rpc_observer
        if observer is not None:
            observer(self.rpc.rpcName, vortexName, status, time.monotonic() - started)

    def _succeeded(
        self, result: Any, sendResponse: Responder, vortexName: str, vortexUuid: str,
        started: float,
    ) -> None:
        status = "ok"
        try:
            envelope = _answer_envelope(result, self.router.codec)
        except Exception:
            status = "error"
            envelope = error_envelope(*error_reply(
                Failure(), logger, f"RPC {self.rpc.rpcName}: sending its result to {vortexName}"))
        self._answer(envelope, sendResponse, vortexName, vortexUuid, started, status)

    def _failed(
        self, failure: Failure, sendResponse: Responder, vortexName: str, vortexUuid: str,
        started: float,
    ) -> None:
        # Logged whatever logExceptions says: the reply's error id must resolve in the log.
        code, message = error_reply(
            failure, logger, f"RPC {self.rpc.rpcName} called by {vortexName}")
        self._answer(error_envelope(code, message), sendResponse, vortexName, vortexUuid,
                     started, "error")

    def __repr__(self) -> str:
        return f"RpcHandle({self.rpc.rpcName!r}, active={self.active})"


class VortexRPC:
    """A function callable from other services; made by :func:`vortexRPC`.

    In the listening service, :meth:`start` (``funcSelf`` for methods) registers the
    handler and returns an :class:`RpcHandle`. Anywhere, calling the object sends the
    arguments to ``listeningVortexName`` and returns a Deferred firing with the function's
    return value (a value, a Deferred or a coroutine's result), or failing with
    :class:`~peek_vortex.errors.RemoteError` (``code`` = the remote exception's
    type name, ``message`` = ``"internal error, id <id>"`` with the traceback logged under
    that id where it ran; a ``RemoteError(code, message)`` or other ``VortexError`` the
    function raises on purpose arrives as it is), :class:`RpcTimeoutError` after
    ``timeoutSeconds``,
    or :class:`~peek_vortex.errors.ConnectionLostError`. A call made in the
    process whose router serves the RPC runs it locally, with the same copying of
    arguments and results and the same errors; ``acceptOnlyFromVortex`` does not apply to
    such local calls. Calling it in the listening service before :meth:`start` fails at
    once with :class:`~peek_vortex.errors.RoutingError`.

    Several connections with the listening name: a call goes to the vortex name, so every
    connection of that name (e.g. two agents sharing the ``peek-agent`` credential) runs
    it; the first answer settles the call and later answers are dropped. The bus routes by
    name and has no view of which connections exist, so it cannot pick one; for the normal
    topology (one connection per service name) this is exactly one run. RPCs served by
    several processes of one name should be idempotent, or each process should listen
    under its own name.

    Wire format (frame and tagged values: :class:`~peek_vortex.wire._codec.VortexCodec`)
    ------------------------------------------------------------------------------------------
    Call: header ``f`` = ``{**additionalFilt, "key": "vortex.rpc.<rpcName>"}`` (``rpcName``
    is the function's module and qualified name, e.g.
    ``peek_plugin_tutorial._private.agent.RpcForServer.RpcForServer.subInts``), ``m`` a
    message id, ``d`` the listening vortex name; the body is one ``vortex.rpc.Args`` tuple
    with fields ``args`` (list) and ``kwargs`` (dict of string keys). Arguments may be any
    value the codec carries, tuples included.

    Answer: ``f`` = ``{}``, ``r`` = the call's ``m``, and either a body holding one
    ``vortex.rpc.Result`` tuple with field ``result``, or ``e`` = ``[code, message]``:
    the exception's type name and ``"internal error, id <id>"`` (a ``RemoteError`` keeps
    its code and message, a ``VortexError`` its text), ``AccessDeniedError`` for a refused
    sender, or the decode error of a malformed call. Never a traceback, SQL or addresses.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        listeningVortexName: str,
        acceptOnlyFromVortex: AcceptNames = None,
        additionalFilt: Optional[dict[str, Any]] = None,
        deferToThread: bool = False,
        timeoutSeconds: float = 30.0,
        logExceptions: bool = True,
        router: Optional[PayloadRouter] = None,
    ) -> None:
        if func.__module__ == "__main__":
            # The name would differ between the process running the script and the others.
            raise RoutingError(
                f"@vortexRPC {func.__qualname__}: RPCs must live in an importable module, "
                "not in __main__"
            )
        self.func = func
        self.rpcName = f"{func.__module__}.{func.__qualname__}"
        self.listeningVortexName = listeningVortexName
        self.acceptOnly = accept_set(acceptOnlyFromVortex)
        self.filt = {**(additionalFilt or {}), "key": f"vortex.rpc.{self.rpcName}"}
        self.deferToThread = deferToThread
        self.timeoutSeconds = timeoutSeconds
        self.logExceptions = logExceptions
        self._router = router
        functools.update_wrapper(self, func)

    # ---- listening side

    def start(self, funcSelf: Any = None, router: Optional[PayloadRouter] = None) -> RpcHandle:
        """Serve this RPC on ``router`` (default: the decorator's, else the process's).

        Fails if the router's process has other vortex names than the listening one, or if
        an RPC of this name is already served there. The registration is recorded against
        the loading plugin, so unloading it stops the RPC.
        """
        router = router or self._router or default_router()
        names = router.local_vortex_names
        if names and self.listeningVortexName not in names:
            raise RoutingError(
                f"RPC {self.rpcName} listens as {self.listeningVortexName!r}, but this "
                f"process is {', '.join(sorted(names))}; start it in that service instead"
            )
        existing = router.rpc_handles.get(self.filt["key"])
        if existing is not None and existing.active and existing.rpc is self:
            raise RoutingError(f"RPC {self.rpcName} is already started on this bus")
        handle = RpcHandle(self, router, funcSelf)
        return handle

    # ---- calling side

    def __call__(self, *args: Any, **kwargs: Any) -> Deferred:
        """Call the RPC through the process's router; see the class docstring."""
        return self.callVia(self._router or default_router(), *args, **kwargs)

    def via(self, router: PayloadRouter) -> Callable[..., Deferred]:
        """A caller that uses ``router`` (one of several simulated services in a test)."""
        return functools.partial(self.callVia, router)

    def callVia(self, router: PayloadRouter, *args: Any, **kwargs: Any) -> Deferred:
        """Call the RPC through ``router`` (on the reactor thread; a RoutingError otherwise)."""
        require_reactor_thread(f"the RPC {self.rpcName}")
        codec = router.codec
        try:
            envelope = _call_envelope(self.filt, args, kwargs, codec)
        except Exception as e:
            return fail(e)
        handle = router.rpc_handles.get(self.filt["key"])
        if handle is not None and handle.active and handle.rpc is self:
            return self._call_locally(handle, envelope)
        if self.listeningVortexName in router.local_vortex_names:
            # Sending would only loop back to this process and wait out the timeout.
            return fail(RoutingError(
                f"RPC {self.rpcName} is served by this process "
                f"({self.listeningVortexName!r}) but has not been started here"
            ))
        d = router.request(envelope, self.listeningVortexName, timeout=self.timeoutSeconds)
        d.addCallbacks(_result_of, self._timed_out, callbackArgs=(codec,))
        return d

    def callThroughVia(
        self, router: PayloadRouter, throughVortexName: str, *args: Any, **kwargs: Any
    ) -> Deferred:
        """Call the RPC through ``throughVortexName``, which forwards it to the listener.

        For devices: a device may only address its client service, which forwards the
        RPCs a client plugin exposes (``exposeToDevices``); the listener sees the device
        as the caller. Results and errors are those of :meth:`callVia`.
        """
        try:
            envelope = _call_envelope(self.filt, args, kwargs, router.codec)
        except Exception as e:
            return fail(e)
        d = router.request(envelope, throughVortexName, timeout=self.timeoutSeconds)
        d.addCallbacks(_result_of, self._timed_out, callbackArgs=(router.codec,))
        return d

    def _call_locally(self, handle: RpcHandle, envelope: PayloadEnvelope) -> Deferred:
        # Through the codec both ways, so a local call copies and checks values as a remote
        # one would and the caller cannot tell the difference.
        codec = handle.router.codec
        d = handle.invoke(*_call_of(envelope, codec))

        def copy_result(result: Any) -> Any:
            return _result_of(_answer_envelope(result, codec), codec)

        d.addCallbacks(copy_result, lambda f: Failure(_as_remote_error(f)))
        d.addTimeout(self.timeoutSeconds, handle.router.clock)
        d.addErrback(self._local_timed_out, handle)
        return d

    def _timed_out(self, failure: Failure) -> Failure:
        exc = failure.value
        if isinstance(exc, ReplyTimeoutError) and not isinstance(exc, RpcTimeoutError):
            return Failure(RpcTimeoutError(
                self.rpcName, f"vortex {self.listeningVortexName!r}", exc.timeout, exc.message_id
            ))
        return failure

    def _local_timed_out(self, failure: Failure, handle: RpcHandle) -> Failure:
        if failure.check(DeferTimeoutError):
            return Failure(RpcTimeoutError(
                self.rpcName, "this process (local call)", self.timeoutSeconds, "local"
            ))
        return failure

    def __repr__(self) -> str:
        return f"VortexRPC({self.rpcName!r} on {self.listeningVortexName!r})"


def _result_of(reply: PayloadEnvelope, codec: VortexCodec) -> Any:
    row = _row_of(reply, _RESULT_TABLE, codec)
    if row is not None:
        return row[0]
    tuples = reply.decodePayload(codec).tuples
    if len(tuples) != 1 or type(tuples[0]) is not _RpcResultTuple:
        raise RemoteError("InvalidRpcAnswer", f"expected one vortex.rpc.Result, got {tuples!r}")
    return tuples[0].result


def vortexRPC(
    listeningVortexName: str,
    acceptOnlyFromVortex: AcceptNames = None,
    additionalFilt: Optional[dict[str, Any]] = None,
    deferToThread: bool = False,
    timeoutSeconds: float = 30.0,
    logExceptions: bool = True,
    router: Optional[PayloadRouter] = None,
) -> Callable[[Callable[..., Any]], VortexRPC]:
    """Decorator: make a function or method an RPC served by ``listeningVortexName``.

    ::

        class RpcForServer:
            def makeHandlers(self):
                yield self.subInts.start(funcSelf=self)     # in the agent

            @vortexRPC(peekAgentName, additionalFilt=tutorialFilt)
            def subInts(self, val1, kwval1=9):
                return val1 - kwval1

        result = await RpcForServer.subInts(7, kwval1=5)     # in the server: 2

    ``acceptOnlyFromVortex`` (a name or names) is checked against the caller's
    authenticated vortex name; ``deferToThread`` runs blocking functions in the reactor's
    thread pool; ``timeoutSeconds`` bounds how long a caller waits. See :class:`VortexRPC`.
    """

    def decorate(func: Callable[..., Any]) -> VortexRPC:
        return VortexRPC(
            func, listeningVortexName, acceptOnlyFromVortex, additionalFilt, deferToThread,
            timeoutSeconds, logExceptions, router,
        )

    return decorate

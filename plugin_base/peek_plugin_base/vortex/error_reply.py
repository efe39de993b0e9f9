"""What an error reply tells the other side: a code and a safe message; the detail goes to the
log under an error id that the reply carries too."""

import logging
import os
from typing import Union

from twisted.python.failure import Failure

from peek_plugin_base.vortex.errors import RemoteError, VortexError

#: The message an unexpected exception is replaced by; ``{id}`` is its error id.
INTERNAL_MESSAGE = "internal error, id {id}"


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
    bus error (:class:`VortexError`: refusals, timeouts, decode errors) and the types in
    ``passes``; they are logged as one debug line (a peer repeating a refused call cannot
    flood the log). Any other exception may carry what a
    caller must never see (SQL statements, database host and port, paths): the code is its
    class name, the message ``"internal error, id <id>"``, and the log gets the traceback
    with ``error id <id>``.
    """
    if not isinstance(failure, Failure):
        failure = Failure(failure, type(failure), failure.__traceback__)
    exc = failure.value
    if isinstance(exc, RemoteError):
        code, message = exc.code, exc.message
    elif isinstance(exc, (VortexError, *passes)):
        code, message = type(exc).__name__, str(exc)
    else:
        error_id = new_error_id()
        log.error("%s failed, error id %s: %s", what, error_id, failure.getTraceback())
        return type(exc).__name__, INTERNAL_MESSAGE.format(id=error_id)
    log.debug("%s answered with an error: %s: %s", what, code, message)
    return code, message

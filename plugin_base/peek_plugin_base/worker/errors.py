"""Errors a server-side plugin sees when it queues a worker task.

::

    WorkerTaskError                    a queued task did not produce a result
    ├── RemoteTaskError                the task raised on the worker (remote type and message)
    ├── TaskRevokedError               the task was revoked before it finished
    ├── TaskTimeoutError               no result within the caller's timeout (the task is
    │                                  revoked; its worker may have died, or it still runs)
    ├── TaskBrokerUnavailableError     the task could not be queued: the broker is unreachable
    └── TaskCallerNotRunningError      no task caller runs in this process (or it stopped)

And the errors a task meets using the database through ``CeleryDbConn``::

    StorageError (peek_plugin_base.storage)
    └── WorkerDbError                  the worker's database cannot be used as asked
        ├── WorkerDbNotConfiguredError CeleryDbConn used outside a worker service
        └── WorkerDbMissingError       the database (SQLite file) does not exist; the server
                                       creates and migrates it, the worker never does
"""

from typing import Optional

from peek_plugin_base.storage.StorageErrors import StorageError


class WorkerTaskError(Exception):
    """The root of the errors a ``deferTask`` Deferred can fail with."""

    def __init__(self, task_name: str, task_id: Optional[str], message: str) -> None:
        super().__init__(f"task {task_name}" + (f" [{task_id}]" if task_id else "") +
                         f": {message}")
        self.task_name = task_name
        self.task_id = task_id


class RemoteTaskError(WorkerTaskError):
    """The task raised on the worker.

    The remote exception is never re-created in the caller (its class may not exist here
    and building it could run code); its type name, message and traceback text are kept.
    """

    def __init__(
        self,
        task_name: str,
        task_id: str,
        exc_type: str,
        exc_message: str,
        remote_traceback: Optional[str] = None,
    ) -> None:
        super().__init__(task_name, task_id, f"{exc_type}: {exc_message}")
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.remote_traceback = remote_traceback


class TaskRevokedError(WorkerTaskError):
    """Someone revoked the task before it finished."""


class TaskTimeoutError(WorkerTaskError):
    """No result arrived within the caller's timeout; the caller revoked the task.

    The task may have been lost with a worker that died, may still be queued or running
    (a revoked task that already started runs to its end), or may have finished after the
    caller gave up. ``timeout_seconds`` is the timeout that passed.
    """

    def __init__(self, task_name: str, task_id: str, timeout_seconds: float) -> None:
        super().__init__(
            task_name, task_id,
            f"no result within {timeout_seconds:g}s (celery.taskTimeoutSeconds, or the "
            "task's task_timeout); revoked, though it may have run or still be running",
        )
        self.timeout_seconds = timeout_seconds


class TaskBrokerUnavailableError(WorkerTaskError):
    """The task could not be queued because the broker cannot be reached."""


class TaskCallerNotRunningError(WorkerTaskError):
    """This process runs no task caller, or it stopped before the task finished."""


class WorkerDbError(StorageError):
    """A worker task cannot use the database as it asked (the message says why)."""

    def __reduce__(self) -> tuple[type["WorkerDbError"], tuple[object, ...]]:
        # Celery copies a task's exception through pickle (locally, to check it can be
        # described); without this it would be reported as UnpickleableExceptionWrapper.
        return type(self), (self.schema, self.reason)


class WorkerDbNotConfiguredError(WorkerDbError):
    """``CeleryDbConn`` was used in a process the worker service did not configure."""


class WorkerDbMissingError(WorkerDbError):
    """The configured database does not exist; only the server creates and migrates it."""

"""Queue a worker task from the server and get a Deferred for its result.

::

    from peek_plugin_base.worker.DeferTask import deferTask

    total = await deferTask(addNumbers, 1, 2)

The Deferred fires with the task's return value, or fails with a
:class:`~peek_plugin_base.worker.errors.WorkerTaskError` (``RemoteTaskError`` when the task
raised on the worker, with the remote type name and message; ``TaskTimeoutError`` when no
result arrived within the task's timeout, ``celery.taskTimeoutSeconds`` unless the task or
the call sets ``task_timeout``). Cancelling it, or the timeout, revokes the task. No
thread is held while a task is in flight, and a task is queued exactly once.

Plugins only call :func:`deferTask` (or :func:`deferTaskWithOptions`). What queues the
tasks is the platform's: its task caller (``peek_platform.celery_glue``, a
:class:`TaskCallerABC`) serves ``deferTask`` while the service runs.
"""

from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from typing import Any, Optional, Union

from celery import Task
from twisted.internet.defer import Deferred, fail

from peek_plugin_base.worker import _slot
from peek_plugin_base.worker.errors import TaskCallerNotRunningError

#: The caller serving deferTask in this process (set by TaskCallerABC.serve).
_caller: _slot.ServedSlot["TaskCallerABC"] = _slot.ServedSlot()


class TaskCallerABC(metaclass=ABCMeta):
    """What queues tasks and waits for their results: implemented by the platform.

    Plugins never use it. The platform's caller calls :meth:`serve` once it can queue
    tasks, and the callable ``serve`` returned when it stops.
    """

    @abstractmethod
    def deferTask(
        self,
        task: Union[Task, str],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
    ) -> Deferred[Any]:
        """Queue ``task`` and return a Deferred for its result."""

    def serve(self) -> Callable[[], None]:
        """Make this the caller :func:`deferTask` uses in this process; returns the
        callable that stops it (the caller served before comes back)."""
        return _caller.serve(self)


def deferTask(task: Union[Task, str], *args: Any, **kwargs: Any) -> Deferred[Any]:
    """Queue ``task(*args, **kwargs)`` on the workers; a Deferred for its result.

    ``task`` is a task declared with ``peekTask`` or a task name. Arguments and the result
    travel as JSON.
    """
    return deferTaskWithOptions(task, args, kwargs)


def deferTaskWithOptions(
    task: Union[Task, str],
    args: tuple[Any, ...] = (),
    kwargs: Optional[dict[str, Any]] = None,
    **options: Any,
) -> Deferred[Any]:
    """Like :func:`deferTask`, with Celery publish options (``countdown``, ``queue`` ...)
    and ``task_timeout`` (seconds to wait for the result, for this call)."""
    caller = _caller.current
    name = task if isinstance(task, str) else task.name
    if caller is None:
        return fail(TaskCallerNotRunningError(name, None, "no task caller runs in this process"))
    return caller.deferTask(task, tuple(args), dict(kwargs or {}), options)

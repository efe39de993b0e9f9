"""THE Celery app of a Peek process, and the decorator plugins declare worker tasks with.

There is exactly one app per process. Worker plugins declare their tasks on it with
:func:`peekTask` in the modules they list in ``celeryAppIncludes``; the worker service
configures the app from its ``config.json`` and consumes those tasks; the server service
configures the same app from its ``config.json`` and queues the tasks with
:func:`peek_plugin_base.worker.DeferTask.deferTask`. Messages are JSON only; pickle is never
accepted.

Delivery is at most once by default: the message is acknowledged when the worker takes it,
so a worker that dies mid-task does not run it again. A task that must survive a worker
crash opts in with ``@peekTask(acks_late=True)``: the message is acknowledged only after the
task returns, so a crash redelivers it, and the task MUST then be idempotent. The pattern:

1. Use the task id (``self.request.id`` with ``bind=True``) as the idempotency key; it is the
   same on every delivery of one call.
2. Record the key in the same transaction that applies the task's effect, e.g. insert it
   into an ``applied(task_id PRIMARY KEY)`` table and apply the effect only when the insert
   added a row. A redelivered call then finds its key and skips the effect.
3. Return the same result either way (compute it from stored state, not from the effect).

The tutorial's ``addToStringInt`` (``peek_plugin_tutorial._private.worker.TutorialTasks``)
follows this pattern with its ``AppliedTask`` table.

Whatever becomes of a task, its caller gets an answer in bounded time: a task whose result
does not arrive within ``celery.taskTimeoutSeconds`` (server config) fails the caller's
Deferred with :class:`~peek_plugin_base.worker.errors.TaskTimeoutError` and is revoked. A
task that may take longer declares its own bound, ``@peekTask(task_timeout=3600)``, and
one call can set it with ``deferTaskWithOptions(task, args, task_timeout=...)``. A late-ack
task's timeout must leave room for a redelivery: the broker's lease
(``celery.visibilityTimeoutSeconds``) plus the task's run time.

Retries are opt-in too (Celery's ``autoretry_for`` / ``self.retry``); the platform never
re-submits a task on its own.
"""

from collections.abc import Callable
from typing import Any, Optional, TypeVar, overload

from celery import Celery, Task, states
from celery.exceptions import Ignore

from peek_vortex import record_owned

#: Set in the app's config when revocations are also stored in the result backend, where
#: a task checks them before it runs (on the embedded broker, where that read is cheap).
REVOKE_VIA_BACKEND = "peek_revoke_via_backend"


class PeekTask(Task):
    """The base of every ``peekTask``: skips a task revoked through the result backend."""

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        if self.app.conf.get(REVOKE_VIA_BACKEND) and (
            self.backend.get_state(task_id) == states.REVOKED
        ):
            raise Ignore()


def check_task_timeout(task_name: str, seconds: Any) -> float:
    """``seconds`` as a task timeout; ValueError naming the task unless it is a number > 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"task_timeout of task {task_name} must be a number of seconds > 0, "
                         f"got {seconds!r}")
    return float(seconds)


#: The one Celery app of this process. The platform configures it before use.
celeryApp = Celery("peek", set_as_current=False)

F = TypeVar("F", bound=Callable[..., Any])


@overload
def peekTask(fun: F) -> Task: ...


@overload
def peekTask(fun: None = None, **options: Any) -> Callable[[F], Task]: ...


def peekTask(fun: Optional[F] = None, **options: Any) -> Any:
    """Declare a worker task on :data:`celeryApp`: ``@peekTask`` or ``@peekTask(bind=True)``.

    ``options`` are Celery task options (``bind``, ``acks_late``, ``autoretry_for``,
    ``max_retries``, ``soft_time_limit``, ``name`` ...) and ``task_timeout``: the seconds
    the server waits for this task's result (default ``celery.taskTimeoutSeconds``). A
    ``name`` must start with the plugin's package (``peek_plugin_x.``), as the default name
    does: a task goes to the queue of that plugin, which only workers running it consume.
    The task is registered on this app only (not as a Celery "shared" task), and removed again
    when the plugin that declared it unloads.
    """
    serializer = options.get("serializer", "json")
    if serializer != "json":
        raise ValueError(f"worker tasks are JSON only; serializer {serializer!r} is refused")
    options["shared"] = False
    options.setdefault("base", PeekTask)

    def declare(f: F) -> Task:
        name = options.get("name")
        package = f.__module__.partition(".")[0]
        if name is not None and not str(name).startswith(f"{package}."):
            raise ValueError(
                f"worker task name {name!r} must start with its plugin's package "
                f"'{package}.': the server routes a task to the workers running the "
                "plugin its name starts with")
        if options.get("task_timeout") is not None:
            check_task_timeout(options.get("name") or f.__qualname__, options["task_timeout"])
        task = celeryApp.task(**options)(f)
        name = task.name
        record_owned(f"worker task {name}", lambda: celeryApp.tasks.pop(name, None))
        return task

    if fun is not None:
        return declare(fun)
    return declare

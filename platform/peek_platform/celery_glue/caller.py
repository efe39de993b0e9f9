"""The server side of worker tasks: queue a task, get a Deferred, no thread per task.

Two threads serve every task in flight, however many there are:

- the *publisher* sends task messages (and revocations) to the broker, one at a time, so a
  slow or unreachable broker never blocks the reactor;
- the *listener* watches the result backend for every pending task at once (one Redis
  pattern subscription, or one query for new rows of the embedded backend), hands finished
  results to the reactor in batches, and deletes them from the backend.

Each task is published exactly once (``retry=False``): if the broker cannot be reached the
Deferred fails with :class:`TaskBrokerUnavailableError` at once. Every Deferred gets an
answer in bounded time: when no result arrived within the task's timeout (the option
``task_timeout``, else the task's ``task_timeout`` attribute, else
``celery.taskTimeoutSeconds``), it fails with :class:`TaskTimeoutError` and the task is
revoked, whatever became of it (a worker killed mid-task leaves no result at all). When
the result backend becomes unreachable the listener logs it once, reconnects with
backoff, and then reads the stored results of every pending task, so results finished
meanwhile are not lost.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union

from celery import Celery, Task, states
from celery.utils import uuid
from kombu.exceptions import OperationalError
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from peek_platform.celery_glue.app_config import TASK_TIMEOUT
from peek_platform.celery_glue.result_watchers import RawResult, watcher_for
from peek_plugin_base.worker.CeleryApp import REVOKE_VIA_BACKEND, check_task_timeout
from peek_plugin_base.worker.DeferTask import TaskCallerABC
from peek_plugin_base.worker.errors import (
    RemoteTaskError,
    TaskBrokerUnavailableError,
    TaskCallerNotRunningError,
    TaskRevokedError,
    TaskTimeoutError,
    WorkerTaskError,
)

logger = logging.getLogger(__name__)

CallFromThread = Callable[..., None]

#: How long the listener waits in one poll (bounds how fast it notices a stop).
LISTEN_TIMEOUT_SECONDS = 0.25
#: How often the listener re-reads the stored results of all pending tasks, in case a
#: notification was missed.
CATCH_UP_SECONDS = 5.0
#: Backoff between reconnection attempts to the result backend.
RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0)

_REVOKE = object()
_STOP = object()


@dataclass
class _Pending:
    task_name: str
    deferred: Deferred[Any]


class TaskCaller(TaskCallerABC):
    """Queues tasks on ``app`` and delivers their results as Deferreds.

    ``call_from_thread`` runs a callable on the thread that owns the Deferreds (the reactor:
    ``reactor.callFromThread``), and ``clock`` schedules on that thread (the reactor)
    the timeouts of tasks in flight. Methods other than the threads' loops are called on
    that thread only.
    """

    def __init__(
        self,
        app: Celery,
        call_from_thread: CallFromThread,
        clock: IReactorTime,
        poll_seconds: float = 0.002,
    ) -> None:
        self._app = app
        self._call_from_thread = call_from_thread
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._pending: dict[str, _Pending] = {}
        # Read by the listener thread to skip other callers' results without a reactor hop.
        self._pending_ids: set[str] = set()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._forget: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._broker_down = False

    # ------------------------------------------------------------- reactor side

    @property
    def pending_count(self) -> int:
        """Tasks queued whose result has not arrived."""
        return len(self._pending)

    def start(self) -> None:
        """Start the publisher and listener threads."""
        backend = self._app.backend
        watcher = watcher_for(backend, self._stopping, self._poll_seconds)
        self._threads = [
            threading.Thread(target=self._publish_loop, name="peek-task-publisher",
                             daemon=True),
            threading.Thread(target=self._listen_loop, args=(watcher,),
                             name="peek-task-results", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads; every task still pending fails with TaskCallerNotRunningError."""
        self._stopping.set()
        self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        pending, self._pending = self._pending, {}
        self._pending_ids.clear()
        for task_id, item in pending.items():
            item.deferred.errback(TaskCallerNotRunningError(
                item.task_name, task_id, "the task caller stopped before the result arrived"))

    def deferTask(
        self,
        task: Union[Task, str],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
    ) -> Deferred[Any]:
        name = task if isinstance(task, str) else task.name
        options = dict(options)
        timeout = self._timeout_for(task, options.pop("task_timeout", None))
        if self._stopping.is_set() or not self._threads:
            return fail(TaskCallerNotRunningError(name, None, "the task caller is stopped"))
        task_id = uuid()
        deferred: Deferred[Any] = Deferred(lambda _: self._cancel(task_id))
        self._pending[task_id] = _Pending(name, deferred)
        self._pending_ids.add(task_id)
        self._jobs.put((task, task_id, args, kwargs, options))

        def timed_out(_: Failure, seconds: float) -> Failure:
            # Cancelling (by addTimeout) has already revoked the task.
            return Failure(TaskTimeoutError(name, task_id, seconds))

        return deferred.addTimeout(timeout, self._clock, onTimeoutCancel=timed_out)

    def _timeout_for(self, task: Union[Task, str], requested: Any) -> float:
        """The timeout of one call: the call's option, else the task's, else the default."""
        if requested is None:
            declared = self._app.tasks.get(task) if isinstance(task, str) else task
            requested = getattr(declared, "task_timeout", None)
        if requested is None:
            return float(self._app.conf[TASK_TIMEOUT])
        return check_task_timeout(task if isinstance(task, str) else task.name, requested)

    def _cancel(self, task_id: str) -> None:
        if self._pending.pop(task_id, None) is not None:
            self._pending_ids.discard(task_id)
            self._jobs.put((_REVOKE, task_id))
        # Not firing the Deferred here makes it fail with CancelledError.

    def _take(self, task_id: str) -> Optional[_Pending]:
        item = self._pending.pop(task_id, None)
        self._pending_ids.discard(task_id)
        return item

    def _publish_failed(self, task_id: str, error: WorkerTaskError) -> None:
        item = self._take(task_id)
        if item is not None:
            item.deferred.errback(error)

    def _resolve(self, results: list[tuple[str, dict[str, Any]]]) -> None:
        for task_id, meta in results:
            item = self._take(task_id)
            if item is None:
                continue
            self._forget.put(task_id)
            status = meta.get("status")
            if status == states.SUCCESS:
                item.deferred.callback(meta.get("result"))
            elif status == states.REVOKED:
                item.deferred.errback(TaskRevokedError(item.task_name, task_id, "revoked"))
            else:
                item.deferred.errback(_remote_error(item.task_name, task_id, meta))

    # ---------------------------------------------------------- publisher thread

    def _publish_loop(self) -> None:
        # This thread owns one broker connection (not the app's shared pool), so after an
        # outage it can simply drop it and connect afresh for the next task.
        connection: Any = None
        producer: Any = None
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            try:
                if producer is None:
                    connection = self._app.connection_for_write()
                    producer = self._app.amqp.Producer(connection)
                if job[0] is _REVOKE:
                    self._revoke(job[1], connection)
                else:
                    self._send(job, producer)
            except Exception as e:  # noqa: BLE001 - the broker connection failed
                _close_quietly(connection)
                connection = producer = None
                if job[0] is _REVOKE:
                    logger.warning("Could not revoke cancelled task %s: %s", job[1], e)
                else:
                    name = job[0] if isinstance(job[0], str) else job[0].name
                    self._call_from_thread(self._publish_failed, job[1],
                                           self._broker_error(name, job[1], e))
        _close_quietly(connection)

    def _send(self, job: tuple[Any, ...], producer: Any) -> None:
        task, task_id, args, kwargs, options = job
        name = task if isinstance(task, str) else task.name
        try:
            if isinstance(task, str):
                self._app.send_task(task, args, kwargs, task_id=task_id, retry=False,
                                    producer=producer, **options)
            else:
                task.apply_async(args, kwargs, task_id=task_id, retry=False,
                                 producer=producer, **options)
        except Exception as e:
            if _is_connection_error(e):
                raise
            error = WorkerTaskError(name, task_id,
                                    f"could not be queued: {type(e).__name__}: {e}")
            self._call_from_thread(self._publish_failed, task_id, error)
            return
        if self._broker_down:
            self._broker_down = False
            logger.info("Task broker reachable again")

    def _broker_error(self, name: str, task_id: str, e: Exception) -> WorkerTaskError:
        if not self._broker_down:
            self._broker_down = True
            logger.error("Task broker unreachable; tasks fail until it is back: %s", e)
        return TaskBrokerUnavailableError(name, task_id, f"the task broker is unreachable: {e}")

    def _revoke(self, task_id: str, connection: Any) -> None:
        if self._app.conf.get(REVOKE_VIA_BACKEND):
            self._app.backend.mark_as_revoked(task_id, reason="cancelled by the caller")
        self._app.control.revoke(task_id, connection=connection)

    # ----------------------------------------------------------- listener thread

    def _listen_loop(self, watcher: Any) -> None:
        backend = self._app.backend
        connected = False
        failures = 0
        next_catch_up = 0.0
        clock = time.monotonic
        while not self._stopping.is_set():
            try:
                if not connected:
                    watcher.open()
                    connected = True
                    if failures:
                        logger.info("Task result backend reachable again")
                    failures = 0
                    next_catch_up = 0.0
                found: list[RawResult] = []
                if clock() >= next_catch_up:
                    # Results may have been stored while we were not listening.
                    found.extend(watcher.fetch(list(self._pending_ids.copy())))
                    next_catch_up = clock() + CATCH_UP_SECONDS
                found.extend(watcher.poll(LISTEN_TIMEOUT_SECONDS))
                self._deliver(backend, found)
                self._delete_forgotten(watcher)
            except Exception as e:  # noqa: BLE001 - the listener must outlive any outage
                if connected or not failures:
                    logger.error("Task result backend unreachable; retrying: %s", e)
                connected = False
                watcher.close()
                self._stopping.wait(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)])
                failures += 1
        watcher.close()

    def _deliver(self, backend: Any, found: list[RawResult]) -> None:
        ready: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        for task_id, raw in found:
            if task_id not in self._pending_ids or task_id in seen:
                continue
            try:
                # decode(), not decode_result(): the remote exception stays a description
                # (type name, message) and is never re-created here.
                meta = backend.decode(raw)
            except Exception as e:  # noqa: BLE001 - e.g. a result in a refused content type
                meta = {"status": states.FAILURE,
                        "result": {"exc_type": type(e).__name__, "exc_message": [str(e)]}}
            if meta.get("status") in states.READY_STATES:
                seen.add(task_id)
                ready.append((task_id, meta))
        if ready:
            self._call_from_thread(self._resolve, ready)

    def _delete_forgotten(self, watcher: Any) -> None:
        ids: list[str] = []
        while True:
            try:
                ids.append(self._forget.get_nowait())
            except queue.Empty:
                break
        if ids:
            watcher.delete(ids)


def _is_connection_error(e: Exception) -> bool:
    """Whether ``e`` means the broker is unreachable (rather than a bad task or argument)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(e, (OperationalError, ConnectionError, TimeoutError, OSError,
                          RedisConnectionError, RedisTimeoutError))


def _close_quietly(connection: Any) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - it is broken already
            pass


def _remote_error(task_name: str, task_id: str, meta: dict[str, Any]) -> RemoteTaskError:
    """The caller-side error for a FAILURE meta (the exception is described, not rebuilt)."""
    result = meta.get("result")
    if isinstance(result, dict):
        exc_type = str(result.get("exc_type", "Exception"))
        args = result.get("exc_message", [])
        if isinstance(args, (list, tuple)):
            message = str(args[0]) if len(args) == 1 else ", ".join(str(a) for a in args)
        else:
            message = str(args)
    else:
        exc_type, message = "Exception", str(result)
    return RemoteTaskError(task_name, task_id, exc_type, message, meta.get("traceback"))

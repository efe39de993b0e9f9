"""A real ``run_peek_worker`` on each broker, driven by the platform's task caller."""

from pathlib import Path

import pytest
from twisted.internet.defer import CancelledError

from peek_plugin_base.worker.errors import RemoteTaskError, WorkerTaskError
from tests.support import wait_for
from tests.worker.support import (
    PLUGIN,
    Broker,
    StartCaller,
    StartWorker,
    WorkerProcess,
    make_broker,
)


def test_results_and_remote_failures(
    broker: Broker,
    start_worker: StartWorker,
    start_caller: StartCaller,
    tmp_path: Path,
) -> None:
    """Results come back as values; a task raising on the worker fails the Deferred with the
    remote exception's type name and message, and ran once (no retry unless opted in);
    unencodable arguments fail before queueing."""
    worker = start_worker(broker)
    stack = start_caller(broker)

    assert stack.call("add", 2, 3) == 5
    with pytest.raises(RemoteTaskError) as raised:
        stack.call("fail", "no such ledger")
    assert raised.value.exc_type == "ValueError"
    assert raised.value.exc_message == "no such ledger"
    assert "ValueError" in (raised.value.remote_traceback or "")
    with pytest.raises(WorkerTaskError, match="could not be queued"):
        stack.call("add", object(), 1)
    attempts = tmp_path / "attempts"
    with pytest.raises(RemoteTaskError, match="RuntimeError: once only"):
        stack.call("fail_counting", str(attempts), "once only")
    assert stack.call("add", 0, 0) == 0  # the solo worker is past the failed task
    assert attempts.read_text().splitlines() == ["attempt"]
    assert stack.caller.pending_count == 0
    assert stack.pump.clock.getDelayedCalls() == []  # answered calls leave no timeout behind

    assert worker.terminate() == 0
    steps = [line.split()[0] for line in worker.lifecycle_path.read_text().splitlines()]
    assert steps == ["load", "start", "stop", "unload"]


def test_many_tasks_in_flight_without_a_thread_each(
    broker: Broker,
    start_worker: StartWorker,
    start_caller: StartCaller,
) -> None:
    """200 tasks in flight at once all resolve, with the caller's two threads only."""
    import threading

    start_worker(broker, pool="prefork", concurrency=2)
    stack = start_caller(broker)
    before = threading.active_count()
    deferreds = [stack.defer("add", i, i) for i in range(200)]
    assert threading.active_count() == before
    assert [stack.pump.wait(d) for d in deferreds] == [2 * i for i in range(200)]


def test_cancel_revokes_the_task(
    broker: Broker,
    start_worker: StartWorker,
    start_caller: StartCaller,
    tmp_path: Path,
) -> None:
    """Cancelling a queued task's Deferred fails it with CancelledError and the worker never
    runs the task."""
    worker = start_worker(broker, pool="prefork", concurrency=1, prefetchMultiplier=1)
    stack = start_caller(broker)
    started, release = tmp_path / "started", tmp_path / "release"
    blocker = stack.defer("block", str(started), str(release))
    wait_for(started.exists, 20, "the blocking task to start")

    marker = tmp_path / "must-not-exist"
    queued = stack.defer("touch", str(marker))
    queued.cancel()
    with pytest.raises(CancelledError):
        stack.pump.wait(queued)
    # The prefork worker's event loop reads the revoke while its pool is busy.
    worker.wait_log("flagged as revoked", 20)

    release.touch()
    assert stack.pump.wait(blocker) == "released"
    assert stack.call("add", 1, 1) == 2  # the worker got past the revoked message
    assert not marker.exists()


def test_prefork_children_have_no_reactor(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """Tasks run in forked pool processes that never imported the Twisted reactor."""
    broker = make_broker("embedded", tmp_path, request)
    worker = start_worker(broker, pool="prefork", concurrency=2)
    stack = start_caller(broker)
    info = stack.call("process_info")
    assert info["reactor_imported"] is False
    assert info["pid"] != worker.proc.pid


def test_plugin_with_broken_task_module_fails_alone(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """A plugin whose celeryAppIncludes cannot be imported is failed and unloaded; the
    worker runs the other plugins' tasks."""
    broker = make_broker("embedded", tmp_path, request)
    worker = WorkerProcess(tmp_path / "w", broker, enabled=["peek_plugin_workerbroken", PLUGIN])
    request.addfinalizer(worker.cleanup)
    worker.start()
    assert "Plugin peek_plugin_workerbroken failed: importing celeryAppIncludes" in worker.log()
    stack = start_caller(broker)
    assert stack.call("add", 20, 22) == 42
    assert worker.terminate() == 0


def test_defer_task_goes_through_the_installed_caller(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """``peek_plugin_base``'s deferTask uses the caller the platform serves, and fails
    clearly when none is served."""
    from peek_plugin_base.worker.DeferTask import deferTask
    from peek_plugin_base.worker.errors import TaskCallerNotRunningError
    outcome: list = []
    deferTask("peek_plugin_workertest.tasks.add", 1, 1).addErrback(outcome.append)
    assert outcome[0].check(TaskCallerNotRunningError)

    broker = make_broker("embedded", tmp_path, request)
    start_worker(broker)
    stack = start_caller(broker)
    stop_serving = stack.caller.serve()
    try:
        assert stack.pump.wait(deferTask("peek_plugin_workertest.tasks.add", 4, 5)) == 9
    finally:
        stop_serving()
    outcome.clear()
    deferTask("peek_plugin_workertest.tasks.add", 1, 1).addErrback(outcome.append)
    assert outcome[0].check(TaskCallerNotRunningError)


def test_threads_pool_and_soft_time_limit(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """The threads pool runs tasks; on prefork the configured soft time limit stops a long
    task with SoftTimeLimitExceeded, reported to the caller by name."""
    broker = make_broker("embedded", tmp_path, request)
    threads = start_worker(broker, pool="threads", concurrency=2)
    stack = start_caller(broker)
    assert stack.call("add", 3, 4) == 7
    assert threads.terminate() == 0

    start_worker(broker, pool="prefork", concurrency=1, softTimeLimitSeconds=0.5,
                 hardTimeLimitSeconds=20)
    with pytest.raises(RemoteTaskError) as raised:
        stack.call("block", str(tmp_path / "started"), str(tmp_path / "never"))
    assert raised.value.exc_type == "SoftTimeLimitExceeded"


def test_task_events_reach_an_event_monitor(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """With Redis, the worker sends task events (what Flower shows): a monitor sees the
    task's received and succeeded events."""
    import threading

    broker = make_broker("redis", tmp_path, request)
    start_worker(broker)
    stack = start_caller(broker)
    seen: list[dict] = []
    receivers: list = []

    def monitor() -> None:
        with stack.app.connection_for_read() as conn:
            receiver = stack.app.events.Receiver(conn, handlers={"*": seen.append})
            receivers.append(receiver)
            for _ in receiver.itercapture(limit=None, timeout=None, wakeup=False):
                pass

    thread = threading.Thread(target=monitor, daemon=True)
    thread.start()
    try:
        # Events are broadcast: wait until the monitor provably receives one of ours.
        with stack.app.events.default_dispatcher() as dispatcher:
            wait_for(lambda: dispatcher.send("test-probe") or
                       any(e["type"] == "test-probe" for e in seen), 20, "the monitor")
        assert stack.call("add", 5, 5) == 10
        wait_for(lambda: {"task-received", "task-succeeded"} <=
                   {e["type"] for e in seen if e.get("uuid")}, 20, "task events")
    finally:
        for receiver in receivers:
            receiver.should_stop = True
        thread.join(10)


def test_sigterm_lets_the_running_task_finish(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """SIGTERM is a warm shutdown: the running task completes and its caller gets the result,
    then the plugins stop and unload, and the worker exits 0."""
    import signal

    broker = make_broker("embedded", tmp_path, request)
    worker = start_worker(broker)
    stack = start_caller(broker)
    started, release = tmp_path / "started", tmp_path / "release"
    running = stack.defer("block", str(started), str(release))
    wait_for(started.exists, 20, "the task to start")

    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    stdout = worker.home / "stdout.txt"
    wait_for(lambda: "Warm shutdown" in stdout.read_text(), 20, "the warm shutdown")
    assert worker.proc.poll() is None  # still finishing the task
    release.touch()
    assert stack.pump.wait(running) == "released"
    assert worker.proc.wait(30) == 0
    steps = [line.split()[0] for line in worker.lifecycle_path.read_text().splitlines()]
    assert steps[-2:] == ["stop", "unload"]


def test_cancel_on_a_busy_solo_worker_with_the_embedded_broker(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """A solo worker busy with one task reads the revoke of the next only afterwards; on the
    embedded broker the revocation is also stored in the result backend, which the task
    checks before it runs, so the cancelled task never runs."""
    broker = make_broker("embedded", tmp_path, request)
    start_worker(broker, pool="solo", prefetchMultiplier=4)
    stack = start_caller(broker)
    started, release = tmp_path / "started", tmp_path / "release"
    blocker = stack.defer("block", str(started), str(release))
    wait_for(started.exists, 20, "the blocking task to start")

    marker = tmp_path / "must-not-exist"
    queued = stack.defer("touch", str(marker))
    queued.cancel()
    with pytest.raises(CancelledError):
        stack.pump.wait(queued)
    wait_for(lambda: any('"REVOKED"' in value for _, _, value in
                           stack.app.backend.changes_since(0)), 20, "the stored revocation")
    release.touch()
    assert stack.pump.wait(blocker) == "released"
    assert stack.call("add", 1, 1) == 2
    assert not marker.exists()

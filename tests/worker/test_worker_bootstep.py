"""The worker's platform bootstep: where Celery's blueprint puts it and what each phase does."""

import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from celery import Celery
from celery.contrib.testing.worker import TestWorkController
from celery.worker import state
from celery.worker.components import Pool
from kombu.utils.imports import symbol_by_name

from peek_worker.bootstep import PeekPlatformStep
from tests.support import wait_for
from tests.worker.support import StartCaller, StartWorker, make_broker


class _Bus:
    """Stands in for the bus thread: notes when it starts and stops, and the pool's state."""

    def __init__(self, journal: list[str], pool_state: Any) -> None:
        self._journal = journal
        self._pool_state = pool_state

    def start(self) -> None:
        self._journal.append(f"bus start (pool {self._pool_state()})")

    def stop(self) -> None:
        self._journal.append("bus stop")


class _Platform:
    """Records what the step asks of the platform, with the pool's state at each call."""

    def __init__(self) -> None:
        self.journal: list[str] = []
        self.worker: Optional[Any] = None
        self.bus = _Bus(self.journal, self.pool_state)

    def pool_state(self) -> str:
        pool = self.worker.pool if self.worker is not None else None
        if pool is None:
            return "none"
        return {pool.RUN: "running", pool.CLOSE: "closing",
                pool.TERMINATE: "stopped"}.get(pool._state, "created")

    def start_plugins(self) -> list[str]:
        self.journal.append("plugins start")
        return ["peek"]

    def stop(self) -> None:
        self.journal.append(f"plugins stop (pool {self.pool_state()})")
        self.bus.stop()


@pytest.fixture
def app() -> Iterator[Celery]:
    """A Celery app of its own on the in-memory broker, with the platform step added."""
    app = Celery("bootstep-test", broker="memory://", backend="cache+memory://",
                 set_as_current=False)
    app.steps["worker"].add(PeekPlatformStep)
    yield app
    app.close()


def _worker(app: Celery, platform: Optional[_Platform]) -> TestWorkController:
    return TestWorkController(
        app=app, pool="solo", concurrency=1, ready_callback=None, without_heartbeat=True,
        without_mingle=True, without_gossip=True, quiet=True, peek_platform=platform)


def test_step_requires_the_pool_and_runs_before_the_consumer(app: Celery) -> None:
    """Celery orders the step after its pool (so the bus thread starts after the fork) and
    before the consumer (so tasks are consumed only once the plugins run); the plugins
    start while the worker is built, before the pool has started (and so forked)."""
    platform = _Platform()
    worker = _worker(app, platform)
    order = [step.name for step in worker.blueprint.order]
    ours = "peek_worker.bootstep.PeekPlatformStep"
    assert order.index("celery.worker.components.Pool") < order.index(ours)
    assert order.index(ours) < order.index("celery.worker.components.Consumer")
    assert platform.journal == ["plugins start"]
    # Celery resolves the names in place once a blueprint has used the step.
    assert [symbol_by_name(r) for r in PeekPlatformStep.requires] == [Pool]


def test_step_is_left_out_of_workers_without_the_platform(app: Celery) -> None:
    """A worker built without ``peek_platform`` (another app's worker in the process) does
    not run the step."""
    worker = _worker(app, None)
    assert not any(isinstance(step, PeekPlatformStep) for step in worker.steps)


def test_step_phases_in_a_running_worker(app: Celery) -> None:
    """In a real (solo, in-memory broker) worker: plugins start as it is built, the bus
    starts once the pool runs, and at a warm shutdown the pool finishes first, then the
    plugins stop, then the bus closes."""
    platform = _Platform()
    worker = _worker(app, platform)
    platform.worker = worker
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    try:
        worker.ensure_started()
        assert platform.journal == ["plugins start", "bus start (pool running)"]
    finally:
        # The consumer loop sees this and ends in Celery's own warm shutdown.
        state.should_stop = 0
        thread.join(30)
        state.should_stop = None
    assert not thread.is_alive()
    assert platform.journal == ["plugins start", "bus start (pool running)",
                                "plugins stop (pool stopped)", "bus stop"]


def test_sighup_restarts_the_worker_through_the_step(
    tmp_path: Path,
    start_worker: StartWorker,
    start_caller: StartCaller,
    request: pytest.FixtureRequest,
) -> None:
    """SIGHUP is Celery's warm restart: the step stops and unloads the plugins, the process
    comes back in place (same pid) with them loaded and started again, runs tasks in pool
    processes that still never imported the reactor, and stops cleanly afterwards."""
    broker = make_broker("embedded", tmp_path, request)
    worker = start_worker(broker, pool="prefork", concurrency=1)
    stack = start_caller(broker)
    assert stack.call("add", 1, 2) == 3
    assert worker.proc is not None
    pid = worker.proc.pid

    def steps() -> list[tuple[str, int]]:
        lines = worker.lifecycle_path.read_text().splitlines()
        return [(line.split()[0], int(line.split()[1])) for line in lines]

    worker.proc.send_signal(signal.SIGHUP)
    again = ["load", "start", "stop", "unload", "load", "start"]
    wait_for(lambda: [step for step, _ in steps()] == again, 60, "the plugins to come back")
    assert {owner for _, owner in steps()} == {pid}
    wait_for(lambda: worker.log().count(" ready.") >= 2, 60, "the restarted worker")
    assert stack.call("add", 2, 2, timeout=60) == 4
    info = stack.call("process_info")
    assert info["reactor_imported"] is False and info["pid"] != pid
    assert worker.proc.poll() is None
    assert worker.terminate() == 0
    assert [step for step, _ in steps()][-2:] == ["stop", "unload"]

"""Each plugin's tasks go to its own queue: a worker without the plugin leaves them queued
for a worker that has it."""

from pathlib import Path
from typing import Any

import pytest

from tests.worker.support import PLUGIN, StartCaller, WorkerProcess, make_broker


@pytest.mark.parametrize("kind", ["embedded", "redis"])
def test_a_worker_leaves_tasks_of_plugins_it_does_not_run(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, start_caller: StartCaller,
) -> None:
    """A worker running only plugin B takes none of plugin A's tasks queued before B's own
    task (nothing discarded as unregistered); a worker running A, started later, runs every
    one of them."""
    broker = make_broker(kind, tmp_path, request)
    other = WorkerProcess(tmp_path / "worker-b", broker, enabled=["peek_plugin_workerother"])
    runner = WorkerProcess(tmp_path / "worker-a", broker, enabled=[PLUGIN])
    request.addfinalizer(other.cleanup)
    request.addfinalizer(runner.cleanup)
    other.start()
    stack = start_caller(broker)

    queued = [stack.defer("process_info") for _ in range(6)]
    # B's own task, queued after A's: once it ran, B has been consuming past them.
    b_pid = stack.pump.wait(stack.caller.deferTask("peek_plugin_workerother.tasks.pid",
                                                   (), {}, {}))
    assert other.proc is not None and b_pid == other.proc.pid
    assert "unregistered" not in other.log(), other.log()
    assert stack.caller.pending_count == len(queued)

    runner.start()
    results: list[dict[str, Any]] = [stack.pump.wait(d) for d in queued]
    assert runner.proc is not None
    assert [r["pid"] for r in results] == [runner.proc.pid] * len(queued)
    assert f"{broker.queue}.{PLUGIN}" in runner.log()
    assert "unregistered" not in other.log() + runner.log()
    assert runner.terminate() == other.terminate() == 0


def test_a_task_name_outside_its_plugin_is_refused() -> None:
    """A peekTask whose own name does not start with its plugin's package is refused at
    declaration (the server would route it to a queue no worker running it consumes)."""
    from peek_plugin_base.worker.CeleryApp import peekTask

    with pytest.raises(ValueError, match="must start with its plugin's package 'tests.'"):
        @peekTask(name="peek_plugin_elsewhere.add")
        def add(x: int, y: int) -> int:
            """Never declared."""
            return x + y

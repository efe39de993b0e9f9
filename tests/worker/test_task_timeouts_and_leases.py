"""The caller's task timeouts on a controlled clock, and the leases on reserved messages."""

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, states
from kombu import Connection
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from peek_platform.celery_glue.app_config import configure_app, register_aliases
from peek_platform.celery_glue.caller import TaskCaller
from peek_platform.celery_glue.leases import renew_leases
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError
from peek_plugin_base.worker.CeleryApp import peekTask
from peek_plugin_base.worker.errors import TaskTimeoutError
from tests.support import wait_for
from tests.worker.support import Pump


@pytest.fixture
def caller(tmp_path: Path) -> Any:
    """A caller on an embedded broker no worker consumes, with a clock the test moves."""
    settings = CelerySettings("embedded", "embedded", tmp_path / "celery",
                              task_timeout_seconds=60)
    app = Celery(f"peek-test-{uuid.uuid4().hex[:6]}", set_as_current=False)
    configure_app(app, settings)
    pump, clock = Pump(), task.Clock()
    caller = TaskCaller(app, pump.call_from_thread, clock)
    caller.start()
    yield caller, app, pump, clock
    caller.stop()
    pump.run_pending()
    app.close()


def _outcome(d: Deferred[Any]) -> list[Any]:
    outcome: list[Any] = []
    d.addBoth(outcome.append)
    return outcome


def test_timeout_fails_the_call_and_revokes_the_task(caller: Any) -> None:
    """With no worker, the call fails with TaskTimeoutError (naming task, id and timeout)
    exactly when celery.taskTimeoutSeconds has passed, and the task is revoked so a worker
    that comes later does not run it."""
    task_caller, app, pump, clock = caller
    outcome = _outcome(task_caller.deferTask("some.plugin.slow", (), {}, {}))
    clock.advance(59.9)
    assert outcome == []
    clock.advance(0.1)
    assert isinstance(outcome[0], Failure)
    error = outcome[0].value
    assert isinstance(error, TaskTimeoutError)
    assert error.timeout_seconds == 60
    assert error.task_id and error.task_id in str(error) and "some.plugin.slow" in str(error)
    assert "no result within 60s" in str(error)
    assert task_caller.pending_count == 0
    wait_for(lambda: app.backend.get_state(error.task_id) == states.REVOKED, 10,
             "the timed-out task to be revoked")


def test_a_task_or_a_call_sets_its_own_timeout(caller: Any) -> None:
    """``task_timeout`` declared on the task, or given for one call, replaces the default;
    a call's own beats the task's."""
    task_caller, app, _, clock = caller

    @app.task(name="some.plugin.long", task_timeout=120)
    def long() -> None:
        """A task whose callers wait up to two minutes."""

    by_task = _outcome(task_caller.deferTask(long, (), {}, {}))
    by_name = _outcome(task_caller.deferTask("some.plugin.long", (), {}, {}))
    by_call = _outcome(task_caller.deferTask(long, (), {}, {"task_timeout": 5}))
    clock.advance(5)
    assert by_call[0].value.timeout_seconds == 5
    clock.advance(114.9)
    assert by_task == by_name == []
    clock.advance(0.1)
    assert by_task[0].value.timeout_seconds == by_name[0].value.timeout_seconds == 120


@pytest.mark.parametrize("bad", [0, -1, "10", True])
def test_invalid_task_timeouts_are_refused(caller: Any, bad: Any) -> None:
    """A task_timeout that is not a number of seconds > 0 is refused, naming the task, when
    the task is declared and when a call passes it."""
    task_caller = caller[0]
    with pytest.raises(ValueError, match="task_timeout of task some.plugin.x"):
        task_caller.deferTask("some.plugin.x", (), {}, {"task_timeout": bad})
    with pytest.raises(ValueError, match="task_timeout of task .*bad_timeout"):
        @peekTask(task_timeout=bad)
        def bad_timeout() -> None:
            """Never declared."""


@pytest.mark.parametrize("key, value", [
    ("taskTimeoutSeconds", 0), ("taskTimeoutSeconds", 10**9),
    ("visibilityTimeoutSeconds", 0.5), ("visibilityTimeoutSeconds", "30"),
])
def test_timeout_and_lease_keys_are_range_checked(tmp_path: Path, key: str, value: Any) -> None:
    """celery.taskTimeoutSeconds and celery.visibilityTimeoutSeconds outside their ranges
    are config errors naming the key and the range."""
    (tmp_path / "config.json").write_text(f'{{"celery": {{"{key}": {value!r}}}}}'
                                          .replace("'", '"'))
    with pytest.raises(ConfigValidationError, match=f"celery.{key} must be a number of "
                                                    "seconds from"):
        ServiceConfig.load("server", tmp_path)


def test_server_reads_the_task_timeout(tmp_path: Path) -> None:
    """The server's default task timeout is 300 s, its lease 30 s; both come from config."""
    settings = CelerySettings.from_config(ServiceConfig.load("server", tmp_path / "a"))
    assert (settings.task_timeout_seconds, settings.visibility_timeout_seconds) == (300, 30)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text('{"celery": {"taskTimeoutSeconds": 7.5}}')
    assert CelerySettings.from_config(
        ServiceConfig.load("server", tmp_path / "b")).task_timeout_seconds == 7.5


def test_embedded_broker_lease_is_renewed_while_held_and_ends_with_the_ack(
    tmp_path: Path,
) -> None:
    """A message taken from the embedded broker is reserved for one lease; renewing (from
    another thread, as the lease keeper does) extends it; once acknowledged nothing is
    left to renew."""
    import threading

    register_aliases()
    path = tmp_path / "broker.sqlite"
    options = {"sqlite_path": str(path), "visibility_timeout": 2.0}
    with Connection("peeksqlite://localhost/", transport_options=options) as conn:
        queue = conn.SimpleQueue("leases")
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        channel = queue.consumer.channel

        def reserved_until() -> float:
            return float(channel._db.execute(
                "SELECT reserved_until FROM peek_message").fetchone()[0])

        assert reserved_until() == pytest.approx(time.time() + 2.0, abs=1.0)
        renewed: list[int] = []
        thread = threading.Thread(target=lambda: renewed.append(renew_leases(channel, 60)))
        thread.start()
        thread.join()
        assert renewed == [1]
        assert reserved_until() == pytest.approx(time.time() + 60, abs=1.0)
        message.ack()
        assert renew_leases(channel, 60) == 0
        queue.close()

"""Helpers for the worker tests: brokers, a real worker subprocess, a result pump, a proxy."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import pytest
from celery import Celery
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from peek_platform.celery_glue.app_config import configure_app
from peek_platform.celery_glue.caller import TaskCaller
from peek_platform.celery_glue.settings import CelerySettings
from tests.support import free_port, wait_for

FIXTURE_PLUGIN_DIR = Path(__file__).parent / "fixture_plugin"
PLUGIN = "peek_plugin_workertest"
TASKS = f"{PLUGIN}.tasks"
AMQP_URL = os.environ.get("PEEK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    """Where tasks and results go for one test: URLs as written in config.json."""

    kind: str
    broker_url: str
    result_url: str
    queue: str
    embedded_dir: Path
    visibility_timeout: float = 30.0

    def celery_config(self, **worker: Any) -> dict[str, Any]:
        """The ``celery`` section of a config.json for this broker."""
        return {
            "brokerUrl": self.broker_url,
            "resultUrl": self.result_url,
            "taskQueue": self.queue,
            "embeddedDir": str(self.embedded_dir),
            "visibilityTimeoutSeconds": self.visibility_timeout,
            "worker": worker,
        }

    def settings(self, broker_url: Optional[str] = None,
                 result_url: Optional[str] = None) -> CelerySettings:
        """Caller-side settings (optionally through other URLs, e.g. a proxy)."""
        return CelerySettings(
            broker_url=broker_url or self.broker_url,
            result_url=result_url or self.result_url,
            embedded_dir=self.embedded_dir,
            task_queue=self.queue,
            visibility_timeout_seconds=self.visibility_timeout,
        )


def require_server(url: str, name: str) -> None:
    """Skip when the server is not running; under CI (``$CI`` set) fail instead."""
    parts = urlsplit(url)
    if port_open(parts.hostname or "127.0.0.1", parts.port or 0):
        return
    message = f"{name} is not reachable at {url}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _delete_amqp_queue(queue: str) -> None:
    """Delete the test's queue, its exchange and the fixture plugins' queues beside it."""
    from kombu import Connection

    plugin_queues = [f"{queue}.{p.name}" for p in FIXTURE_PLUGIN_DIR.glob("peek_plugin_*")]
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        for method, name in [("queue_delete", q) for q in [queue, *plugin_queues]] + [
                ("exchange_delete", queue)]:
            try:
                getattr(conn.channel(), method)(name)
            except Exception:  # noqa: BLE001 - already gone
                pass


def make_broker(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Broker:
    """A fresh broker of ``kind`` for one test (cleaned up by the test's finalizers)."""
    queue = f"peek-test-{uuid.uuid4().hex[:10]}"
    embedded_dir = tmp_path / "peek-celery"
    if kind == "embedded":
        return Broker(kind, "embedded", "embedded", queue, embedded_dir)
    redis = request.getfixturevalue("redis_url")
    if kind == "redis":
        return Broker(kind, redis, redis, queue, embedded_dir)
    assert kind == "rabbitmq"
    require_server(AMQP_URL, "RabbitMQ")
    request.addfinalizer(lambda: _delete_amqp_queue(queue))
    return Broker(kind, AMQP_URL, redis, queue, embedded_dir)


class RealTimeClock(task.Clock):
    """A Clock that reads the real (monotonic) time, like a reactor; its due delayed calls
    run when ``advance(0)`` is called."""

    def seconds(self) -> float:
        return time.monotonic()


class Pump:
    """Stands in for the reactor: runs what the caller's threads hand over, and the delayed
    calls that are due on its clock (which follows the real time), while waiting."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue())
        self.clock = RealTimeClock()

    def call_from_thread(self, f: Callable[..., Any], *args: Any) -> None:
        self._calls.put((f, args))

    def _run_due(self) -> None:
        self.clock.advance(0)

    def run_pending(self) -> None:
        """Run every call handed over so far, and the delayed calls that are due."""
        self._run_due()
        while True:
            try:
                f, args = self._calls.get_nowait()
            except queue.Empty:
                return
            f(*args)

    def wait(self, d: Deferred[Any], timeout: float = 20.0) -> Any:
        """The Deferred's result (raising its failure), running handed-over calls meanwhile."""
        outcome: list[Any] = []
        d.addBoth(outcome.append)
        deadline = time.monotonic() + timeout
        while not outcome:
            self._run_due()
            if outcome:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no result within {timeout}s")
            try:
                f, args = self._calls.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            f(*args)
        if isinstance(outcome[0], Failure):
            outcome[0].raiseException()
        return outcome[0]


@dataclass
class CallerStack:
    """An in-process task caller on its own Celery app (as the server runs one)."""

    app: Celery
    caller: TaskCaller
    pump: Pump

    @classmethod
    def start(cls, settings: CelerySettings) -> "CallerStack":
        app = Celery(f"peek-test-{uuid.uuid4().hex[:6]}", set_as_current=False)
        configure_app(app, settings)
        pump = Pump()
        caller = TaskCaller(app, pump.call_from_thread, pump.clock)
        caller.start()
        return cls(app, caller, pump)

    def defer(self, name: str, *args: Any, **options: Any) -> Deferred[Any]:
        return self.caller.deferTask(f"{TASKS}.{name}", args, {}, options)

    def call(self, name: str, *args: Any, timeout: float = 20.0) -> Any:
        return self.pump.wait(self.defer(name, *args), timeout)

    def stop(self) -> None:
        self.caller.stop()
        self.pump.run_pending()
        self.app.close()


@dataclass
class WorkerProcess:
    """``run_peek_worker`` as a subprocess with its own home, running the test plugin."""

    home: Path
    broker: Broker
    worker_config: dict[str, Any] = field(default_factory=dict)
    enabled: list[str] = field(default_factory=lambda: [PLUGIN])
    proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def log_path(self) -> Path:
        return self.home / "peek-worker.log"

    @property
    def lifecycle_path(self) -> Path:
        return self.home / "lifecycle.txt"

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    #: Pool settings under the test's own ``worker_config``.
    pool_config = {"pool": "solo", "concurrency": 1}

    def config(self) -> dict[str, Any]:
        """The worker's config.json."""
        return {
            "plugin": {"enabled": self.enabled},
            "logging": {"level": "INFO"},
            "celery": self.broker.celery_config(**{
                **self.pool_config,
                # Unique per worker: same-named workers would share one control queue.
                "nodeName": f"peek-test-{uuid.uuid4().hex[:8]}@%h",
                **self.worker_config}),
        }

    def start(self, wait_ready: bool = True) -> "WorkerProcess":
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "config.json").write_text(json.dumps(self.config(), indent=2))
        env = dict(os.environ, PEEK_TEST_LIFECYCLE=str(self.lifecycle_path))
        env["PYTHONPATH"] = os.pathsep.join(
            [str(FIXTURE_PLUGIN_DIR)] + [p for p in [env.get("PYTHONPATH")] if p])
        out = open(self.home / "stdout.txt", "ab")  # noqa: SIM115 - kept for the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peek_worker", "--home", str(self.home)],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        out.close()
        if wait_ready:
            self.wait_log(" ready.", 30)
        return self

    def wait_log(self, text: str, timeout: float) -> None:
        def seen() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                stdout = (self.home / "stdout.txt").read_text()
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()}"
                                     f"\n{stdout}")
            return text in self.log()

        wait_for(seen, timeout, f"{text!r} in the worker log")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM (warm shutdown); the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once (a crash)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``stop`` drops every connection and the port.

    Lets a test take "the broker" away from one client without touching the shared server.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: Optional[socket.socket] = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


#: The ``start_worker`` fixture: ``start_worker(broker, wait_ready=True, **worker_config)``.
StartWorker = Callable[..., WorkerProcess]
#: The ``start_caller`` fixture: ``start_caller(broker, broker_url=..., result_url=...)``.
StartCaller = Callable[..., CallerStack]

"""The server's database work runs on threads of its own, not the reactor's pool, which
threaded RPCs and ``deferToThreadWrap`` work use."""

import json
import tempfile
import threading
from pathlib import Path
from typing import Any, Optional

from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial.unittest import TestCase

from peek_platform.config import ServiceConfig
from peek_platform.errors import StorageServiceNotRunningError
from peek_platform.storage.service import StorageService, db_threads
from peek_vortex.handlers import vortexRPC
from peek_vortex.routing import PayloadRouter, deferToThreadWrap


def _storage(root: Path, engine_args: Optional[dict[str, Any]] = None) -> StorageService:
    home = root / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps(
        {"sqlalchemy": {"connectUrl": f"sqlite:///{home / 'peek.sqlite'}",
                        "engineArgs": engine_args or {}}}))
    return StorageService(ServiceConfig.load("server", home))


def _thread_name() -> str:
    return threading.current_thread().name


@vortexRPC("peek-server", deferToThread=True)
def threadNameRpc() -> str:
    """A threaded RPC that says which thread ran it."""
    return _thread_name()


threadNameWrapped = deferToThreadWrap(_thread_name)


class DbThreadsTest(TestCase):
    """The storage service's own database thread pool (Buildbot's DBThreadPool model)."""

    timeout = 60

    def test_db_work_goes_on_while_every_reactor_thread_is_busy(self) -> Deferred[None]:
        """With every thread of the reactor's pool blocked (RPC handlers, say), database
        work still runs, on a ``peek-db`` pool thread."""
        root = Path(tempfile.mkdtemp())
        storage = _storage(root)
        release = threading.Event()

        async def run() -> None:
            await storage.startService()
            pool = reactor.getThreadPool()  # type: ignore[attr-defined]
            busy = [threads.deferToThread(release.wait, 50) for _ in range(pool.max)]
            try:
                name = await storage.run_in_thread(lambda: threading.current_thread().name)
                self.assertIn("peek-db", name)
            finally:
                release.set()
                await gatherResults(busy)
                await storage.stopService()

        return Deferred.fromCoroutine(run())

    def test_threaded_rpcs_run_while_every_db_thread_is_busy(self) -> Deferred[None]:
        """Threaded RPCs and ``deferToThreadWrap`` work run on the reactor's pool, not on a
        ``peek-db`` thread, so they still run while every database thread is blocked (and
        the reverse holds, above): the two pools do not share threads."""
        storage = _storage(Path(tempfile.mkdtemp()), {"pool_size": 1, "max_overflow": 0})
        router = PayloadRouter()
        release = threading.Event()

        async def run() -> None:
            await storage.startService()
            handle = threadNameRpc.start(router=router)
            blocked = storage.run_in_thread(release.wait, 50)  # the only peek-db thread
            queued = storage.run_in_thread(_thread_name)  # waits for that thread
            try:
                rpc_thread = await threadNameRpc.via(router)()
                wrapped_thread = await threadNameWrapped()
                self.assertFalse(queued.called)  # the database threads were all busy
                self.assertNotIn("peek-db", rpc_thread)
                self.assertNotIn("peek-db", wrapped_thread)
                self.assertNotEqual(rpc_thread, threading.current_thread().name)
            finally:
                release.set()
                await blocked
                self.assertIn("peek-db", await queued)
                handle.shutdown()
                await storage.stopService()

        return Deferred.fromCoroutine(run())

    def test_stopped_storage_refuses_db_work_by_name(self) -> Deferred[None]:
        """After the storage service stopped (its threads joined), database work is refused
        with an error naming the work and why, instead of hanging."""
        storage = _storage(Path(tempfile.mkdtemp()))

        async def run() -> None:
            await storage.startService()
            await storage.stopService()

            def count_rows() -> int:
                return 0

            with self.assertRaises(StorageServiceNotRunningError) as raised:
                storage.run_in_thread(count_rows)
            self.assertIn("'count_rows'", str(raised.exception))
            self.assertIn("storage service is not running", str(raised.exception))

        return Deferred.fromCoroutine(run())


def test_db_threads_follow_the_engine_pool() -> None:
    """As many database threads as one engine may hold connections; at least one."""
    assert db_threads({}) == 15
    assert db_threads({"pool_size": 3, "max_overflow": 2}) == 5
    assert db_threads({"pool_size": 0, "max_overflow": -1}) == 1
    args: dict[str, Any] = {"pool_size": 4, "max_overflow": 0}
    assert db_threads(args) == 4

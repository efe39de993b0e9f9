"""The server's database work runs on threads of its own, not the reactor's pool."""

import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial.unittest import TestCase

from peek_platform.config import ServiceConfig
from peek_platform.errors import StorageServiceNotRunningError
from peek_platform.storage.service import StorageService, db_threads


def _storage(root: Path) -> StorageService:
    home = root / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps(
        {"sqlalchemy": {"connectUrl": f"sqlite:///{home / 'peek.sqlite'}"}}))
    return StorageService(ServiceConfig.load("server", home))


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

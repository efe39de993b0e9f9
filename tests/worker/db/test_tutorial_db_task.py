"""The tutorial's database task end to end: real server and worker processes.

The server migrates pl_tutorial; an admin tool edits the StringInt table through the
tuple loader; the worker (with its default database: the server's SQLite file in the
sibling home, or the configured PostgreSQL database) totals the table in
``totalStringInts``; the server logs the total and publishes it to observers as a
StringIntTotalTuple, again after each edit. The at-least-once task ``addToStringInt``
applies its effect once when its message is delivered twice.
"""

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from celery import Celery, states
from peek_plugin_tutorial._private.PluginNames import tutorialFilt, tutorialObservableName
from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import filtKey
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.StringIntTotalTuple import StringIntTotalTuple
from sqlalchemy.engine import make_url
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_platform.celery_glue.app_config import configure_app
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_plugin_base.PeekVortexUtil import peekClientName, peekServerName
from peek_plugin_base.storage import TupleLoaderClient
from peek_plugin_base.vortex import TupleDataObserverClient, TupleSelector
from tests.e2e.devices_data import VortexPeer, server_config, start_service
from tests.storage_crud.harness import new_database
from tests.support import ServiceProcess
from tests.vortex_transport.harness import wait_for

PLUGINS = ["peek_plugin_tutorial"]
TASKS = "peek_plugin_tutorial._private.worker.TutorialTasks"
TIMEOUT = 30.0


class _TutorialDbTaskEndToEnd(TestCase):
    """run_peek_server and run_peek_worker with the tutorial plugin, embedded broker."""

    timeout = 120
    #: None: the server's embedded SQLite default; "postgres": a new PostgreSQL database.
    database: Any = None

    def setUp(self) -> None:
        run_dir = Path(tempfile.mkdtemp(prefix="peek-worker-db-"))
        self.addCleanup(shutil.rmtree, run_dir, True)
        self.server_home = run_dir / "peek-server.home"
        self.worker_home = run_dir / "peek-worker.home"
        self.db_url = new_database(self.database, self.addCleanup) if self.database else None
        self.server_config = server_config(PLUGINS, self.db_url)
        self.server = start_service("server", self.server_home, self.server_config,
                                    self.addCleanup)
        self.platform_port = self.server_config["httpServer"]["platform"]["sitePort"]
        self.token = (self.server_home / "platform.token").read_text(encoding="ascii").strip()

    def start_worker(self) -> ServiceProcess:
        config: dict[str, Any] = {
            "plugin": {"enabled": PLUGINS},
            "celery": {"worker": {"pool": "prefork", "concurrency": 2}},
            "peekServer": {"httpPort": self.platform_port,
                           "tokenFile": str(self.server_home / "platform.token")},
        }
        if self.db_url is not None:
            config["sqlalchemy"] = {"connectUrl": self.db_url}
        # No celery URLs and (on SQLite) no database URL: the defaults find the server's.
        return start_service("worker", self.worker_home, config, self.addCleanup)

    async def _scenario(self) -> None:
        admin = VortexPeer(self.platform_port, peekClientName, self.token)
        self.addCleanup(admin.close)
        await admin.connect()
        loader = TupleLoaderClient(filtKey, router=admin.router, timeoutSeconds=TIMEOUT)
        saved = await loader.save([StringIntTuple(string1=s, int1=i)
                                   for s, i in (("a", 5), ("b", 7), ("c", 30), ("d", None))])

        # The server queued totalStringInts at its start; the worker runs it now.
        worker = self.start_worker()
        await wait_for(lambda: "Worker task totalStringInts returned 42" in self.server.log(),
                         TIMEOUT, "the server to log the worker's total")
        used = (f"/{make_url(self.db_url).database} " if self.db_url
                else f"{self.server_home / 'peek.sqlite'} ")
        assert f"{used}(never migrated here)" in worker.log()

        # Observers get the total as a tuple, and a new one after an admin edit.
        observer = TupleDataObserverClient(
            tutorialObservableName, peekServerName, tutorialFilt, router=admin.router)
        self.addCleanup(observer.shutdown)
        totals = observer.subscribeToTupleSelector(
            TupleSelector(StringIntTotalTuple.tupleName(), {}))
        first = await totals.nextTuples()
        assert first == [StringIntTotalTuple(total=42, rowCount=4)]
        await loader.save([StringIntTuple(string1="e", int1=100)])
        await wait_for(
            lambda: totals.tuples == [StringIntTotalTuple(total=142, rowCount=5)],
            TIMEOUT, "the observer to get the new total")
        assert "Worker task totalStringInts returned 142" in self.server.log()

        # At least once: one call of addToStringInt delivered twice (as when the worker
        # running it dies) applies its effect once; both deliveries answer the same.
        row_id = saved[0].id
        assert await self._deliver_twice(f"{TASKS}.addToStringInt", (row_id, 10)) == [15, 15]
        [row] = await loader.load(id=row_id)
        assert row.int1 == 15
        assert "Traceback" not in self.server.log() + worker.log()
        assert worker.stop(30) == 0

    async def _deliver_twice(self, name: str, args: tuple[Any, ...]) -> list[Any]:
        """Queue the same task message (same task id) twice, one after the other, on the
        server's broker; the results of both deliveries."""
        settings = CelerySettings.from_config(
            ServiceConfig.load("server", self.server_home, write_defaults=False))
        app = Celery("peek-test-redelivery", set_as_current=False)
        configure_app(app, settings)
        self.addCleanup(app.close)
        task_id = str(uuid.uuid4())
        results = []
        for _ in range(2):
            app.send_task(name, args, task_id=task_id)
            meta = await wait_for(
                lambda: (m := app.backend.get_task_meta(task_id, cache=False))["status"]
                in states.READY_STATES and m, TIMEOUT, f"{name} to finish")
            assert meta["status"] == states.SUCCESS, meta
            results.append(meta["result"])
            app.backend.forget(task_id)
        return results

    def test_worker_totals_the_table_and_observers_get_it(self) -> Deferred[None]:
        """The worker sums the StringInt table from the server's database; the server logs
        the total and observers receive it as a tuple, recomputed after an admin edit."""
        return Deferred.fromCoroutine(self._scenario())


class TutorialDbTaskOnSqlite(_TutorialDbTaskEndToEnd):
    database = None


class TutorialDbTaskOnPostgres(_TutorialDbTaskEndToEnd):
    database = "postgres"


del _TutorialDbTaskEndToEnd

"""Finding 6: concurrent actions, admin writes and observer reads on the embedded SQLite default.

Real ``run_peek_server`` and ``run_peek_client`` processes with the tutorial plugin on the
server's default SQLite database. Device peers on the client's mobile site observe the
StringInt table and push a burst of read-modify-write actions all at once, while an admin
tool on the server's platform site inserts rows and reads the table through the tuple
loader. On the base commit a good share of the actions failed with "database is locked".
"""

import sqlite3
from typing import Any

from peek_plugin_tutorial._private.PluginNames import (
    tutorialActionProcessorName,
    tutorialFilt,
    tutorialObservableName,
)
from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import filtKey
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.AddIntValueActionTuple import AddIntValueActionTuple
from twisted.internet.defer import Deferred, DeferredList
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName
from peek_plugin_base.storage import TupleLoaderClient
from peek_plugin_base.vortex import (
    ObservedTuples,
    TupleActionPushClient,
    TupleDataObserverClient,
    TupleSelector,
)
from tests.e2e.devices_data import ServerAndClient
from tests.vortex_transport.harness import wait_for

PLUGINS = ["peek_plugin_tutorial"]
DEVICES = 4
ROWS = 8
ACTIONS_PER_DEVICE = 30
ADMIN_INSERTS = 10
TIMEOUT = 60.0


class SqliteUnderConcurrentWriters(ServerAndClient, TestCase):
    """The server on its default SQLite file, with concurrent writers and readers."""

    timeout = 120

    def setUp(self) -> None:
        self.start_services(PLUGINS, "peek-sec-sqlite-")
        self.database = self.server_home / "peek.pl_tutorial.sqlite"

    def stored_rows(self) -> dict[str, int]:
        """string1 -> int1 of every row, read from the plugin's SQLite file directly."""
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute('SELECT string1, int1 FROM "StringIntTuple"').fetchall()
        return {string1: int1 for string1, int1 in rows}

    async def _scenario(self) -> None:
        admin = await self.peer(self.platform_port, peekClientName, self.token)
        loader = TupleLoaderClient(filtKey, router=admin.router, timeoutSeconds=TIMEOUT)
        rows = await loader.save(
            [StringIntTuple(string1=f"row{i}", int1=0) for i in range(ROWS)])

        selector = TupleSelector(StringIntTuple.tupleName(), {})
        observed: list[ObservedTuples] = []
        pushers: list[TupleActionPushClient] = []
        for _ in range(DEVICES):
            device = await self.peer(self.mobile_port, peekMobileName)
            observer = TupleDataObserverClient(
                tutorialObservableName, peekClientName, tutorialFilt, router=device.router)
            self.addCleanup(observer.shutdown)
            observed.append(observer.subscribeToTupleSelector(selector))
            pushers.append(TupleActionPushClient(
                tutorialActionProcessorName, peekClientName, tutorialFilt,
                router=device.router, timeoutSeconds=TIMEOUT))
        await wait_for(lambda: all(len(o.tuples or []) == ROWS for o in observed), TIMEOUT,
                       "every device to observe the rows")

        # Everything in flight at once: each action is a read-modify-write transaction in a
        # server thread, each commit makes the observable re-read the table, and the admin
        # tool inserts and reads rows (other transactions of the same file) meanwhile.
        targets = [(d, (d + n) % ROWS) for n in range(ACTIONS_PER_DEVICE) for d in range(DEVICES)]
        pending: list[Deferred[Any]] = [
            pushers[d].pushAction(AddIntValueActionTuple(stringIntId=rows[r].id, offset=1))
            for d, r in targets
        ]
        pending += [loader.save([StringIntTuple(string1=f"admin{i}", int1=i)])
                    for i in range(ADMIN_INSERTS)]
        pending += [loader.load() for _ in range(ADMIN_INSERTS)]
        outcomes = await DeferredList(pending, consumeErrors=True)

        failures = [str(result.value) for ok, result in outcomes if not ok]
        assert failures == [], f"{len(failures)} of {len(pending)} failed: {failures[:3]}"
        assert "database is locked" not in self.server.log()

        # Every acknowledged write is in the file: each row got its share of the actions.
        stored = self.stored_rows()
        expected = {f"row{i}": sum(r == i for _, r in targets) for i in range(ROWS)}
        expected.update({f"admin{i}": i for i in range(ADMIN_INSERTS)})
        assert stored == expected

        # And the observers, re-reading after each commit, end on that state.
        def observed_final() -> bool:
            return all(
                {t.string1: t.int1 for t in o.tuples or []} == expected for o in observed)

        await wait_for(observed_final, TIMEOUT, "every device to observe the final rows")

    def test_concurrent_actions_admin_writes_and_readers_all_succeed(self) -> Deferred[None]:
        """A burst of concurrent read-modify-write actions from several devices, with admin
        inserts and reads and the observable's re-reads of the same SQLite file in between,
        all succeed: no failure, no "database is locked" in the server log, every
        acknowledged write persisted, and every observer ends on the final rows."""
        return Deferred.fromCoroutine(self._scenario())

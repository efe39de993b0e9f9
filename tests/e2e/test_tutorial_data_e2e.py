"""The tutorial's data chapters end to end: real server and client processes, a Python device.

The device connects to the client service's mobile site, observes the StringInt table
through the client's observable proxy and pushes actions through its action proxy; an
admin-style tool edits the table through the server's tuple loader (OrmCrudHandler).
Every change reaches the device.
"""

from typing import Any

from peek_plugin_tutorial._private.PluginNames import (
    tutorialActionProcessorName,
    tutorialFilt,
    tutorialObservableName,
)
from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import filtKey
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.AddIntValueActionTuple import AddIntValueActionTuple
from peek_plugin_tutorial._private.tuples.StringCapToggleActionTuple import (
    StringCapToggleActionTuple,
)
from sqlalchemy import create_engine
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName
from peek_plugin_base.storage import TupleLoaderClient
from peek_plugin_base.vortex import (
    RemoteError,
    TupleActionPushClient,
    TupleDataObserverClient,
    TupleSelector,
)
from tests.e2e.devices_data import ServerAndClient
from tests.storage_crud.harness import new_database
from tests.vortex_transport.harness import wait_for

PLUGINS = ["peek_plugin_tutorial"]
TIMEOUT = 20.0


def as_rows(tuples: Any) -> list[tuple[Any, Any]]:
    """(string1, int1) of each row, in the order received."""
    return [(t.string1, t.int1) for t in tuples or []]


class _TutorialDataEndToEnd(ServerAndClient, TestCase):
    """run_peek_server and run_peek_client with the tutorial plugin, on free ports."""

    timeout = 120
    #: None: the server's embedded SQLite default; "postgres": a new PostgreSQL database.
    database: Any = None

    def setUp(self) -> None:
        self.db_url = new_database(self.database, self.addCleanup) if self.database else None
        self.start_services(PLUGINS, "peek-e2e-data-", self.db_url)

    async def _scenario(self) -> None:
        # An admin tool: a service connection to the server, using the tuple loader.
        admin = await self.peer(self.platform_port, peekClientName, self.token)
        loader = TupleLoaderClient(filtKey, router=admin.router, timeoutSeconds=TIMEOUT)
        assert await loader.load() == []
        alpha, beta = await loader.save(
            [StringIntTuple(string1="alpha", int1=1), StringIntTuple(string1="beta", int1=2)]
        )

        # A device on the client service's mobile site: current data first.
        device = await self.peer(self.mobile_port, peekMobileName)
        observer = TupleDataObserverClient(
            tutorialObservableName, peekClientName, tutorialFilt, router=device.router
        )
        self.addCleanup(observer.shutdown)
        rows = observer.subscribeToTupleSelector(TupleSelector(StringIntTuple.tupleName(), {}))
        first = await rows.nextTuples()
        assert as_rows(first) == [("alpha", 1), ("beta", 2)]
        assert [t.id for t in first] == [alpha.id, beta.id]

        def seen(expected: list[tuple[Any, Any]]) -> "Deferred[Any]":
            return wait_for(lambda: as_rows(rows.tuples) == expected, TIMEOUT,
                              f"the device to see {expected}")

        # Actions through the client's proxy change the table; the device sees it.
        actions = TupleActionPushClient(
            tutorialActionProcessorName, peekClientName, tutorialFilt,
            router=device.router, timeoutSeconds=TIMEOUT,
        )
        assert await actions.pushAction(
            AddIntValueActionTuple(stringIntId=alpha.id, offset=5)) == []
        await seen([("alpha", 6), ("beta", 2)])
        await actions.pushAction(StringCapToggleActionTuple(stringIntId=beta.id))
        await seen([("alpha", 6), ("BETA", 2)])
        try:
            await actions.pushAction(AddIntValueActionTuple(stringIntId=999999, offset=1))
        except RemoteError as e:
            assert e.code == "StringIntRowMissingError" and "999999" in e.message
        else:
            raise AssertionError("an action on a missing row must fail")

        # Admin edits through the tuple loader reach the device.
        stored = await loader.load()
        assert as_rows(stored) == [("alpha", 6), ("BETA", 2)]
        stored[1].int1 = 42
        (gamma,) = (await loader.save([stored[1], StringIntTuple(string1="gamma", int1=3)]))[1:]
        await seen([("alpha", 6), ("BETA", 42), ("gamma", 3)])
        await loader.delete(id=alpha.id)
        await seen([("BETA", 42), ("gamma", 3)])
        assert [t.id for t in rows.tuples] == [beta.id, gamma.id]

        # The device cannot use the tuple loader: the client service does not proxy it.
        sneaky = TupleLoaderClient(filtKey, peekClientName, device.router, timeoutSeconds=30)
        try:
            await sneaky.save([StringIntTuple(string1="from a device", int1=0)])
        except RemoteError as e:
            assert e.code == "NoEndpointError", e
        else:
            raise AssertionError("a device must not reach the admin tuple loader")
        assert as_rows(await loader.load()) == [("BETA", 42), ("gamma", 3)]
        if self.db_url is not None:
            # The server really used the configured database.
            engine = create_engine(self.db_url.replace("postgresql://", "postgresql+psycopg://"))
            try:
                with engine.connect() as conn:
                    stored = conn.exec_driver_sql(
                        'SELECT string1, int1 FROM pl_tutorial."StringIntTuple" ORDER BY id'
                    ).all()
            finally:
                engine.dispose()
            assert [tuple(r) for r in stored] == [("BETA", 42), ("gamma", 3)]

    def test_device_sees_current_data_then_actions_and_admin_edits(self) -> Deferred[None]:
        """A device observing through the client service gets the current rows first, then
        the rows changed by its own actions (pushed through the client's proxy) and by
        admin edits through the tuple loader (save, insert, delete); a device cannot
        reach the tuple loader itself."""
        return Deferred.fromCoroutine(self._scenario())


class TutorialDataOnSqlite(_TutorialDataEndToEnd):
    database = None


class TutorialDataOnPostgres(_TutorialDataEndToEnd):
    database = "postgres"


del _TutorialDataEndToEnd

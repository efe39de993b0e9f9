"""OrmCrudHandler over the bus: load, save, delete, refusals, rollbacks and extension hooks."""

import logging
from typing import Any

import pytest
from sqlalchemy import select
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python import threadable

from peek_plugin_base.storage import (
    OrmCrudHandler,
    OrmCrudHandlerExtension,
    TupleLoaderClient,
)
from peek_plugin_base.vortex import Payload, RemoteError, ReplyTimeoutError
from tests.storage_crud.crud_tables import (
    CrudRow,
    NotARow,
    OtherRow,
    UnregisteredRow,
    create_tables,
)
from tests.storage_crud.harness import BusTestCase

FILT = {"key": "admin.Edit.CrudRow", "plugin": "crudtest"}


class Recorder(OrmCrudHandlerExtension):
    """Records each hook call: (hook, row name, on the reactor thread?, got a session?)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool, bool]] = []
        self.created_ids: list[Any] = []

    def _record(self, hook: str, row: Any, session: Any) -> None:
        self.calls.append((hook, row.name, threadable.isInIOThread(), session is not None))

    def beforeCreate(self, tuple_: Any, tuples: list[Any], session: Any, payloadFilt: dict) -> None:
        assert tuple_.id is None
        self._record("beforeCreate", tuple_, session)

    def afterCreate(self, tuple_: Any, tuples: list[Any], session: Any, payloadFilt: dict) -> None:
        self.created_ids.append(tuple_.id)
        self._record("afterCreate", tuple_, session)

    def beforeUpdate(self, tuple_: Any, tuples: list[Any], session: Any, payloadFilt: dict) -> None:
        self._record("beforeUpdate", tuple_, session)

    def afterUpdateCommit(self, tuple_: Any, tuples: list[Any], session: Any,
                          payloadFilt: dict) -> None:
        self._record("afterUpdateCommit", tuple_, session)

    def beforeDelete(self, tuple_: Any, tuples: list[Any], session: Any, payloadFilt: dict) -> None:
        self._record("beforeDelete", tuple_, session)

    def afterDeleteCommit(self, tuple_: Any, tuples: list[Any], session: Any,
                          payloadFilt: dict) -> None:
        self._record("afterDeleteCommit", tuple_, session)

    def afterRetrieve(self, tuple_: Any, tuples: list[Any], session: Any,
                      payloadFilt: dict) -> None:
        self._record("afterRetrieve", tuple_, session)


class KindHandler(OrmCrudHandler):
    """Loads only the rows of the ``kind`` the request's filt names (the seed's subset)."""

    def createDeclarative(self, session: Any, payloadFilt: dict[str, Any]) -> Any:
        return list(session.scalars(
            select(CrudRow).where(CrudRow.kind == payloadFilt["kind"]).order_by(CrudRow.id)
        ))


async def remote_error(d: "Deferred[Any]") -> RemoteError:
    """The RemoteError ``d`` fails with (fails the test if it succeeds)."""
    try:
        result = await d
    except RemoteError as e:
        return e
    raise AssertionError(f"expected an error reply, got {result!r}")


class _CrudTests(BusTestCase):
    """The handler on the server node, a TupleLoaderClient on the admin node."""

    def setUp(self) -> None:
        super().setUp()
        self.connection = create_tables(self.db_url)
        self.addCleanup(self.connection.closeAllSessions)
        self.handler = self.make_handler(OrmCrudHandler, retreiveAll=True)
        self.loader = TupleLoaderClient(FILT, "peek-server", self.admin.router, 10)

    def make_handler(self, cls: type = OrmCrudHandler, **kwargs: Any) -> OrmCrudHandler:
        handler = cls(self.connection.ormSessionCreator, CrudRow, FILT,
                      router=self.server.router, **kwargs)
        self.addCleanup(handler.shutdown)
        return handler

    def stored(self) -> list[tuple[int, str, Any]]:
        """The table's rows as (id, name, count), read with a plain connection."""
        with self.connection.dbEngine.connect() as conn:
            rows = conn.execute(
                select(CrudRow.id, CrudRow.name, CrudRow.count).order_by(CrudRow.id)
            )
            return [tuple(r) for r in rows]

    # ---- load / save / delete

    async def _round_trip(self) -> None:
        assert await self.loader.load() == []
        saved = await self.loader.save([CrudRow(name="a", count=1), CrudRow(name="b", count=2)])
        assert [(r.name, r.count) for r in saved] == [("a", 1), ("b", 2)]
        a, b = saved
        assert isinstance(a.id, int) and b.id > a.id
        assert self.stored() == [(a.id, "a", 1), (b.id, "b", 2)]

        assert await self.loader.load() == saved
        assert await self.loader.load(id=b.id) == [b]

        b.count = 20
        updated = await self.loader.save([b, CrudRow(name="c", count=3)])
        assert updated[0] == b
        c = updated[1]
        assert self.stored() == [(a.id, "a", 1), (b.id, "b", 20), (c.id, "c", 3)]

        assert await self.loader.delete([a]) == [a]
        assert await self.loader.delete(id=c.id) == [c]
        assert self.stored() == [(b.id, "b", 20)]

    def test_save_load_update_delete_round_trip(self) -> Deferred[None]:
        """New rows get ids, loads return them (all, or one by id), an update changes only
        its row, and deletes by row or by id remove exactly those rows."""
        return Deferred.fromCoroutine(self._round_trip())

    async def _refuses_other_types(self) -> None:
        for intruder in (OtherRow(name="x"), NotARow(name="x")):
            error = await remote_error(self.loader.save([CrudRow(name="ok"), intruder]))
            assert error.code == "CrudTupleTypeError"
            assert intruder.tupleName() in str(error) and CrudRow.tupleName() in str(error)
        assert self.stored() == []
        with self.connection.dbEngine.connect() as conn:
            assert conn.execute(select(OtherRow.id)).all() == []

    def test_rows_of_another_type_are_refused_and_nothing_is_written(self) -> Deferred[None]:
        """A save carrying a row of another table or a plain tuple is refused whole."""
        return Deferred.fromCoroutine(self._refuses_other_types())

    async def _rollback(self) -> None:
        await self.loader.save([CrudRow(name="taken")])
        error = await remote_error(
            self.loader.save([CrudRow(name="fresh"), CrudRow(name="taken")])
        )
        assert error.code == "IntegrityError"
        assert "Traceback" not in str(error)
        assert [name for _, name, _ in self.stored()] == ["taken"]

    def test_a_failing_save_rolls_back_every_row_of_the_request(self) -> Deferred[None]:
        """When the database refuses one row, the request's other rows are not written and
        the error arrives as a code and one line, not a traceback."""
        return Deferred.fromCoroutine(self._rollback())

    async def _missing_rows(self) -> None:
        (row,) = await self.loader.save([CrudRow(name="real")])
        ghost = CrudRow(id=row.id + 100, name="ghost")
        for d in (self.loader.load(id=row.id + 100), self.loader.save([ghost]),
                  self.loader.delete([ghost]), self.loader.delete(id=row.id + 100)):
            error = await remote_error(d)
            assert error.code == "CrudRowNotFoundError"
            assert str(row.id + 100) in str(error)
        error = await remote_error(self.loader.delete())
        assert error.code == "CrudRequestError"
        error = await remote_error(self.loader.delete([CrudRow(name="never saved")]))
        assert error.code == "CrudRequestError"
        assert self.stored() == [(row.id, "real", None)]

    def test_missing_rows_and_malformed_deletes_are_refused(self) -> Deferred[None]:
        """Loading, updating or deleting an id that does not exist, or a delete naming no
        rows, gets a clear error and changes nothing (no update turns into an insert)."""
        return Deferred.fromCoroutine(self._missing_rows())

    # ---- createDeclarative

    async def _subset(self) -> None:
        self.handler.shutdown()
        self.make_handler(KindHandler, retreiveAll=True)
        saved = await self.loader.save(
            [CrudRow(name="p1", kind="pump"), CrudRow(name="v1", kind="valve"),
             CrudRow(name="p2", kind="pump")]
        )
        pumps = await self.loader.load(kind="pump")
        assert [r.name for r in pumps] == ["p1", "p2"]
        assert await self.loader.load(kind="valve") == [saved[1]]

    def test_create_declarative_override_loads_a_subset_chosen_by_the_filt(self) -> Deferred[None]:
        """An overridden createDeclarative gets the request's filt and decides what a load
        returns, as the seed's "edit a subset" example does."""
        return Deferred.fromCoroutine(self._subset())

    async def _blank(self) -> None:
        self.handler.shutdown()
        self.make_handler()
        await self.loader.save([CrudRow(name="existing")])
        (blank,) = await self.loader.load()
        assert isinstance(blank, CrudRow) and blank.id is None and blank.name is None
        assert len(self.stored()) == 1

    def test_without_retreive_all_a_load_gives_one_new_unsaved_row(self) -> Deferred[None]:
        """The default createDeclarative without retreiveAll returns a blank row to fill in
        and stores nothing."""
        return Deferred.fromCoroutine(self._blank())

    # ---- extensions

    async def _hooks(self) -> None:
        recorder = Recorder()
        self.handler.addExtension(CrudRow, recorder)
        (old,) = await self.loader.save([CrudRow(name="old")])
        recorder.calls.clear()

        old.count = 5
        await self.loader.save([CrudRow(name="new"), old])
        in_thread, on_reactor = (False, True), (True, False)
        assert recorder.calls == [
            ("beforeCreate", "new", *in_thread),
            ("beforeUpdate", "old", *in_thread),
            ("afterCreate", "new", *in_thread),
            ("afterUpdateCommit", "new", *on_reactor),
            ("afterUpdateCommit", "old", *on_reactor),
        ]
        assert recorder.created_ids[-1] is not None

        recorder.calls.clear()
        await self.loader.load()
        assert recorder.calls == [("afterRetrieve", "old", *in_thread),
                                  ("afterRetrieve", "new", *in_thread)]

        recorder.calls.clear()
        await self.loader.delete(id=old.id)
        assert recorder.calls == [("beforeDelete", "old", *in_thread),
                                  ("afterDeleteCommit", "old", *on_reactor)]

    def test_extension_hooks_run_in_order_in_the_thread_then_on_the_reactor(
        self,
    ) -> Deferred[None]:
        """before*/afterCreate/afterRetrieve run in the database thread with the session;
        the *Commit hooks run on the reactor thread after the commit, with the rows'
        values still readable."""
        return Deferred.fromCoroutine(self._hooks())

    async def _hook_failures(self) -> None:
        class Veto(OrmCrudHandlerExtension):
            def beforeCreate(self, tuple_: Any, tuples: list[Any], session: Any,
                             payloadFilt: dict) -> None:
                if tuple_.name == "forbidden":
                    raise ValueError("forbidden names are not allowed")

            def afterUpdateCommit(self, tuple_: Any, tuples: list[Any], session: Any,
                                  payloadFilt: dict) -> None:
                raise RuntimeError("the notify failed")

        self.handler.addExtension(CrudRow, Veto())
        error = await remote_error(
            self.loader.save([CrudRow(name="fine"), CrudRow(name="forbidden")])
        )
        # Not a CrudError: the caller gets the class name and an error id, not the text.
        assert error.code == "ValueError" and "forbidden names" not in str(error)
        assert error.message.startswith("internal error, id "), error
        assert self.stored() == []

        logger = logging.getLogger("peek_plugin_base.storage.OrmCrudHandler")
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        saved = await self.loader.save([CrudRow(name="fine")])
        assert [r.name for r in saved] == ["fine"]
        assert [name for _, name, _ in self.stored()] == ["fine"]
        assert any("afterUpdateCommit failed" in r.getMessage() for r in records)

    def test_a_failing_before_hook_aborts_and_a_failing_commit_hook_is_logged(
        self,
    ) -> Deferred[None]:
        """An exception in a before hook rolls the request back and is the reply; one in
        a commit hook is logged and the requester still gets its committed rows."""
        return Deferred.fromCoroutine(self._hook_failures())

    async def _no_message_id(self) -> None:
        self.admin.router.send(Payload({**FILT}, [CrudRow(name="fire and forget")]),
                               "peek-server")
        from tests.vortex_transport.harness import wait_for

        await wait_for(lambda: self.stored(), 10, "the row to be stored")
        assert [name for _, name, _ in self.stored()] == ["fire and forget"]

    def test_a_request_without_message_id_is_processed(self) -> Deferred[None]:
        """A save sent without a message id is still written (and simply not answered)."""
        return Deferred.fromCoroutine(self._no_message_id())


    async def _accept_only(self) -> None:
        self.handler.shutdown()
        handler = self.make_handler(retreiveAll=True, acceptOnlyFromVortex="peek-admin")
        dispatched: list[str] = []
        real_handle = handler._handle

        def counting_handle(envelope: Any, vortexName: str, sendResponse: Any) -> Any:
            dispatched.append(vortexName)
            return real_handle(envelope, vortexName, sendResponse)

        handler._handle = counting_handle  # type: ignore[method-assign]
        clock = Clock()
        self.admin.router.set_clock(clock)
        refused = self.loader.save([CrudRow(name="from a stranger")])
        # The memory bus delivers synchronously: the router has already decided.
        assert dispatched == []
        clock.advance(self.loader.timeoutSeconds)
        try:
            await refused
        except ReplyTimeoutError:
            pass
        else:
            raise AssertionError("a sender not in acceptOnlyFromVortex must get no answer")

        admin = self.device("peek-admin")
        allowed = TupleLoaderClient(FILT, "peek-server", admin.router, 10)
        assert [r.name for r in await allowed.save([CrudRow(name="from the admin")])] == [
            "from the admin"]
        assert dispatched == ["peek-admin"]
        assert [name for _, name, _ in self.stored()] == ["from the admin"]

    def test_accept_only_from_vortex_limits_who_may_edit(self) -> Deferred[None]:
        """With acceptOnlyFromVortex, requests from other vortex names never reach the
        handler (they time out unanswered); the named peer's requests work."""
        return Deferred.fromCoroutine(self._accept_only())


class CrudOnSqlite(_CrudTests):
    database = "sqlite"


class CrudOnPostgres(_CrudTests):
    database = "postgres"


# _CrudTests itself has no database kind of its own to test.
del _CrudTests


@pytest.mark.parametrize("declarative", [NotARow, UnregisteredRow, int])
def test_handler_needs_a_registered_mapped_tuple_class(declarative: type) -> None:
    """A class that is not mapped, or mapped but not a registered tuple, is refused at
    construction with a message naming the problem."""
    with pytest.raises(TypeError, match="mapped declarative|@addTupleType"):
        OrmCrudHandler(lambda: None, declarative, FILT)  # type: ignore[arg-type,return-value]


def test_extensions_are_for_the_handlers_own_class() -> None:
    """Registering an extension for another class is an error (it would never run)."""
    from peek_plugin_base.vortex import PayloadRouter

    handler = OrmCrudHandler(lambda: None, CrudRow, FILT, router=PayloadRouter())  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="CrudRow"):
        handler.addExtension(OtherRow, OrmCrudHandlerExtension())
    handler.addExtension(CrudRow, OrmCrudHandlerExtension())
    handler.shutdown()

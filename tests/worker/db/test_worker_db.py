"""Worker tasks using the database through CeleryDbConn, in real prefork worker processes."""

import datetime
import os
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from peek_plugin_base.vortex import Tuple, TupleField, addTupleType
from peek_plugin_base.worker.errors import RemoteTaskError
from tests.worker.db.support import call, create_schema, defer, schema_exists
from tests.worker.support import Broker, StartCaller

pytestmark = pytest.mark.usefixtures("fixture_plugins_importable")


def test_each_pool_process_has_its_own_engine(
    worker_db_url: str,
    embedded_broker: Broker,
    start_db_worker: Any,
    start_caller: StartCaller,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two prefork children each build their own engine, even though the plugin used the
    database in the main process before the fork; a child reuses its engine for every
    later task, with a fresh session per task; each child disposes of its engine when the
    worker stops."""
    create_schema(worker_db_url)
    monkeypatch.setenv("PEEK_TEST_DB_IN_START", "1")
    worker = start_db_worker(embedded_broker, worker_db_url)
    stack = start_caller(embedded_broker)

    barrier = tmp_path / "barrier"
    barrier.mkdir()
    both = [defer(stack, "engine_identity", str(barrier), 2) for _ in range(2)]
    first, second = (stack.pump.wait(d, 40) for d in both)
    assert first["pid"] != second["pid"]
    assert worker.proc.pid not in (first["pid"], second["pid"])

    seen: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for result in [first, second] + [call(stack, "engine_identity") for _ in range(8)]:
        seen[result["pid"]].append(result)
    assert len(seen) == 2
    for pid, results in seen.items():
        # Built in this child (an engine inherited from the main process carries its pid).
        assert {r["owner"] for r in results} == {pid}
        assert len({r["engine"] for r in results}) == 1
        assert [r["uses"] for r in results] == list(range(1, len(results) + 1))
        assert {r["rows"] for r in results} == {0}
        assert all(r["fresh_session"] for r in results)

    assert worker.terminate() == 0
    log = worker.log()
    assert "Traceback" not in log
    for pid in seen:
        assert f"Worker process {pid}: database engine created" in log
        assert f"Worker process {pid}: database engine disposed" in log


def test_worker_never_migrates(
    worker_db_url: str,
    embedded_broker: Broker,
    start_db_worker: Any,
    start_caller: StartCaller,
) -> None:
    """A missing database or schema fails the task and is not created by the worker; once
    the server has created the schema, the running worker uses it."""
    sqlite = worker_db_url.startswith("sqlite")
    start_db_worker(embedded_broker, worker_db_url, concurrency=1)
    stack = start_caller(embedded_broker)

    if sqlite:
        main = Path(make_url(worker_db_url).database or "")
        with pytest.raises(RemoteTaskError) as raised:
            call(stack, "count_items")
        assert raised.value.exc_type == "WorkerDbMissingError"
        assert "the worker never does" in raised.value.exc_message
        assert not main.exists()
        main.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(main).close()  # an empty database: the server has not migrated

    with pytest.raises(RemoteTaskError) as raised:
        call(stack, "count_items")
    assert raised.value.exc_type in ("OperationalError", "ProgrammingError")
    assert ("no such table" if sqlite else "does not exist") in raised.value.exc_message
    assert not schema_exists(worker_db_url)

    create_schema(worker_db_url)
    assert call(stack, "count_items") == 0


def test_prefetch_ids_from_tasks(
    worker_db_url: str,
    embedded_broker: Broker,
    start_db_worker: Any,
    start_caller: StartCaller,
    tmp_path: Path,
) -> None:
    """Two pool processes reserving ids at the same moment get disjoint ranges, and
    inserting rows with them succeeds."""
    create_schema(worker_db_url)
    start_db_worker(embedded_broker, worker_db_url)
    stack = start_caller(embedded_broker)

    barrier = tmp_path / "barrier"
    barrier.mkdir()
    pending = [defer(stack, "prefetch_and_insert", 50, str(barrier), 2) for _ in range(2)]
    first, second = (stack.pump.wait(d, 40) for d in pending)
    assert len(first) == len(second) == 50
    assert not set(first) & set(second)
    assert sorted(first + second) == list(range(1, 101))
    assert len(os.listdir(barrier)) == 2  # two processes really ran them
    assert call(stack, "count_items") == 100
    assert call(stack, "prefetch_and_insert", 3) == [101, 102, 103]


def test_tuples_as_task_arguments_and_results(
    broker: Broker,
    start_db_worker: Any,
    start_caller: StartCaller,
    sqlite_url: str,
) -> None:
    """A bus tuple (with a datetime, bytes and a nested tuple) reaches the task as that
    tuple type, and the task's tuple result comes back as one, on every broker."""
    from peek_plugin_workerdb.storage import ItemTuple

    start_db_worker(broker, sqlite_url, concurrency=1)
    stack = start_caller(broker)
    when = datetime.datetime(2026, 11, 21, 8, 0, tzinfo=datetime.UTC)
    sent = ItemTuple(label="abc", when=when, blob=b"\x00\x01\xff",
                     inner=ItemTuple(label="in"), items=[1, 2, 3])

    got = call(stack, "echo_tuple", sent)
    assert isinstance(got, ItemTuple)
    assert got.label == "ABC"
    assert got.when == when
    assert got.blob == b"\xff\x01\x00"
    assert got.inner == sent
    assert got.items == [ItemTuple(label="in"), 3]

    with pytest.raises(RemoteTaskError, match="expected an ItemTuple, got dict"):
        call(stack, "echo_tuple", {"label": "not a tuple"})


@addTupleType
class CallerOnlyTuple(Tuple):
    """A tuple type registered in the test process only, never in the worker."""

    __tupleType__ = "peek_test_worker_db.CallerOnlyTuple"

    value = TupleField()


def test_unknown_tuple_type_fails_the_task(
    embedded_broker: Broker,
    start_db_worker: Any,
    start_caller: StartCaller,
    sqlite_url: str,
) -> None:
    """A tuple whose type the worker has not registered is not built there: the task fails
    with a decode error naming the type, and the worker goes on with the next task."""
    from peek_plugin_workerdb.storage import ItemTuple

    start_db_worker(embedded_broker, sqlite_url, concurrency=1)
    stack = start_caller(embedded_broker)
    with pytest.raises(RemoteTaskError) as raised:
        call(stack, "echo_tuple", CallerOnlyTuple(value=1), timeout=20)
    assert "peek_test_worker_db.CallerOnlyTuple" in str(raised.value)
    assert raised.value.exc_type == "DecodeError"
    assert call(stack, "echo_tuple", ItemTuple(label="x", blob=b"")).label == "X"


def test_sqlite_schemas_beyond_the_attach_limit_are_skipped_with_a_warning(
    embedded_broker: Broker,
    start_db_worker: Any,
    start_caller: StartCaller,
    sqlite_url: str,
) -> None:
    """With more schema files than SQLite can attach, the first ten (by name) are attached,
    tasks using them work, and each skipped schema is named in a warning."""
    create_schema(sqlite_url)
    main = Path(make_url(sqlite_url).database or "")
    for n in range(10):  # sorted after pl_workerdb: it is attached, pl_zz09 is not
        sqlite3.connect(main.with_name(f"peek.pl_zz{n:02d}.sqlite")).close()
    worker = start_db_worker(embedded_broker, sqlite_url, concurrency=1)
    stack = start_caller(embedded_broker)
    assert call(stack, "count_items") == 0
    log = worker.log()
    assert "schema pl_zz09 is not attached" in log
    assert "pl_zz08 is not attached" not in log

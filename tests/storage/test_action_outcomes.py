"""The durable action outcome record in the platform schema, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock

from peek_platform.storage.action_outcomes import (
    PURGE_INTERVAL_SECONDS,
    ActionOutcomeService,
    SqlActionOutcomeStore,
)
from peek_platform.storage.service import StorageService
from peek_platform.storage.tables import ActionOutcome as ActionOutcomeRow
from peek_plugin_base.vortex import PayloadRouter
from peek_vortex.handlers import ActionOutcome
from tests.storage.test_server_storage import make_config, result_of, run_now

SUCCESS = ActionOutcome(b"\x00\x01body", "deflate", 9, None)
REFUSAL = ActionOutcome(b"", None, None, ("TupleActionRefusedError", "row 4 was deleted"))


class WallClock:
    """Stands in for time.time so a test moves wall-clock time itself."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storage(db_url: str, tmp_path: Path) -> Iterator[StorageService]:
    """A storage service with the platform schema migrated (runs statements at once)."""
    service = StorageService(make_config(tmp_path / "home", db_url), run_in_thread=run_now)
    result_of(maybeDeferred(service.startService))
    try:
        yield service
    finally:
        result_of(maybeDeferred(service.stopService))


def row_count(storage: StorageService) -> int:
    assert storage.platform_db is not None
    with storage.platform_db.dbEngine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(ActionOutcomeRow.__table__)).scalar_one())


def test_outcomes_round_trip_expire_and_are_replaced(storage: StorageService) -> None:
    """A saved success and refusal load back byte for byte per (processor, id); past its
    window a record is not returned, and saving the id again replaces the expired row."""
    assert storage.platform_db is not None
    now = WallClock()
    store = SqlActionOutcomeStore(storage.platform_db, run_now, 600, now)
    result_of(store.save("tutorial", "id-1", SUCCESS))
    result_of(store.save("tutorial", "id-2", REFUSAL, window_seconds=10))
    assert result_of(store.load("tutorial", "id-1")) == SUCCESS
    assert result_of(store.load("tutorial", "id-2")) == REFUSAL
    assert result_of(store.load("other", "id-1")) is None
    now.now += 10
    assert result_of(store.load("tutorial", "id-2")) is None
    assert result_of(store.load("tutorial", "id-1")) == SUCCESS
    result_of(store.save("tutorial", "id-2", SUCCESS))
    assert result_of(store.load("tutorial", "id-2")) == SUCCESS
    assert row_count(storage) == 2


def test_service_installs_the_store_and_purges_expired_rows(
    storage: StorageService, tmp_path: Path, db_url: str
) -> None:
    """The service installs the durable store on the router with the configured window,
    deletes expired rows every PURGE_INTERVAL_SECONDS, and uninstalls it when stopped."""
    config = make_config(tmp_path / "home2", db_url)
    config.data["vortex"]["actionDedupSeconds"] = 30
    router, clock, now = PayloadRouter(), Clock(), WallClock()
    service = ActionOutcomeService(
        config, lambda: storage.platform_db, run_now, router=router, clock=clock, now=now)
    service.startService()
    store = router.action_outcome_store
    assert isinstance(store, SqlActionOutcomeStore) and store.window_seconds == 30
    result_of(store.save("tutorial", "old", SUCCESS))
    now.now += 20
    result_of(store.save("tutorial", "new", SUCCESS))
    now.now += 15
    clock.advance(PURGE_INTERVAL_SECONDS)
    assert row_count(storage) == 1
    assert result_of(store.load("tutorial", "new")) == SUCCESS
    result_of(service.stopService())
    assert router.action_outcome_store is None


def test_concurrent_saves_share_one_commit_and_each_fires_when_committed(
    storage: StorageService,
) -> None:
    """Saves queued together are written by the first writer in one transaction; each
    save's Deferred fires only when its record is committed, and a failed batch fails
    every save in it (nothing is reported as recorded that is not)."""
    assert storage.platform_db is not None
    calls: list[tuple[Any, tuple[Any, ...]]] = []

    def later(func: Any, *args: Any) -> "Deferred[Any]":
        calls.append((func, args))
        return Deferred()

    store = SqlActionOutcomeStore(storage.platform_db, later, 600, WallClock())
    for n in range(3):
        store.save("tutorial", f"id-{n}", SUCCESS)
    func, args = calls[0]
    func(*args)
    assert row_count(storage) == 3
    for func, args in calls[1:]:
        func(*args)  # already written by the first writer: returns without writing
    assert row_count(storage) == 3

    calls.clear()
    store.save("tutorial", "fine", SUCCESS)
    store.save("tutorial", "broken", ActionOutcome(None, None, None, None))  # type: ignore
    errors: list[Exception] = []
    for func, args in calls:
        try:
            func(*args)
        except Exception as e:
            errors.append(e)
    # body is NOT NULL: the batch fails as a whole, and both saves report it.
    assert len(errors) == 2 and errors[0] is errors[1]
    assert row_count(storage) == 3  # "fine" was not committed either

"""Fixtures: the DB test plugin importable here, and a fresh SQLite / PostgreSQL database."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.storage.conftest import postgres_url, sqlite_url  # noqa: F401 - fixtures
from tests.worker.db.support import DbWorkerProcess
from tests.worker.support import FIXTURE_PLUGIN_DIR, Broker, make_broker


@pytest.fixture
def fixture_plugins_importable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test process can import the DB test plugin (its tuples, its table)."""
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGIN_DIR))
    yield


@pytest.fixture(params=["sqlite", "postgres"])
def worker_db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on a fresh SQLite file and a fresh PostgreSQL database."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def start_db_worker(tmp_path: Path) -> Iterator[Callable[..., DbWorkerProcess]]:
    """Starts ``run_peek_worker`` subprocesses running the DB test plugin; killed afterwards."""
    workers: list[DbWorkerProcess] = []

    def start(broker: Broker, url: str, wait_ready: bool = True,
              **worker_config: Any) -> DbWorkerProcess:
        worker = DbWorkerProcess(tmp_path / f"db-worker-{len(workers)}", broker,
                                 worker_config, sqlalchemy={"connectUrl": url})
        workers.append(worker)
        return worker.start(wait_ready)

    yield start
    for worker in workers:
        worker.cleanup()


@pytest.fixture
def embedded_broker(tmp_path: Path, request: pytest.FixtureRequest) -> Broker:
    """The embedded broker and results in this test's temp folder."""
    return make_broker("embedded", tmp_path, request)

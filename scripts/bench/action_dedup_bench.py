"""The durable action outcome record's cost per action: one load and one save, in threads.

For SQLite (the embedded default, a temporary home) and PostgreSQL (a throw-away database on
``PEEK_BENCH_POSTGRES_URL``; skipped with a note if unreachable), N actions run with
``INFLIGHT`` at a time, each doing what the server's processor does for a new action id:
``load`` (miss) then ``save`` of a small success, through the storage service's thread pool.
One ``RESULT`` line per database: records/s and the p50/p99 of load+save.
"""

import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from bench_common import percentile
from psycopg import sql
from sqlalchemy.engine import make_url
from twisted.internet import defer, task
from twisted.internet.defer import Deferred

from peek_platform.config import ServiceConfig
from peek_platform.storage.action_outcomes import SqlActionOutcomeStore
from peek_platform.storage.service import StorageService
from peek_vortex.handlers import ActionOutcome

N = 2_000
INFLIGHT = 16
PG_URL = os.environ.get("PEEK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
OUTCOME = ActionOutcome(b'{"T":[],"R":[]}', None, None, None)


async def measure(label: str, url: str, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.json").write_text(json.dumps({"sqlalchemy": {"connectUrl": url}}))
    storage = StorageService(ServiceConfig.load("server", home))
    await storage.startService()
    assert storage.platform_db is not None
    store = SqlActionOutcomeStore(storage.platform_db, storage.run_in_thread, 600)
    latencies: list[float] = []

    async def one() -> None:
        action_id = str(uuid.uuid4())
        started = time.perf_counter()
        assert await store.load("bench", action_id) is None
        await store.save("bench", action_id, OUTCOME)
        latencies.append(time.perf_counter() - started)

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    started = time.perf_counter()
    await defer.gatherResults([
        Deferred.fromCoroutine(worker(N // INFLIGHT)) for _ in range(INFLIGHT)])
    elapsed = time.perf_counter() - started
    await storage.stopService()
    p50, p99 = (percentile(latencies, p) * 1000 for p in (50, 99))
    print(f"RESULT action_dedup {label} N={len(latencies)} inflight={INFLIGHT}: "
          f"{len(latencies) / elapsed:.0f} records/s, load+save p50 {p50:.1f} ms "
          f"p99 {p99:.1f} ms", flush=True)


async def main(_reactor: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="peek-dedup-bench-") as tmp:
        await measure("sqlite", f"sqlite:///{tmp}/sqlite/peek.sqlite", Path(tmp) / "sqlite")
        name = f"peek_dedup_bench_{uuid.uuid4().hex[:8]}"
        admin_url = make_url(PG_URL).set(drivername="postgresql", database="postgres")
        try:
            admin = psycopg.connect(admin_url.render_as_string(hide_password=False),
                                    autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as e:
            print(f"PostgreSQL skipped: not reachable at {PG_URL}: {e}")
            return
        with admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
                await measure("postgresql", url, Path(tmp) / "pg")
            finally:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))


if __name__ == "__main__":
    task.react(lambda reactor: Deferred.fromCoroutine(main(reactor)))

"""Tutorial actions under load: 150 observing devices and a steady action stream, per database.

Usage: .venv/bin/python scripts/bench/action_bench.py [--dbs sqlite,postgresql]
       [--rate 60] [--seconds 20] [--observers 150] [--rows 20]

Per database, real processes on 127.0.0.1: ``run_peek_server`` and ``run_peek_client`` with
the tutorial plugin (SQLite: the server's embedded default in its home; PostgreSQL: a
database of its own on ``PEEK_BENCH_POSTGRES_URL``, created and dropped here). An admin
tool inserts ``--rows`` StringInt rows through the tuple loader; ``--observers`` device
peers connect to the client service's mobile site, each observing the StringInt table
through the client's observable proxy. Then actions (``AddIntValueActionTuple``, offset 1,
rows in turn) are pushed through the client's action proxy at ``--rate`` per second
(open loop: an action is sent when due, whatever is still unanswered) for ``--seconds``.
Each action runs the tutorial's delegate (a read-modify-write transaction in a server
thread) and its notifies make the observable re-read the table for the observers.

One RESULT line per database: actions answered per second, failures (the first error),
latency p50/p99 (push to answer), "database is locked" lines in the server log, whether
every answered action is in the table (sum of int1) and how many observers ended on the
final rows. Target: >= 50 actions/s with 0 failures.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]

import psycopg  # noqa: E402
from bench_common import percentile, say  # noqa: E402
from peek_plugin_tutorial._private.PluginNames import (  # noqa: E402
    tutorialActionProcessorName,
    tutorialFilt,
    tutorialObservableName,
)
from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import (  # noqa: E402
    filtKey,
)
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple  # noqa: E402
from peek_plugin_tutorial._private.tuples.AddIntValueActionTuple import (  # noqa: E402
    AddIntValueActionTuple,
)
from psycopg import sql  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from twisted.internet import reactor, task  # noqa: E402
from twisted.internet.defer import Deferred, DeferredList  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402

from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName  # noqa: E402
from peek_plugin_base.storage import TupleLoaderClient  # noqa: E402
from peek_plugin_base.vortex import (  # noqa: E402
    ObservedTuples,
    TupleActionPushClient,
    TupleDataObserverClient,
    TupleSelector,
)
from tests.e2e.devices_data import VortexPeer, client_config, server_config  # noqa: E402
from tests.support import ServiceProcess  # noqa: E402
from tests.vortex_transport.harness import wait_for as reactor_wait_for  # noqa: E402

PLUGINS = ["peek_plugin_tutorial"]
PG_URL = os.environ.get("PEEK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_PER_S = 50.0
LOCKED = "database is locked"
#: Seconds an action may take before it counts as failed (the push client's timeout).
ACTION_TIMEOUT = 30.0


class Run:
    """One database's services, peers and measurements; ``close`` undoes everything."""

    def __init__(self, label: str, db_url: Optional[str]) -> None:
        self.label = label
        self.db_url = db_url
        self.home = Path(tempfile.mkdtemp(prefix=f"peek-action-bench-{label}-"))
        self._cleanups: list[Callable[[], Any]] = []
        self.peers: list[VortexPeer] = []

    def start_services(self) -> None:
        server_home = self.home / "server"
        server = server_config(PLUGINS, self.db_url)
        # DEBUG logs every message: the log would be the thing measured.
        server["logging"]["level"] = "INFO"
        self.server = self._start("server", server_home, server)
        client = client_config(PLUGINS, server_home, server)
        client["logging"]["level"] = "INFO"
        self._start("client", self.home / "client", client)
        self.mobile_port = int(client["httpServer"]["mobile"]["sitePort"])
        self.platform_port = int(server["httpServer"]["platform"]["sitePort"])
        self.token = (server_home / "platform.token").read_text(encoding="ascii").strip()

    def _start(self, service: str, home: Path, config: dict[str, Any]) -> ServiceProcess:
        process = ServiceProcess(service, home, config)
        self._cleanups.append(process.stop)
        process.wait_log(f"Peek {service} is running", timeout=60)
        return process

    async def peer(self, port: int, name: str, token: Optional[str] = None) -> VortexPeer:
        peer = VortexPeer(port, name, token)
        self.peers.append(peer)
        await peer.connect()
        return peer

    async def close_peers(self) -> None:
        await DeferredList([p.close() for p in self.peers], consumeErrors=True)

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except AssertionError as e:
                say(f"action_bench {self.label}: cleanup: {e}")
        shutil.rmtree(self.home, ignore_errors=True)


def progress(text: str) -> None:
    """A progress note on stderr (the RESULT lines go to stdout)."""
    sys.stderr.write(f"action_bench: {text}\n")


def stream(
    push: Callable[[int], "Deferred[Any]"], rate: float, seconds: float
) -> "Deferred[dict[str, Any]]":
    """Push ``rate`` actions per second for ``seconds`` (open loop); fires with the counts."""
    done: Deferred[dict[str, Any]] = Deferred()
    latencies: list[float] = []
    state: dict[str, Any] = {"sent": 0, "answered": 0, "failed": 0, "first_error": None}
    t0 = time.perf_counter()
    total = round(rate * seconds)

    def answered(_: Any, started: float) -> None:
        latencies.append(time.perf_counter() - started)
        state["answered"] += 1
        finish_if_done()

    def failed(failure: Failure) -> None:
        state["failed"] += 1
        state["first_error"] = state["first_error"] or (
            f"{failure.type.__name__}: {' '.join(failure.getErrorMessage().split())[:200]}")
        finish_if_done()

    def finish_if_done() -> None:
        if state["sent"] == total and state["answered"] + state["failed"] == total:
            seconds_taken = time.perf_counter() - t0
            done.callback(dict(
                state, seconds=seconds_taken, per_s=state["answered"] / seconds_taken,
                p50_ms=1e3 * percentile(latencies, 50), p99_ms=1e3 * percentile(latencies, 99),
            ))

    def tick() -> None:
        # Catch up on every action due by now, so a late tick does not lower the rate.
        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
        while state["sent"] < due:
            seq = state["sent"]
            state["sent"] += 1
            push(seq).addCallbacks(answered, failed, callbackArgs=(time.perf_counter(),))
        if state["sent"] == total and ticker.running:
            ticker.stop()

    ticker = task.LoopingCall(tick)
    ticker.start(0.005)
    return done


async def measure(run: Run, args: argparse.Namespace) -> str:
    admin = await run.peer(run.platform_port, peekClientName, run.token)
    loader = TupleLoaderClient(filtKey, router=admin.router, timeoutSeconds=ACTION_TIMEOUT)
    rows = await loader.save(
        [StringIntTuple(string1=f"row{i}", int1=0) for i in range(args.rows)])
    ids = [row.id for row in rows]
    progress(f"{len(ids)} rows inserted")

    selector = TupleSelector(StringIntTuple.tupleName(), {})
    observed: list[ObservedTuples] = []
    pushers: list[TupleActionPushClient] = []
    for i in range(args.observers):
        device = await run.peer(run.mobile_port, peekMobileName)
        observer = TupleDataObserverClient(
            tutorialObservableName, peekClientName, tutorialFilt, router=device.router)
        observed.append(observer.subscribeToTupleSelector(selector))
        if i < args.pushers:
            pushers.append(TupleActionPushClient(
                tutorialActionProcessorName, peekClientName, tutorialFilt,
                router=device.router, timeoutSeconds=ACTION_TIMEOUT))
    progress(f"{len(observed)} observers connected")
    await reactor_wait_for(lambda: all(len(o.tuples or []) == len(ids) for o in observed),
                           60, "every observer to have the rows")
    progress("every observer has the rows; streaming actions")

    def push(seq: int) -> "Deferred[Any]":
        action = AddIntValueActionTuple(stringIntId=ids[seq % len(ids)], offset=1)
        return pushers[seq % len(pushers)].pushAction(action)

    counts = await stream(push, args.rate, args.seconds)

    stored = await loader.load()
    stored_total = sum(row.int1 for row in stored)
    final = sorted((row.id, row.int1) for row in stored)

    def converged() -> int:
        return sum(sorted((t.id, t.int1) for t in o.tuples or []) == final for o in observed)

    try:
        await reactor_wait_for(lambda: converged() == len(observed), 30,
                               "every observer to have the final rows")
    except AssertionError as e:
        progress(str(e))
    await run.close_peers()
    locked = run.server.log().count(LOCKED)
    persisted = "yes" if stored_total == counts["answered"] else (
        f"NO (table sum {stored_total}, answered {counts['answered']})")
    ok = counts["per_s"] >= TARGET_PER_S and counts["failed"] == 0 and locked == 0
    line = (
        f"RESULT action_bench {run.label}: {counts['per_s']:.1f} actions/s answered "
        f"({counts['answered']}/{counts['sent']} at {args.rate:g}/s offered for "
        f"{args.seconds:g} s, {args.observers} observers), failures {counts['failed']}, "
        f"latency p50 {counts['p50_ms']:.1f} ms p99 {counts['p99_ms']:.1f} ms, "
        f"'{LOCKED}' in server log {locked}, every answered action persisted {persisted}, "
        f"observers on the final rows {converged()}/{len(observed)} "
        f"(target >= {TARGET_PER_S:g}/s and 0 failures: {'ok' if ok else 'MISSED'})"
    )
    if counts["first_error"]:
        line += f"; first error {counts['first_error']}"
    return line


def new_postgres_database() -> tuple[Optional[str], Callable[[], None]]:
    """A new database on PG_URL and how to drop it; (None, no-op) if unreachable."""
    admin_url = make_url(PG_URL).set(drivername="postgresql", database="postgres")
    name = f"peek_action_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        say(f"RESULT action_bench postgresql: skipped, {PG_URL} unreachable ({e})")
        return None, lambda: None
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    return url, drop


async def main(args: argparse.Namespace) -> None:
    for label in args.dbs.split(","):
        drop: Callable[[], None] = lambda: None  # noqa: E731
        db_url: Optional[str] = None
        if label == "postgresql":
            db_url, drop = new_postgres_database()
            if db_url is None:
                continue
        elif label != "sqlite":
            raise SystemExit(f"--dbs: unknown database {label!r} (sqlite, postgresql)")
        run = Run(label, db_url)
        try:
            run.start_services()
            say(await measure(run, args))
        finally:
            run.close()
            drop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--rate", type=float, default=60.0, help="actions offered per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--observers", type=int, default=150)
    parser.add_argument("--pushers", type=int, default=10,
                        help="how many of the observing devices also push actions")
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    outcome: list[Any] = []

    def finished(result: Any) -> None:
        outcome.append(result)
        reactor.stop()

    reactor.callWhenRunning(
        lambda: Deferred.fromCoroutine(main(args)).addBoth(finished))
    reactor.run()
    if outcome and isinstance(outcome[0], Failure):
        outcome[0].raiseException()


if __name__ == "__main__":
    cli()

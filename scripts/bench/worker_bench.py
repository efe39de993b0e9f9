"""Worker tasks through the platform versus raw Celery, on the same broker in the same run.

For each broker: start a worker (``run_peek_worker`` with the tutorial plugin, or a plain
``celery worker`` for the baseline; both prefork with 2 processes, task events on, no
gossip or mingle), warm up, then measure
  * round trip: median of 200 sequential calls (platform: ``deferTask`` awaited on the
    reactor; raw: ``add.delay(...).get()``),
  * throughput: 2,000 calls queued in a batch, then every result awaited.
Prints one RESULT line per measurement, then the platform/raw ratios (target <= 1.25) and
the embedded broker's throughput (target >= 100 tasks/s).

Usage: worker_bench.py [--brokers embedded,redis,rabbitmq] [--runs N] [--raw-without-events]
Redis: $PEEK_BENCH_REDIS_URL (default redis://127.0.0.1:6379/9, flushed before and after);
RabbitMQ: $PEEK_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672//, results on Redis).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("PEEK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
AMQP_URL = os.environ.get("PEEK_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
TASK = "peek_plugin_tutorial._private.worker.TutorialTasks.addNumbers"
N_LATENCY = 200
N_BATCH = 2000
TARGET_RATIO = 1.25
TARGET_EMBEDDED = 100.0


# ------------------------------------------------------------------ measuring children

def _platform_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure through the platform's caller, on a running reactor (as the server does)."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred, gatherResults

    from peek_platform.celery_glue.app_config import configure_app
    from peek_platform.celery_glue.caller import TaskCaller
    from peek_platform.celery_glue.settings import CelerySettings
    from peek_plugin_base.worker.CeleryApp import celeryApp

    settings = CelerySettings(broker_url=spec["broker"], result_url=spec["result"],
                              embedded_dir=Path(spec["embedded_dir"]), task_queue=spec["queue"])
    configure_app(celeryApp, settings)
    caller = TaskCaller(celeryApp, reactor.callFromThread, reactor)
    caller.start()
    out: dict[str, Any] = {}

    def call(*args: Any) -> Deferred[Any]:
        return caller.deferTask(TASK, args, {}, {})

    async def run() -> None:
        t0 = time.perf_counter()
        await call(0, 0)
        out["ready_s"] = time.perf_counter() - t0
        for i in range(10):
            await call(i, i)
        latencies = []
        for i in range(N_LATENCY):
            t = time.perf_counter()
            assert await call(i, 1) == i + 1
            latencies.append(time.perf_counter() - t)
        t0, cpu0 = time.perf_counter(), time.process_time()
        results = await gatherResults([call(i, i) for i in range(N_BATCH)])
        elapsed = time.perf_counter() - t0
        out["cpu_us_per_task"] = 1e6 * (time.process_time() - cpu0) / N_BATCH
        assert results == [2 * i for i in range(N_BATCH)]
        out.update(latency_ms=1e3 * statistics.median(latencies), tasks_per_s=N_BATCH / elapsed)

    def finished(result: Any) -> None:
        if not isinstance(result, type(None)):
            out["error"] = str(result)
        reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(run()).addBoth(finished))
    reactor.run()
    caller.stop()
    return out


def _raw_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure plain Celery: ``delay().get()`` (its own Redis result consumer)."""
    sys.path.insert(0, str(HERE))
    from worker_bench_raw_app import add

    t0 = time.perf_counter()
    add.delay(0, 0).get(timeout=60)
    out: dict[str, Any] = {"ready_s": time.perf_counter() - t0}
    for i in range(10):
        add.delay(i, i).get(timeout=30)
    latencies = []
    for i in range(N_LATENCY):
        t = time.perf_counter()
        assert add.delay(i, 1).get(timeout=30) == i + 1
        latencies.append(time.perf_counter() - t)
    t0, cpu0 = time.perf_counter(), time.process_time()
    pending = [add.delay(i, i) for i in range(N_BATCH)]
    assert [r.get(timeout=120) for r in pending] == [2 * i for i in range(N_BATCH)]
    elapsed = time.perf_counter() - t0
    out["cpu_us_per_task"] = 1e6 * (time.process_time() - cpu0) / N_BATCH
    out.update(latency_ms=1e3 * statistics.median(latencies), tasks_per_s=N_BATCH / elapsed)
    return out


# ------------------------------------------------------------------ orchestration

def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _measure(kind: str, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    bin_dir = Path(sys.executable).parent
    log = open(tmp / f"{kind}-worker.log", "ab")  # noqa: SIM115 - handed to the process
    if kind == "platform":
        home = tmp / f"worker-{uuid.uuid4().hex[:6]}"
        home.mkdir()
        (home / "config.json").write_text(json.dumps({
            "plugin": {"enabled": ["peek_plugin_tutorial"]},
            "logging": {"level": "WARNING"},
            "celery": {"brokerUrl": spec["broker"], "resultUrl": spec["result"],
                       "embeddedDir": spec["embedded_dir"], "taskQueue": spec["queue"],
                       "worker": {"pool": "prefork", "concurrency": 2}},
        }))
        cmd = [str(bin_dir / "run_peek_worker"), "--home", str(home)]
        env = dict(os.environ)
    else:
        cmd = [sys.executable, "-m", "celery", "-A", "worker_bench_raw_app", "worker",
               "--loglevel=WARNING", "--pool=prefork", "--concurrency=2",
               "--without-gossip", "--without-mingle",
               "-n", f"raw-bench-{uuid.uuid4().hex[:6]}@%h"]
        if spec["raw_events"]:
            # Task events on, as the platform's worker has them by default (Flower).
            cmd.append("--task-events")
        env = dict(os.environ, BENCH_BROKER=spec["broker"], BENCH_BACKEND=spec["result"],
                   BENCH_QUEUE=spec["queue"])
    worker = subprocess.Popen(cmd, cwd=HERE, env=env, stdout=log, stderr=log,
                              start_new_session=True)
    log.close()
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--spec", json.dumps(spec)],
            cwd=HERE, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            return {"error": lines[-1] if lines else f"exit {done.returncode}"}
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    finally:
        _stop(worker)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()


def bench_broker(broker: str, runs: int, tmp: Path, raw_events: bool) -> None:
    """Platform and raw Celery on one broker; prints their RESULT lines and the ratios."""
    queue = f"peek-bench-{uuid.uuid4().hex[:6]}"
    url = {"embedded": "embedded", "redis": REDIS_URL, "rabbitmq": AMQP_URL}[broker]
    result = "embedded" if broker == "embedded" else REDIS_URL
    spec = {"broker": url, "result": result, "queue": queue, "raw_events": raw_events,
            "embedded_dir": str(tmp / f"celery-{queue}")}
    kinds = ["platform"] if broker == "embedded" else ["platform", "raw"]
    measured: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    # Platform and raw runs alternate, so load from elsewhere on the machine hits both.
    for _ in range(runs):
        for kind in kinds:
            if broker != "embedded":
                _flush_redis()
            got = _measure(kind, spec, tmp)
            if "error" in got:
                print(f"RESULT worker {broker} {kind}: FAILED ({got['error']})", flush=True)
                return
            measured[kind].append(got)
    for kind in kinds:
        runs_ok = measured[kind]
        label = "platform (deferTask on the reactor)" if kind == "platform" else (
            f"raw Celery (delay().get(), task events {'on' if raw_events else 'off'})")
        print(f"RESULT worker {broker} {label} round trip: median "
              f"{_median(runs_ok, 'latency_ms'):.2f} ms of {N_LATENCY} sequential "
              f"[median of {len(runs_ok)} run(s)]", flush=True)
        print(f"RESULT worker {broker} {label} throughput: "
              f"{_median(runs_ok, 'tasks_per_s'):,.0f} tasks/s for a batch of {N_BATCH}, "
              f"caller CPU {_median(runs_ok, 'cpu_us_per_task'):.0f} us/task "
              f"[median of {len(runs_ok)} run(s)]", flush=True)
    if broker != "embedded":
        _flush_redis()
    if broker == "embedded":
        rate = _median(measured["platform"], "tasks_per_s")
        verdict = "meets" if rate >= TARGET_EMBEDDED else "MISSES"
        print(f"RESULT worker embedded throughput {rate:,.0f} tasks/s: {verdict} the target "
              f">= {TARGET_EMBEDDED:.0f} tasks/s", flush=True)
        return
    if "raw" not in measured:
        return
    p, r = measured["platform"], measured["raw"]
    rt_ratio = _median(p, "latency_ms") / _median(r, "latency_ms")
    tp_ratio = _median(r, "tasks_per_s") / _median(p, "tasks_per_s")
    for what, ratio in (("round-trip time", rt_ratio), ("batch time", tp_ratio)):
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        print(f"RESULT worker {broker} platform/raw {what} ratio {ratio:.2f}: {verdict} the "
              f"target <= {TARGET_RATIO}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--brokers", default="embedded,redis")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--raw-without-events", action="store_true",
                        help="run the raw baseline worker without task events (the "
                        "platform's worker always sends them)")
    parser.add_argument("--child", choices=["platform", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.spec)
        out = _platform_child(spec) if args.child == "platform" else _raw_child(spec)
        print(json.dumps(out))
        sys.exit(1 if "error" in out else 0)
    tmp = Path(tempfile.mkdtemp(prefix="peek-worker-bench-"))
    try:
        for broker in args.brokers.split(","):
            bench_broker(broker.strip(), args.runs, tmp, not args.raw_without_events)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Measuring helpers shared by our benchmarks and the VortexPY references.

Standard library and Twisted only: the same module is imported by the platform's venv and
by the VortexPY venv (/tmp/vpy-venv), so both sides measure in exactly the same way.
"""

import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure


def cpu_seconds() -> float:
    """User plus system CPU seconds of this process."""
    t = os.times()
    return t.user + t.system


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def drive_notifies(notify: Callable[[int, int], None], burst_updates: int,
                   paced_updates: int, pace_hz: float) -> None:
    """SIGUSR1 starts a burst (phase 1: ``burst_updates`` notifies back to back), SIGUSR2 a
    paced run (phase 2: ``paced_updates`` at ``pace_hz``); ``notify(phase, seq)`` sends one.
    The fan-out's provider processes (ours and the raw relay's) are driven the same way."""
    from twisted.internet import reactor

    def burst(seq: int = 1) -> None:
        notify(1, seq)
        if seq < burst_updates:
            reactor.callLater(0, burst, seq + 1)

    def paced(seq: int = 1) -> None:
        notify(2, seq)
        if seq < paced_updates:
            reactor.callLater(1.0 / pace_hz, paced, seq + 1)

    signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(burst))
    signal.signal(signal.SIGUSR2, lambda *_: reactor.callFromThread(paced))


def say(line: str) -> None:
    """One line to the orchestrator, flushed at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def small_tuple_fields(n: int) -> list[dict[str, Any]]:
    """Field values of ``n`` deterministic, not trivially compressible small tuples."""
    rnd = random.Random(42)
    return [
        dict(
            id=i,
            name=f"item-{i:06d}-{''.join(rnd.choice('abcdefghij') for _ in range(6))}",
            value=round(rnd.uniform(-1000.0, 1000.0), 4),
            active=bool(i % 2),
            count=0,
        )
        for i in range(n)
    ]


def median_seconds(fn: Callable[[], Any], min_seconds: float) -> float:
    """Median duration of ``fn`` over at least ``min_seconds`` (and at least 5 runs)."""
    samples = []
    start = time.perf_counter()
    while len(samples) < 5 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run_level(
    echo: Callable[[int, str], "Deferred[Any]"], level: int, calls: int, max_seconds: float
) -> "Deferred[dict[str, Any]]":
    """Keep ``level`` echo calls in flight until ``calls`` are done (or time is up).

    ``echo(seq, text)`` must return a Deferred firing with a list whose first item is
    ``seq``; anything else counts as an error. Fires with the level's measurements.
    """
    done: Deferred = Deferred()
    latencies: list[float] = []
    state: dict[str, Any] = {"issued": 0, "completed": 0, "errors": 0, "first_error": None}
    t0 = time.perf_counter()
    cpu0 = cpu_seconds()

    def issue() -> None:
        seq = state["issued"]
        state["issued"] += 1
        started = time.perf_counter()
        echo(seq, "bench").addCallbacks(
            finished, failed, callbackArgs=(started, seq), errbackArgs=(started,))

    def finished(result: list[Any], started: float, seq: int) -> None:
        if result[0] != seq:
            state["errors"] += 1
        next_call(started)

    def failed(failure: Failure, started: float) -> None:
        state["errors"] += 1
        state["first_error"] = state["first_error"] or failure.getErrorMessage()[:200]
        next_call(started)

    def next_call(started: float) -> None:
        now = time.perf_counter()
        latencies.append(now - started)
        state["completed"] += 1
        if state["issued"] < calls and now - t0 < max_seconds:
            issue()
        elif state["completed"] == state["issued"]:
            seconds = now - t0
            done.callback(dict(
                inflight=level, calls=state["completed"], seconds=seconds,
                per_s=state["completed"] / seconds,
                p50_ms=1e3 * percentile(latencies, 50), p99_ms=1e3 * percentile(latencies, 99),
                client_cpu_s=cpu_seconds() - cpu0, errors=state["errors"],
                first_error=state["first_error"],
            ))

    for _ in range(min(level, calls)):
        issue()
    return done

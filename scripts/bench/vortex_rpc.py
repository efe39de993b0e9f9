"""RPC benchmark: benchEcho round trips with 1, 10, 100 and 1000 calls in flight.

Usage: .venv/bin/python scripts/bench/vortex_rpc.py [--levels 1,10,100,1000] [--compare]

Two processes on 127.0.0.1 (bus_bench_procs.py): a ``peek-server`` serving the RPC over
the platform transport, and a ``peek-agent`` caller with the platform token keeping N
calls in flight. One ``RESULT`` line per level: calls/s, p50/p99 latency, CPU per call
on each side. ``--compare`` runs the same scenario with VortexPY 6.2.2 in its own venv
(vortexpy_bus_ref.py) and the raw autobahn echo (ws_echo_baseline.py, same frame size
and calls in flight) and adds our/their ratios, then ``TARGET`` lines for the issue's
targets. The last line is the throughput spread from 10 to 1000 in flight (target within
+-20%), next to raw autobahn's own spread.

The machine is shared, so each side runs ``--repeats`` times, interleaved (ours, VortexPY,
raw echo, ours, ...), and each level reports the run with the median calls/s.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Any, Optional

from bench_children import HERE, module_child, vortexpy_python

from peek_plugin_base.vortex import Payload
from peek_vortex.handlers._rpc import _RpcArgsTuple

TOKEN_ENV = "BUS_BENCH_TOKEN"


def run_levels(module: str, levels: str, calls: int, seconds: float,
               python: Optional[str] = None) -> dict[int, dict[str, Any]]:
    """Start a server and a caller of ``module``; the caller's RPC_LEVEL results by level."""
    env = {TOKEN_ENV: os.urandom(24).hex()}
    count = len(levels.split(","))
    limit = 30 + count * (seconds + 10)
    server = module_child(module, ["server", "--max-seconds", str(limit + 10)], python, env)
    try:
        port = server.read_tagged("READY", 30)
        client = module_child(
            module,
            ["rpc-client", "--port", port, "--levels", levels, "--calls", str(calls),
             "--level-seconds", str(seconds), "--max-seconds", str(limit)],
            python, env,
        )
        try:
            results = {}
            for _ in range(count):
                r = json.loads(client.read_tagged("RPC_LEVEL", limit))
                results[r["inflight"]] = r
        finally:
            client.stop()
    finally:
        server.stop()
    return results


def call_frame_bytes() -> int:
    """Size of one benchEcho call frame on our wire (header + body), for the echo baseline."""
    call = Payload(filt={"key": "vortex.rpc.bus_bench_procs.benchEcho"},
                   tuples=[_RpcArgsTuple(args=[1234, "bench"], kwargs={})])
    return len(call.toVortexMsg(messageId="0123456789ab.1234", destVortexName="peek-server"))


def echo_baseline(frame: int, inflight: int) -> dict[str, float]:
    """Raw autobahn round trips/s with this frame size (ws_echo_baseline.py)."""
    out = subprocess.run(
        [sys.executable, str(HERE / "ws_echo_baseline.py"), "--frame-bytes", str(frame),
         "--inflight", str(inflight), "--n", str(max(20000, 20 * inflight))],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    match = re.search(r"RESULT ws_echo_baseline .*?: (\d+) rt/s", out)
    if match is None:
        raise SystemExit(f"ws_echo_baseline printed no RESULT line:\n{out}")
    return {"per_s": float(match.group(1))}


def median_run(runs: list[dict[int, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Per level, the run with the median calls/s (its other numbers come with it)."""
    out = {}
    for level in runs[0]:
        ordered = sorted((run[level] for run in runs), key=lambda r: r["per_s"])
        out[level] = ordered[len(ordered) // 2]
    return out


def us_per_call(r: dict[str, Any], side: str) -> float:
    return 1e6 * r[f"{side}_cpu_s"] / r["calls"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,100,1000")
    parser.add_argument("--calls", type=int, default=20000, help="max calls per level")
    parser.add_argument("--seconds", type=float, default=3.0, help="max seconds per level")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (median)")
    parser.add_argument("--compare", action="store_true",
                        help="also run VortexPY 6.2.2 and the raw autobahn echo")
    args = parser.parse_args()

    frame = call_frame_bytes()
    vpy = vortexpy_python() if args.compare else None
    our_runs, their_runs, raw_runs = [], [], []
    for _ in range(args.repeats):
        our_runs.append(run_levels("bus_bench_procs", args.levels, args.calls, args.seconds))
        if vpy is not None:
            their_runs.append(run_levels("vortexpy_bus_ref", args.levels, args.calls,
                                         args.seconds, python=vpy))
            raw_runs.append({level: echo_baseline(frame, level) for level in our_runs[0]})
    ours = median_run(our_runs)
    theirs = median_run(their_runs) if their_runs else {}
    raws = median_run(raw_runs) if raw_runs else {}

    for level, r in sorted(ours.items()):
        line = (
            f"RESULT vortex_rpc inflight={level}: {r['per_s']:.0f} calls/s, "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms "
            f"(CPU/call client {us_per_call(r, 'client'):.0f} us, "
            f"server {us_per_call(r, 'server'):.0f} us; {r['calls']} calls, "
            f"{r['errors']} errors; median of {len(our_runs)})"
        )
        t = theirs.get(level)
        if t is not None:
            line += (
                f"; VortexPY {t['per_s']:.0f} calls/s, p50 {t['p50_ms']:.2f} ms, "
                f"p99 {t['p99_ms']:.2f} ms ({t['errors']} errors)"
                f"; ours/VortexPY x{r['per_s'] / t['per_s']:.1f}"
            )
        raw = raws.get(level)
        if raw is not None:
            pct = 100 * r["per_s"] / raw["per_s"]
            line += (f"; raw autobahn echo ({frame} B frames, {level} in flight) "
                     f"{raw['per_s']:.0f} rt/s; ours = {pct:.0f}% of raw")
        print(line, flush=True)

    if args.compare and 1 in ours and 1 in theirs and 1 in raws:
        x1 = ours[1]["per_s"] / theirs[1]["per_s"]
        pct = 100 * ours[1]["per_s"] / raws[1]["per_s"]
        print(f"TARGET rpc 1 in flight vs VortexPY x{x1:.1f} (>= 10): "
              f"{'met' if x1 >= 10 else 'MISSED'}; vs raw autobahn {pct:.0f}% (>= 70%): "
              f"{'met' if pct >= 70 else 'MISSED'}")
    if args.compare and 100 in ours and 100 in theirs:
        x100 = ours[100]["per_s"] / theirs[100]["per_s"]
        print(f"TARGET rpc 100 in flight vs VortexPY x{x100:.1f} (>= 20): "
              f"{'met' if x100 >= 20 else 'MISSED'}")
    span = [ours[n]["per_s"] for n in sorted(ours) if 10 <= n <= 1000]
    if len(span) >= 2:
        mean = sum(span) / len(span)
        spread = 100 * max(abs(v - mean) for v in span) / mean
        print(f"RESULT vortex_rpc spread 10..1000 in flight: "
              f"{' / '.join(f'{v:.0f}' for v in span)} calls/s, within +-{spread:.0f}% "
              f"of their mean, highest/lowest x{max(span) / min(span):.2f}"
              f"{raw_span(raws)} (target +-20%: {'met' if spread <= 20 else 'MISSED'})")


def raw_span(raws: dict[int, dict[str, Any]]) -> str:
    """The same spread for the raw autobahn echo, which batches the same way."""
    span = [raws[n]["per_s"] for n in sorted(raws) if 10 <= n <= 1000]
    if len(span) < 2:
        return ""
    return f"; raw autobahn over the same levels x{max(span) / min(span):.2f}"


if __name__ == "__main__":
    main()

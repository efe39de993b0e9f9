"""Observable fan-out benchmark: server -> one or two client services -> 1, 100, 1000 devices.

Usage: .venv/bin/python scripts/bench/vortex_fanout.py [--scenarios 1x1,1x100,...] [--compare]

Per scenario ``PxD`` (P client services, D devices), real processes on 127.0.0.1
(bus_bench_procs.py): a ``peek-server`` with a ``TupleDataObservableHandler``, P
``peek-client`` processes running ``TupleDataObservableProxyHandler`` (upstream with the
platform token, devices on their own ``/vortexws``), and one device process per client
service holding its share of the D device connections, each device with its own router
and ``TupleDataObserverClient``. Once every device has the initial data:

burst  the server notifies ``U`` times, one notify per reactor turn (U shrinks as D
       grows, so every run moves a similar number of deliveries); deliveries/s = updates
       received by all devices / time from the first notify until the last device has
       the final update. Every device must end on the final state.
paced  notifies at ``--pace-hz`` for ``--paced-seconds``, the rate capped so that all
       devices together get at most ``--paced-deliveries`` per second (all simulated
       devices share one process per client service, which must not be saturated or
       the latency measured is its queue); notify -> device latency p50/p99 over all
       deliveries (the clocks are the same machine's).

A scenario written ``PxD@HZ`` paces its paced phase at ``HZ`` notifies/s whatever
``--paced-deliveries`` says (``2x1000@20``: 20 000 deliveries/s to the device processes;
the target is p99 notify -> device < 50 ms).

One ``RESULT`` line per scenario. ``--compare`` runs VortexPY 6.2.2's comparable
scenario (vortexpy_bus_ref.py: one observer connected straight to the server, as the
reference measured it; VortexPY keeps one vortex client per process, so device counts
of 100 or 1000 have no VortexPY equivalent here) and adds the ratio to our 1x1 line.
It also runs, right before each of our scenarios, the raw autobahn relay of the same
topology (raw_relay_procs.py: server -> relay process per client service -> devices,
plain websocket frames forwarded as bytes, no bus), adds its numbers and our share of
its burst deliveries/s to the line, and prints ``TARGET`` lines for the 1000-device
scenarios (>= 50% of the raw relay; p99 < 50 ms at 20 Hz).
"""

import argparse
import json
import os
import signal
import time
from typing import Any, Optional

from bench_children import Child, module_child, vortexpy_python

TOKEN_ENV = "BUS_BENCH_TOKEN"
#: Deliveries a burst aims at: U = this / D, within [100, 10000] updates.
BURST_DELIVERIES = 200_000


def burst_updates(devices: int) -> int:
    return max(100, min(10_000, BURST_DELIVERIES // devices))


def paced_rate(args: argparse.Namespace, devices: int) -> tuple[float, int]:
    """(notifies per second, notify count) of the paced phase for ``devices`` devices."""
    hz = min(args.pace_hz, args.paced_deliveries / devices)
    return hz, max(10, round(hz * args.paced_seconds))


def collect(children: list[Child], tag: str, timeout: float) -> list[dict[str, Any]]:
    return [json.loads(c.read_tagged(tag, timeout)) for c in children]


def summarise(phase: list[dict[str, Any]], started: float) -> dict[str, Any]:
    deliveries = sum(p["deliveries"] for p in phase)
    last = max(p["last_at"] for p in phase)
    weights = [p["deliveries"] for p in phase]
    # Medians per device process, weighted by deliveries (processes hold equal shares).
    p50 = sum(p["p50_ms"] * w for p, w in zip(phase, weights, strict=False)) / deliveries
    p99 = max(p["p99_ms"] for p in phase)
    return dict(deliveries=deliveries, seconds=last - started,
                converged=sum(p["converged"] for p in phase),
                per_s=deliveries / max(1e-9, last - started), p50_ms=p50, p99_ms=p99,
                cpu_s=sum(p["cpu_s"] for p in phase))


def run_scenario(module: str, proxies: int, devices: int, pace_hz: float, paced: int,
                 python: Optional[str] = None) -> dict[str, Any]:
    """Run one scenario; returns the burst and paced summaries."""
    env = {TOKEN_ENV: os.urandom(24).hex()}
    updates = burst_updates(devices)
    limit = 120.0
    common = ["--burst-updates", str(updates), "--paced-updates", str(paced),
              "--pace-hz", str(pace_hz), "--max-seconds", str(limit)]
    children: list[Child] = []
    try:
        server = module_child(module, ["server", *common], python, env)
        children.append(server)
        server_port = server.read_tagged("READY", 30)
        if proxies == 0:
            device_ports = [server_port]  # VortexPY: observers straight on the server
            shares = [devices]
        else:
            proxy_children = [
                module_child(module, ["proxy", "--port", server_port, *common], python, env)
                for _ in range(proxies)
            ]
            children += proxy_children
            device_ports = [p.read_tagged("READY", 30) for p in proxy_children]
            shares = [devices // proxies + (1 if i < devices % proxies else 0)
                      for i in range(proxies)]
        device_children = []
        for port, share in zip(device_ports, shares, strict=False):
            if share:
                device_children.append(module_child(
                    module, ["devices", "--port", port, "--devices", str(share), *common],
                    python, env))
        children += device_children
        for c in device_children:
            c.read_tagged("SUBSCRIBED", 60)
        time.sleep(0.5)  # let the initial sends drain

        started = time.time()
        os.kill(server.pid, signal.SIGUSR1)
        burst = summarise(collect(device_children, "PHASE", limit), started)
        burst["updates"] = updates

        time.sleep(0.3)
        started = time.time()
        os.kill(server.pid, signal.SIGUSR2)
        pacing = summarise(collect(device_children, "PHASE", limit), started)
    finally:
        for c in reversed(children):
            c.stop()
    return {"burst": burst, "paced": pacing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="1x1,1x100,1x1000,2x100,2x1000,2x1000@20",
                        help="comma-separated PxD[@HZ]: client services x devices [paced Hz]")
    parser.add_argument("--pace-hz", type=float, default=25.0)
    parser.add_argument("--paced-seconds", type=float, default=2.0)
    parser.add_argument("--paced-deliveries", type=float, default=5000.0,
                        help="cap on deliveries/s to all devices in the paced phase")
    parser.add_argument("--compare", action="store_true",
                        help="also run VortexPY 6.2.2 and the raw autobahn relay")
    args = parser.parse_args()

    theirs = None
    targets: list[str] = []
    if args.compare:
        theirs = run_scenario("vortexpy_bus_ref", 0, 1, *paced_rate(args, 1),
                              python=vortexpy_python())
    for scenario in args.scenarios.split(","):
        shape, _, fixed_hz = scenario.partition("@")
        proxies, devices = (int(x) for x in shape.split("x"))
        if fixed_hz:
            hz = float(fixed_hz)
            paced = max(10, round(hz * args.paced_seconds))
        else:
            hz, paced = paced_rate(args, devices)
        raw = None
        if args.compare and proxies:
            raw = run_scenario("raw_relay_procs", proxies, devices, hz, paced)
        r = run_scenario("bus_bench_procs", proxies, devices, hz, paced)
        b, p = r["burst"], r["paced"]
        line = (
            f"RESULT vortex_fanout {proxies} client service(s) x {devices} device(s): "
            f"burst {b['per_s']:.0f} deliveries/s ({b['deliveries']} deliveries of "
            f"{b['updates']} notifies in {b['seconds']:.2f} s, {b['converged']}/{devices} "
            f"devices on the final state); paced {hz:g} Hz latency p50 {p['p50_ms']:.1f} ms, "
            f"p99 {p['p99_ms']:.1f} ms; device processes "
            f"{1e6 * b['cpu_s'] / b['deliveries']:.0f} us CPU/delivery"
        )
        if theirs is not None and devices == 1:
            tb, tp = theirs["burst"], theirs["paced"]
            line += (
                f"; VortexPY (1 observer direct on the server, no client service) burst "
                f"{tb['per_s']:.0f} deliveries/s ({tb['deliveries']} of {tb['updates']}, "
                f"{tb['converged']}/1 on the final state), "
                f"paced p50 {tp['p50_ms']:.1f} ms, p99 {tp['p99_ms']:.1f} ms"
                f"; ours/VortexPY burst x{b['per_s'] / tb['per_s']:.1f}, "
                f"paced p50 x{tp['p50_ms'] / p['p50_ms']:.1f} lower"
            )
        if raw is not None:
            rb, rp = raw["burst"], raw["paced"]
            share = b["per_s"] / rb["per_s"]
            line += (
                f"; raw autobahn relay burst {rb['per_s']:.0f} deliveries/s "
                f"({rb['converged']}/{devices} on the final state, device processes "
                f"{1e6 * rb['cpu_s'] / rb['deliveries']:.0f} us CPU/delivery), paced p50 "
                f"{rp['p50_ms']:.1f} ms, p99 {rp['p99_ms']:.1f} ms; ours/raw burst "
                f"{100 * share:.0f}%"
            )
            if devices >= 1000 and not fixed_hz:
                targets.append(
                    f"TARGET fanout {proxies} client service(s) x {devices} devices burst "
                    f"ours/raw relay {100 * share:.0f}% (>= 50%): "
                    + ("met" if share >= 0.5 else "MISSED"))
        if fixed_hz and devices >= 1000:
            targets.append(
                f"TARGET fanout {proxies} client service(s) x {devices} devices at {hz:g} Hz "
                f"p99 {p['p99_ms']:.1f} ms (< 50 ms): "
                + ("met" if p["p99_ms"] < 50 and p["converged"] == devices else "MISSED"))
        print(line, flush=True)
    for target in targets:
        print(target, flush=True)


if __name__ == "__main__":
    main()

"""The processes of the bus benchmarks: a server, an RPC caller, client-service proxies, devices.

Each role runs in its own OS process on 127.0.0.1 and wires the bus exactly as the
services do, minus plugin loading: the platform's transport (``VortexServer`` on a
twisted.web site at ``/vortexws``, ``VortexClientService`` with the hello and platform
token), ``VortexBridge`` and the process router, and the plugin-facing handlers
(``@vortexRPC``, ``TupleDataObservableHandler``, ``TupleDataObservableProxyHandler``,
``TupleDataObserverClient``).

Roles (``python -c "import bus_bench_procs as m; m.main()" <role> ...``, which
``bench_children.module_child`` spells; orchestrated by vortex_rpc.py and vortex_fanout.py):

``server``
    ``peek-server``: serves the ``benchEcho`` and ``benchStats`` RPCs and an observable
    whose provider returns one ``BenchRow`` (phase, seq, notify time). SIGUSR1 starts a
    burst of ``--burst-updates`` notifies (one per reactor turn), SIGUSR2 a paced run of
    ``--paced-updates`` at ``--pace-hz``. Prints ``READY <port>``.
``rpc-client``
    ``peek-agent`` (platform token): for each in-flight level, keeps that many
    ``benchEcho`` calls in flight; prints ``RPC_LEVEL {json}`` per level.
``proxy``
    ``peek-client``: connects upstream with the token, serves anonymous devices at
    ``/vortexws`` and runs ``TupleDataObservableProxyHandler``. Prints ``READY <port>``.
``devices``
    ``--devices`` device connections (``peek-mobile``), each with its own router, bridge
    and ``TupleDataObserverClient`` subscribed through the proxy. Prints ``SUBSCRIBED``,
    then ``PHASE {json}`` once every device has the final state of a phase (or when
    deliveries stop for ``--idle-seconds`` before that; ``converged`` counts the devices
    that got the final state).

Every process stops by itself after ``--max-seconds``. With ``BENCH_PROFILE=<dir>`` each
process runs under cProfile and writes ``<dir>/<role>-<pid>.prof`` when it ends. The
module is imported, never run as ``__main__``, so that the RPCs have the same name
(``bus_bench_procs.benchEcho``) in every process.
"""

import argparse
import json
import logging
import os
import sys
import time
from typing import Any, Optional

# The reactor the services run on (twisted.reactor): chosen before the first reactor import.
import bench_reactor  # noqa: F401, I001
from bench_common import cpu_seconds, drive_notifies, percentile, run_level, say
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import Site

from peek_plugin_base import PeekVortexUtil
from peek_plugin_base.vortex import (
    Payload,
    PayloadRouter,
    Tuple,
    TupleDataObservableHandler,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
    TupleField,
    TupleSelector,
    TuplesProviderABC,
    addTupleType,
    default_router,
    vortexRPC,
)
from peek_vortex.transport import (
    AccessPolicy,
    Backoff,
    VortexBridge,
    VortexClientService,
    VortexServer,
)

LOOPBACK = "127.0.0.1"
OBSERVABLE = "bench_observable"
SELECTOR = TupleSelector("bench.BenchRow", {"feed": 1})
TOKEN_ENV = "BUS_BENCH_TOKEN"


@addTupleType
class BenchRow(Tuple):
    """One observable update: which phase, its sequence number and when it was notified."""

    __tupleType__ = "bench.BenchRow"

    phase = TupleField()
    seq = TupleField()
    notifyAt = TupleField()


@vortexRPC(PeekVortexUtil.peekServerName, timeoutSeconds=60.0)
def benchEcho(seq: int, text: str) -> list[Any]:
    """The smallest useful RPC (as in the VortexPY reference): echo the arguments."""
    return [seq, text]


@vortexRPC(PeekVortexUtil.peekServerName, timeoutSeconds=60.0)
def benchStats() -> float:
    """CPU seconds the serving process has used so far."""
    return cpu_seconds()


_profiler: Optional[Any] = None


def hard_exit(code: int = 0) -> None:
    """Leave now: result lines are flushed, sockets close with the process."""
    dump_profile()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def listen_site(endpoint: VortexServer) -> int:
    """Mount the endpoint at /vortexws on a twisted.web site on an ephemeral port."""
    root = Resource()
    root.putChild(b"vortexws", endpoint.resource())
    site = Site(root)
    site.noisy = False
    # A thousand devices connect at once; the default backlog of 50 would drop SYNs.
    port = reactor.listenTCP(0, site, interface=LOOPBACK, backlog=2048)
    return port.getHost().port


def upstream(url: str, name: str, router: PayloadRouter, token: Optional[str]) -> Deferred:
    """Connect ``name`` to ``url`` through a bridge on ``router``; fires once connected."""
    service = VortexClientService(
        "vortex", url, name, token=lambda: token, handler=VortexBridge(router, name),
        backoff=Backoff(initial=0.05, maximum=0.5),
    )
    return service.startService()


# ---- server


class BenchProvider(TuplesProviderABC):
    """Returns the current (phase, seq, notify time) as one row, encoded once per run."""

    def __init__(self) -> None:
        self.phase = 0
        self.seq = 0
        self.notifyAt = time.time()

    def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        row = BenchRow(phase=self.phase, seq=self.seq, notifyAt=self.notifyAt)
        return Payload(filt, tuples=[row]).toVortexMsg()


def run_server(args: argparse.Namespace) -> None:
    token = os.environ[TOKEN_ENV]
    endpoint = VortexServer(
        PeekVortexUtil.peekServerName, AccessPolicy.for_server(lambda: token))
    endpoint.handler = VortexBridge(default_router(), PeekVortexUtil.peekServerName)
    benchEcho.start()
    benchStats.start()
    handler = TupleDataObservableHandler(OBSERVABLE)
    provider = BenchProvider()
    handler.addTupleProvider(BenchRow.tupleName(), provider)

    def notify(phase: int, seq: int) -> None:
        provider.phase, provider.seq, provider.notifyAt = phase, seq, time.time()
        handler.notifyOfTupleUpdate(SELECTOR)

    drive_notifies(notify, args.burst_updates, args.paced_updates, args.pace_hz)
    port = listen_site(endpoint)
    reactor.callWhenRunning(say, f"READY {port}")


# ---- RPC caller


async def rpc_levels(args: argparse.Namespace) -> None:
    url = f"ws://{LOOPBACK}:{args.port}/vortexws"
    await upstream(url, PeekVortexUtil.peekAgentName, default_router(), os.environ[TOKEN_ENV])
    for i in range(args.warmup):
        assert await benchEcho(i, "warmup") == [i, "warmup"]
    for level in (int(x) for x in args.levels.split(",")):
        server0 = await benchStats()
        calls = max(args.calls, 3 * level)
        result = await run_level(benchEcho, level, calls, args.level_seconds)
        server1 = await benchStats()
        result["server_cpu_s"] = server1 - server0
        say("RPC_LEVEL " + json.dumps(result))


def run_rpc_client(args: argparse.Namespace) -> None:
    def ok(_: Any) -> None:
        hard_exit(0)

    def fail(failure: Failure) -> None:
        say(f"RPC_FAILED {failure.getErrorMessage()}")
        hard_exit(2)

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(rpc_levels(args)).addCallbacks(ok, fail))


# ---- client service (proxy)


def run_proxy(args: argparse.Namespace) -> None:
    name = PeekVortexUtil.peekClientName
    router = default_router()
    bridge = VortexBridge(router, name)
    devices = VortexServer(
        name, AccessPolicy.for_devices(), handler=bridge.device_handler)
    TupleDataObservableProxyHandler(OBSERVABLE, PeekVortexUtil.peekServerName)
    url = f"ws://{LOOPBACK}:{args.port}/vortexws"
    service = VortexClientService(
        "vortex", url, name, token=lambda: os.environ[TOKEN_ENV], handler=bridge)

    def connected(_: Any) -> None:
        say(f"READY {listen_site(devices)}")

    reactor.callWhenRunning(lambda: service.startService().addCallback(connected))


# ---- devices


class DeviceStats:
    """What the devices of this process saw, per phase."""

    def __init__(self, devices: int, finals: dict[int, int]) -> None:
        self.devices = devices
        self.finals = finals
        self.subscribed = 0
        self.count = {1: 0, 2: 0}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = {1: 0, 2: 0}
        self.latencies: dict[int, list[float]] = {1: [], 2: []}
        self.cpu: dict[int, float] = {}
        self.reported: set[int] = set()

    def on_rows(self, device: dict[str, Any], rows: list[Any]) -> None:
        now = time.time()
        row = rows[0]
        phase = row.phase
        if not device["seen"]:
            device["seen"] = True
            self.subscribed += 1
            if self.subscribed == self.devices:
                say("SUBSCRIBED")
        if phase == 0:
            return
        if phase not in self.first:
            self.first[phase] = now
            self.cpu[phase] = cpu_seconds()
        self.count[phase] += 1
        self.last[phase] = now
        self.latencies[phase].append(now - row.notifyAt)
        if row.seq == self.finals[phase] and device["phase_done"] < phase:
            device["phase_done"] = phase
            self.done[phase] += 1
            if self.done[phase] == self.devices:
                self.report(phase)

    def report(self, phase: int) -> None:
        """The phase's numbers, once: when every device is final, or on the idle check."""
        if phase in self.reported:
            return
        self.reported.add(phase)
        lat = self.latencies[phase]
        say("PHASE " + json.dumps(dict(
            phase=phase, deliveries=self.count[phase], first_at=self.first[phase],
            last_at=self.last[phase], p50_ms=1e3 * percentile(lat, 50),
            p99_ms=1e3 * percentile(lat, 99), cpu_s=cpu_seconds() - self.cpu[phase],
            converged=self.done[phase],
        )))

    def idle_check(self, idle_seconds: float) -> None:
        """Report a phase whose deliveries stopped before every device got the final state."""
        for phase, last in list(self.last.items()):
            if phase not in self.reported and time.time() - last > idle_seconds:
                self.report(phase)
        reactor.callLater(0.25, self.idle_check, idle_seconds)


def run_devices(args: argparse.Namespace) -> None:
    stats = DeviceStats(args.devices, {1: args.burst_updates, 2: args.paced_updates})
    url = f"ws://{LOOPBACK}:{args.port}/vortexws"
    keep: list[Any] = []

    def connect(first: int) -> None:
        # Fifty connections per reactor turn: the proxy's accept queue stays short.
        for _ in range(first, min(first + 50, args.devices)):
            router = PayloadRouter()
            device = {"seen": False, "phase_done": 0}
            observer = TupleDataObserverClient(
                OBSERVABLE, PeekVortexUtil.peekClientName, router=router)
            observer.subscribeToTupleSelector(SELECTOR).subscribe(
                lambda rows, device=device: stats.on_rows(device, rows))
            keep.append(observer)
            upstream(url, PeekVortexUtil.peekMobileName, router, None)
        if first + 50 < args.devices:
            reactor.callLater(0.01, connect, first + 50)

    reactor.callWhenRunning(connect, 0)
    reactor.callWhenRunning(stats.idle_check, args.idle_seconds)


ROLES = {
    "server": run_server,
    "rpc-client": run_rpc_client,
    "proxy": run_proxy,
    "devices": run_devices,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--port", type=int, default=0, help="the port to connect to")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--levels", default="1,10,100,1000")
    parser.add_argument("--calls", type=int, default=3000, help="calls per level (min)")
    parser.add_argument("--level-seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--burst-updates", type=int, default=1000)
    parser.add_argument("--paced-updates", type=int, default=50)
    parser.add_argument("--pace-hz", type=float, default=25.0)
    parser.add_argument("--idle-seconds", type=float, default=3.0,
                        help="a phase without the final update ends after this idle time")
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("BENCH_LOG_LEVEL", "ERROR").upper(),
                        stream=sys.stderr)
    reactor.callLater(args.max_seconds, lambda: (say("TIMEOUT"), hard_exit(3)))
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        global _profiler
        _profiler = cProfile.Profile()
        _profiler.enable()
    ROLES[args.role](args)
    reactor.run()
    dump_profile()


def dump_profile() -> None:
    """Write the cProfile stats (BENCH_PROFILE=<dir>) once, as <dir>/<role>-<pid>.prof."""
    global _profiler
    if _profiler is not None:
        profiler, _profiler = _profiler, None
        profiler.disable()
        role = sys.argv[1] if len(sys.argv) > 1 else "proc"
        profiler.dump_stats(os.path.join(os.environ["BENCH_PROFILE"], f"{role}-{os.getpid()}.prof"))

"""VortexPY 6.2.2 side of vortex_rpc.py / vortex_fanout.py --compare: the same scenarios.

Runs under the interpreter of the venv made by setup_vortexpy_venv.sh and only imports
the installed ``vortexpy`` package (no VortexPY code lives here). Same roles, arguments
and output lines as bus_bench_procs.py, built the way a Peek service uses VortexPY (an
HTTP site whose channel upgrades to the websocket at /vortexws):

``server``      ``bench-server``: benchEcho / benchStats RPCs, an observable whose provider
                encodes in the thread pool (VortexPY refuses to encode a payload on the
                reactor thread, so this is how its providers are written); SIGUSR1
                burst, SIGUSR2 paced (as ours).
``rpc-client``  ``RPC_LEVEL {json}`` per in-flight level (same windowed loop as ours).
``devices``     ONE ``TupleDataObserverClient`` per process (VortexPY keeps one vortex
                client per process), subscribed straight to the server.

Imported as a module (``python -c "import vortexpy_bus_ref as m; m.main()" <role>``):
VortexPY names RPCs after their module, which must be the same in every process.
"""

import argparse
import json
import logging
import os
import signal
import sys
import time

from bench_common import cpu_seconds, percentile, run_level, say
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.web import server as twserver
from twisted.web.resource import Resource
from txwebsocket.txws import WebSocketUpgradeHTTPChannel
from vortex.DeferUtil import deferToThreadWrapWithLogger
from vortex.handler.TupleDataObservableHandler import TupleDataObservableHandler
from vortex.handler.TupleDataObserverClient import TupleDataObserverClient
from vortex.handler.TupleDataProviderABC import TupleDataProviderABC
from vortex.Payload import Payload
from vortex.rpc.RPC import vortexRPC
from vortex.Tuple import Tuple, TupleField, addTupleType
from vortex.TupleSelector import TupleSelector
from vortex.VortexFactory import VortexFactory

LOOPBACK = "127.0.0.1"
SERVER_NAME = "bench-server"
OBSERVABLE = "bench_observable"


@addTupleType
class BenchRow(Tuple):
    """One observable update: phase, sequence number, notify time (as ours)."""

    __tupleType__ = "bench.BenchRow"

    phase = TupleField()
    seq = TupleField()
    notifyAt = TupleField()


def selector():
    return TupleSelector(BenchRow.tupleType(), {"feed": 1})


# requiredPermissions=frozenset(): "no permission needed" (VortexPY warns when omitted).
@vortexRPC(SERVER_NAME, timeoutSeconds=60.0, requiredPermissions=frozenset())
def benchEcho(seq, text):
    """Echo the arguments."""
    return [seq, text]


@vortexRPC(SERVER_NAME, timeoutSeconds=60.0, requiredPermissions=frozenset())
def benchStats():
    """CPU seconds the serving process has used."""
    return cpu_seconds()


def hard_exit(code=0):
    # VortexPY's Jsonable.__del__ prints noise during interpreter teardown: skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class BenchProvider(TupleDataProviderABC):
    """One row with the current phase, seq and time (read on the reactor, encoded in a thread)."""

    requiredPermissions = frozenset()

    def __init__(self):
        self.phase, self.seq, self.notifyAt = 0, 0, time.time()

    def makeVortexMsg(self, filt, tupleSelector):
        row = BenchRow(phase=self.phase, seq=self.seq, notifyAt=self.notifyAt)
        return encode_in_thread(filt, row)


@deferToThreadWrapWithLogger(logging.getLogger(__name__))
def encode_in_thread(filt, row):
    return Payload(filt, tuples=[row]).makePayloadEnvelopeVortexMsg()


def run_server(args):
    root = Resource()
    VortexFactory.createHttpWebsocketServer(SERVER_NAME, root)
    site = twserver.Site(root)
    site.protocol = WebSocketUpgradeHTTPChannel
    port = reactor.listenTCP(0, site, interface=LOOPBACK, backlog=1024)
    benchEcho.start()
    benchStats.start()
    handler = TupleDataObservableHandler(OBSERVABLE)
    provider = BenchProvider()
    handler.addTupleProvider(BenchRow.tupleType(), provider)

    def notify(phase, seq):
        provider.phase, provider.seq, provider.notifyAt = phase, seq, time.time()
        handler.notifyOfTupleUpdate(selector())

    def burst(seq=1):
        notify(1, seq)
        if seq < args.burst_updates:
            reactor.callLater(0, burst, seq + 1)

    def paced(seq=1):
        notify(2, seq)
        if seq < args.paced_updates:
            reactor.callLater(1.0 / args.pace_hz, paced, seq + 1)

    signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(burst))
    signal.signal(signal.SIGUSR2, lambda *_: reactor.callFromThread(paced))
    reactor.callWhenRunning(say, f"READY {port.getHost().port}")


@inlineCallbacks
def rpc_levels(args):
    url = f"ws://{LOOPBACK}:{args.port}/vortexws"
    yield VortexFactory.createWebsocketClient("bench-rpc-client", LOOPBACK, args.port, url=url)
    for i in range(args.warmup):
        result = yield benchEcho(i, "warmup")
        assert result == [i, "warmup"], result
    for level in (int(x) for x in args.levels.split(",")):
        server0 = yield benchStats()
        result = yield run_level(benchEcho, level, max(args.calls, 3 * level), args.level_seconds)
        server1 = yield benchStats()
        result["server_cpu_s"] = server1 - server0
        say("RPC_LEVEL " + json.dumps(result))


def run_rpc_client(args):
    def fail(failure):
        say(f"RPC_FAILED {failure.getErrorMessage()}")
        hard_exit(2)

    reactor.callWhenRunning(
        lambda: rpc_levels(args).addCallbacks(lambda _: hard_exit(0), fail))


def run_devices(args):
    finals = {1: args.burst_updates, 2: args.paced_updates}
    st = {"seen": False, "count": {1: 0, 2: 0}, "first": {}, "last": {}, "lat": {1: [], 2: []},
          "cpu": {}, "done": set(), "last_seq": None}

    def on_rows(rows):
        now = time.time()
        row = rows[0]
        if not st["seen"]:
            st["seen"] = True
            say("SUBSCRIBED")
        phase = row.phase
        if phase == 0:
            return
        if phase not in st["first"]:
            st["first"][phase] = now
            st["cpu"][phase] = cpu_seconds()
        st["count"][phase] += 1
        st["last"][phase] = now
        st["lat"][phase].append(now - row.notifyAt)
        st["last_seq"] = row.seq
        if row.seq == finals[phase]:
            report(phase, True)

    def report(phase, converged):
        if phase in st["done"]:
            return
        st["done"].add(phase)
        lat = st["lat"][phase]
        say("PHASE " + json.dumps(dict(
            phase=phase, deliveries=st["count"][phase], first_at=st["first"][phase],
            last_at=st["last"][phase], p50_ms=1e3 * percentile(lat, 50),
            p99_ms=1e3 * percentile(lat, 99), cpu_s=cpu_seconds() - st["cpu"][phase],
            converged=int(converged), last_seq=st["last_seq"],
        )))

    def idle_check():
        # A subscriber left on a stale state never sees the final update: report it.
        for phase, last in list(st["last"].items()):
            if phase not in st["done"] and time.time() - last > args.idle_seconds:
                report(phase, False)
        reactor.callLater(0.25, idle_check)

    @inlineCallbacks
    def start():
        url = f"ws://{LOOPBACK}:{args.port}/vortexws"
        yield VortexFactory.createWebsocketClient("bench-obs-client", LOOPBACK, args.port,
                                                  url=url)
        observer = TupleDataObserverClient(destVortexName=SERVER_NAME, observableName=OBSERVABLE)
        st["observer"] = observer  # VortexPY's endpoints hold only weak references
        observer.subscribeToTupleSelector(selector()).subscribe(on_next=on_rows)
        reactor.callLater(0.25, idle_check)

    reactor.callWhenRunning(start)


ROLES = {"server": run_server, "rpc-client": run_rpc_client, "devices": run_devices}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--levels", default="1,10,100,1000")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--level-seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--burst-updates", type=int, default=1000)
    parser.add_argument("--paced-updates", type=int, default=50)
    parser.add_argument("--pace-hz", type=float, default=25.0)
    parser.add_argument("--idle-seconds", type=float, default=3.0,
                        help="a phase without the final update ends after this idle time")
    args = parser.parse_args()
    if args.role == "devices" and args.devices != 1:
        parser.error("VortexPY keeps one vortex client per process: use --devices 1")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    reactor.callLater(args.max_seconds, lambda: (say("TIMEOUT"), hard_exit(3)))
    ROLES[args.role](args)
    reactor.run()

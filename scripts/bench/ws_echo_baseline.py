"""Raw autobahn websocket echo on this machine: the ceiling for one bus round trip.

Usage: .venv/bin/python scripts/bench/ws_echo_baseline.py [--frame-bytes 200] [--inflight 1]

Two processes on 127.0.0.1, autobahn|Twisted with binary frames of ``--frame-bytes``
and nothing else (no hello, no routing, no codec), as in the limits anchor's bench_ws.py:
the client keeps ``--inflight`` messages outstanding, the server echoes each one. One
line: round trips/s, p50/p99 latency and CPU per round trip on each side.
"""

import argparse
import json
import os
import sys
import time
from typing import Any

from bench_children import Child

LOOPBACK = "127.0.0.1"


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def serve(max_seconds: float) -> None:
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet import reactor

    class Echo(WebSocketServerProtocol):
        def onOpen(self) -> None:
            self.transport.setTcpNoDelay(True)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            if payload == b"cpu?":
                self.sendMessage(json.dumps(cpu_seconds()).encode(), isBinary=True)
                return
            self.sendMessage(payload, isBinary)

    factory = WebSocketServerFactory(f"ws://{LOOPBACK}")
    factory.protocol = Echo
    port = reactor.listenTCP(0, factory, interface=LOOPBACK)
    print("READY", port.getHost().port, flush=True)
    reactor.callLater(max_seconds, reactor.stop)
    reactor.run()


def client(port: int, frame: int, inflight: int, n: int, warmup: int, max_seconds: float) -> None:
    from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
    from twisted.internet import reactor

    payload = b"x" * frame
    result: dict[str, Any] = {}

    class Caller(WebSocketClientProtocol):
        def onOpen(self) -> None:
            self.transport.setTcpNoDelay(True)
            self.sent = self.received = 0
            self.started: list[float] = []
            self.latencies: list[float] = []
            self.server_cpu: list[float] = []
            for _ in range(min(inflight, warmup)):
                self.send()

        def send(self) -> None:
            if self.sent < warmup + n:
                self.sent += 1
                self.started.append(time.perf_counter())
                self.sendMessage(payload, isBinary=True)

        def onMessage(self, data: bytes, isBinary: bool) -> None:
            if len(data) != frame:  # the server's CPU reading
                self.server_cpu.append(json.loads(data))
                if len(self.server_cpu) == 1:
                    self.t0, self.cpu0 = time.perf_counter(), cpu_seconds()
                    for _ in range(inflight):
                        self.send()
                else:
                    seconds = time.perf_counter() - self.t0
                    result.update(
                        per_s=n / seconds, cpu_client_us=1e6 * (cpu_seconds() - self.cpu0) / n,
                        cpu_server_us=1e6 * (self.server_cpu[1] - self.server_cpu[0]) / n,
                        p50_ms=1e3 * sorted(self.latencies)[len(self.latencies) // 2],
                        p99_ms=1e3 * sorted(self.latencies)[int(len(self.latencies) * 0.99)],
                    )
                    reactor.stop()
                return
            now = time.perf_counter()
            self.received += 1
            start = self.started[self.received - 1]
            if self.received > warmup:
                self.latencies.append(now - start)
            if self.received == warmup or self.received == warmup + n:
                # Between warm-up and measurement the pipe drains; the CPU probe goes alone.
                self.sendMessage(b"cpu?", isBinary=True)
            elif self.received < warmup:
                if self.sent < warmup:  # the warm-up drains fully before the probe
                    self.send()
            elif self.received > warmup and self.sent < warmup + n:
                self.send()

    factory = WebSocketClientFactory(f"ws://{LOOPBACK}:{port}")
    factory.protocol = Caller
    reactor.connectTCP(LOOPBACK, port, factory)
    reactor.callLater(max_seconds, reactor.stop)
    reactor.run()
    print("ECHO", json.dumps(result or {"error": "timeout"}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="driver", choices=["driver", "serve", "client"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--frame-bytes", type=int, default=200)
    parser.add_argument("--inflight", type=int, default=1)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.role == "serve":
        serve(args.max_seconds)
        return
    if args.role == "client":
        # The CPU probe rides on the end of the warm-up: at least one warm-up round trip.
        client(args.port, args.frame_bytes, args.inflight, args.n, max(1, args.warmup),
               args.max_seconds)
        return
    server = Child(["ws_echo_baseline.py", "serve", "--max-seconds", "90"])
    try:
        port = server.read_tagged("READY", 30)
        caller = Child(["ws_echo_baseline.py", "client", "--port", port,
                        "--frame-bytes", str(args.frame_bytes), "--inflight", str(args.inflight),
                        "--n", str(args.n), "--warmup", str(args.warmup), "--max-seconds", "80"])
        try:
            r = json.loads(caller.read_tagged("ECHO", 85))
        finally:
            caller.stop()
    finally:
        server.stop()
    if "per_s" not in r:
        sys.exit(f"ws_echo_baseline: the client failed: {r}")
    print(f"RESULT ws_echo_baseline frame={args.frame_bytes}B inflight={args.inflight}: "
          f"{r['per_s']:.0f} rt/s, p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms "
          f"(CPU/rt client {r['cpu_client_us']:.0f} us, server {r['cpu_server_us']:.0f} us)",
          flush=True)


if __name__ == "__main__":
    main()

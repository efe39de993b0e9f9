"""The raw autobahn relay of the fan-out benchmark: the same topology with no bus at all.

Roles, with the same command line and stdout protocol as bus_bench_procs.py (so
vortex_fanout.py runs both the same way, in the same run):

``server``
    A plain autobahn|Twisted websocket server. Each notify sends one small JSON frame
    ``[phase, seq, notify time]`` to every connected relay; a relay connecting gets the
    current frame first. SIGUSR1 starts a burst (one notify per reactor turn), SIGUSR2
    a paced run. Prints ``READY <port>``.
``proxy``
    The relay: one websocket client connection to the server and a websocket server for
    devices; each frame from the server is kept as the latest and its bytes are sent as
    they are to every device connection (a device connecting gets the latest first).
    No hello, no header, no codec. Prints ``READY <port>``.
``devices``
    ``--devices`` websocket client connections; each frame is parsed (``json.loads``) and
    counted exactly as bus_bench_procs.py's devices count theirs (``DeviceStats``).

Websocket options as the bus transport's: no compression offers, TCP_NODELAY.
"""

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
    connectWS,
)
from bench_common import drive_notifies, say
from bus_bench_procs import DeviceStats, hard_exit
from twisted.internet import reactor

LOOPBACK = "127.0.0.1"


class Row:
    """What DeviceStats reads of one delivery."""

    __slots__ = ("phase", "seq", "notifyAt")

    def __init__(self, phase: int, seq: int, notifyAt: float) -> None:
        self.phase, self.seq, self.notifyAt = phase, seq, notifyAt


class Hub:
    """Open connections of one server role and the latest frame sent to them."""

    def __init__(self) -> None:
        self.peers: list[Any] = []
        self.latest: bytes = b""

    def send_all(self, data: bytes) -> None:
        self.latest = data
        for peer in self.peers:
            peer.sendMessage(data, isBinary=True)


def serve(hub: Hub) -> int:
    class Side(WebSocketServerProtocol):
        def onOpen(self) -> None:
            self.transport.setTcpNoDelay(True)
            hub.peers.append(self)
            if hub.latest:
                self.sendMessage(hub.latest, isBinary=True)

        def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
            if self in hub.peers:
                hub.peers.remove(self)

    factory = WebSocketServerFactory(f"ws://{LOOPBACK}")
    factory.protocol = Side
    factory.setProtocolOptions(perMessageCompressionAccept=lambda offers: None)
    port = reactor.listenTCP(0, factory, interface=LOOPBACK, backlog=2048)
    return port.getHost().port


def connect(port: str, on_message: Any) -> None:
    class Side(WebSocketClientProtocol):
        def onOpen(self) -> None:
            self.transport.setTcpNoDelay(True)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            on_message(payload)

    factory = WebSocketClientFactory(f"ws://{LOOPBACK}:{port}")
    factory.protocol = Side
    factory.setProtocolOptions(perMessageCompressionOffers=[])
    connectWS(factory)


def run_server(args: argparse.Namespace) -> None:
    hub = Hub()
    hub.latest = json.dumps([0, 0, time.time()]).encode()

    def notify(phase: int, seq: int) -> None:
        hub.send_all(json.dumps([phase, seq, time.time()]).encode())

    drive_notifies(notify, args.burst_updates, args.paced_updates, args.pace_hz)
    port = serve(hub)
    reactor.callWhenRunning(say, f"READY {port}")


def run_proxy(args: argparse.Namespace) -> None:
    devices = Hub()
    connect(str(args.port), devices.send_all)
    port = serve(devices)
    reactor.callWhenRunning(say, f"READY {port}")


def run_devices(args: argparse.Namespace) -> None:
    stats = DeviceStats(args.devices, {1: args.burst_updates, 2: args.paced_updates})

    def connect_some(first: int) -> None:
        for _ in range(first, min(first + 50, args.devices)):
            device = {"seen": False, "phase_done": 0}
            connect(str(args.port), lambda data, device=device: stats.on_rows(
                device, [Row(*json.loads(data))]))
        if first + 50 < args.devices:
            reactor.callLater(0.01, connect_some, first + 50)

    reactor.callWhenRunning(connect_some, 0)
    reactor.callWhenRunning(stats.idle_check, args.idle_seconds)


ROLES = {"server": run_server, "proxy": run_proxy, "devices": run_devices}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--port", type=int, default=0, help="the port to connect to")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--burst-updates", type=int, default=1000)
    parser.add_argument("--paced-updates", type=int, default=50)
    parser.add_argument("--pace-hz", type=float, default=25.0)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    reactor.callLater(args.max_seconds, lambda: (say("TIMEOUT"), hard_exit(3)))
    ROLES[args.role](args)
    reactor.run()
    os._exit(0)

"""Samples the kernel's interface counters (``/proc/net/dev``) and turns them into rates.

Stdlib only: the counters come from ``/proc/net/dev`` and the IPv4 addresses from the
``SIOCGIFADDR`` / ``SIOCGIFNETMASK`` ioctls, so the plugin needs nothing installed (Linux).
"""

import fcntl
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

PROC_NET_DEV = Path("/proc/net/dev")
_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B


@dataclass
class Counters:
    """One interface's cumulative byte and packet counters at one moment."""

    rx_bytes: int
    rx_packets: int
    tx_bytes: int
    tx_packets: int


def read_counters(path: Path = PROC_NET_DEV) -> dict[str, Counters]:
    """Every interface's counters, by name."""
    found: dict[str, Counters] = {}
    for line in path.read_text().splitlines()[2:]:  # two header lines
        name, _, numbers = line.partition(":")
        fields = numbers.split()
        if len(fields) < 10:
            continue
        found[name.strip()] = Counters(int(fields[0]), int(fields[1]), int(fields[8]),
                                       int(fields[9]))
    return found


def ipv4_address(name: str) -> Optional[str]:
    """``address/prefix`` of the interface's IPv4 address, or None when it has none."""
    request = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            address = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, request)[20:24]
            netmask = fcntl.ioctl(s.fileno(), _SIOCGIFNETMASK, request)[20:24]
        except OSError:
            return None
    prefix = bin(int.from_bytes(netmask, "big")).count("1")
    return f"{socket.inet_ntoa(address)}/{prefix}"


@dataclass
class InterfaceRates:
    """What the sampler knows about one interface."""

    counters: Counters
    #: Bytes per second over the last interval; None until two samples were taken.
    rx_bytes_per_second: Optional[float] = None
    tx_bytes_per_second: Optional[float] = None


@dataclass
class NetSampler:
    """Keeps the latest counters and per-second rates of every interface.

    Call :meth:`sample` periodically (the plugin does so with a LoopingCall); the rate is the
    counter difference over the time between the last two samples. A counter that went
    down (interface reset, wrap) gives no rate for that interval instead of a negative one.
    """

    read: Callable[[], dict[str, Counters]] = read_counters
    clock: Callable[[], float] = time.monotonic
    interfaces: dict[str, InterfaceRates] = field(default_factory=dict)
    samples: int = 0
    _last_time: Optional[float] = None

    def sample(self) -> None:
        """Read the counters once and update the rates."""
        now = self.clock()
        fresh = self.read()
        elapsed = None if self._last_time is None else now - self._last_time
        updated: dict[str, InterfaceRates] = {}
        for name, counters in fresh.items():
            rates = InterfaceRates(counters)
            previous = self.interfaces.get(name)
            if previous is not None and elapsed and elapsed > 0:
                rx = counters.rx_bytes - previous.counters.rx_bytes
                tx = counters.tx_bytes - previous.counters.tx_bytes
                if rx >= 0 and tx >= 0:
                    rates.rx_bytes_per_second = round(rx / elapsed, 1)
                    rates.tx_bytes_per_second = round(tx / elapsed, 1)
            updated[name] = rates
        self.interfaces = updated
        self._last_time = now
        self.samples += 1

    def describe(self, name: str) -> dict[str, Any]:
        """One interface as JSON-ready data."""
        rates = self.interfaces[name]
        return {
            "name": name,
            "address": ipv4_address(name),
            "rxBytes": rates.counters.rx_bytes,
            "txBytes": rates.counters.tx_bytes,
            "rxPackets": rates.counters.rx_packets,
            "txPackets": rates.counters.tx_packets,
            "rxBytesPerSecond": rates.rx_bytes_per_second,
            "txBytesPerSecond": rates.tx_bytes_per_second,
        }

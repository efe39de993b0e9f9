"""The sysinfo plugin's sampler: counters parsed from /proc/net/dev text, rates from two
samples on an injected clock, and no negative rate when a counter goes back."""

from pathlib import Path

import pytest
from peek_plugin_sysinfo._private.sampler import Counters, NetSampler, read_counters
from peek_plugin_sysinfo._private.ServerEntryHook import interval_from

# /proc/net/dev's layout: two header lines, then "name: 8 receive and 8 transmit columns".
PROC_TEXT = "\n".join([
    "Inter-|   Receive |  Transmit",
    " face |bytes packets errs drop fifo frame compressed multicast|bytes packets ...",
    "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0",
    "  eth0: 5000000 4000 0 0 0 0 0 0 200000 1500 0 0 0 0 0 0",
]) + "\n"


def test_reads_counters_per_interface(tmp_path: Path) -> None:
    """Each interface's received and sent bytes and packets come from their columns."""
    path = tmp_path / "dev"
    path.write_text(PROC_TEXT)
    assert read_counters(path) == {
        "lo": Counters(1000, 10, 1000, 10),
        "eth0": Counters(5000000, 4000, 200000, 1500),
    }


def test_rates_come_from_two_samples_and_never_go_negative() -> None:
    """No rate after one sample; bytes per second over the interval after two; a counter
    that went down (reset) gives no rate for that interval instead of a negative one."""
    readings = iter([
        {"eth0": Counters(1000, 1, 500, 1)},
        {"eth0": Counters(3000, 2, 1500, 2)},
        {"eth0": Counters(100, 3, 1600, 3)},
    ])
    now = iter([10.0, 12.0, 14.0])
    sampler = NetSampler(read=lambda: next(readings), clock=lambda: next(now))
    sampler.sample()
    assert sampler.interfaces["eth0"].rx_bytes_per_second is None
    sampler.sample()
    rates = sampler.interfaces["eth0"]
    assert (rates.rx_bytes_per_second, rates.tx_bytes_per_second) == (1000.0, 500.0)
    sampler.sample()
    assert sampler.interfaces["eth0"].rx_bytes_per_second is None
    assert sampler.samples == 3


@pytest.mark.parametrize("params,text", [
    ({"intervalSeconds": 0}, "intervalSeconds must be a number of seconds from 0.1"),
    ({"intervalSeconds": True}, "got True"),
    ({"interval": 1}, "unknown key(s) interval"),
])
def test_bad_parameters_name_the_key(params: dict, text: str) -> None:
    """Parameters the plugin cannot use are refused with the key named."""
    with pytest.raises(ValueError) as raised:
        interval_from(params)
    assert text in str(raised.value)
    assert interval_from({}) == 2.5 and interval_from({"intervalSeconds": 1}) == 1.0

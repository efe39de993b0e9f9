"""Codec benchmark: encode+decode of one payload of N small tuples; prints one result line.

Usage: .venv/bin/python scripts/bench/vortex_codec.py [--tuples 1000] [--seconds 2] [--compare]

Measures ``Payload(filt, tuples).toVortexMsg()`` (encode) and
``Payload.fromVortexMsg(msg)`` (decode, header and tuples) on the same tuple shape as the
VortexPY anchor benchmark (int, 18-char str, float, bool, int). ``--compare`` also runs
the VortexPY 6.2.2 reference (scripts/bench/vortexpy_codec_ref.py) in its own venv,
creating it with setup_vortexpy_venv.sh when missing, and prints our/their ratios.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from bench_common import median_seconds, small_tuple_fields

from peek_plugin_base.vortex import Payload, Tuple, TupleField, addTupleType

HERE = Path(__file__).resolve().parent


@addTupleType
class BenchSmallTuple(Tuple):
    """Five primitive fields: a typical row."""

    __tupleType__ = "bench.BenchSmallTuple"

    id = TupleField()
    name = TupleField()
    value = TupleField()
    active = TupleField()
    count = TupleField()


def make_tuples(n: int) -> list:
    """Deterministic, not trivially compressible tuples (the same on both sides)."""
    return [BenchSmallTuple(**fields) for fields in small_tuple_fields(n)]


def measure(n: int, seconds: float) -> dict[str, float]:
    """Our encode, decode and round-trip rates in tuples/s, and wire bytes per tuple."""
    tuples = make_tuples(n)
    filt = {"key": "bench.codec", "plugin": "bench"}

    def encode() -> bytes:
        return Payload(filt=dict(filt), tuples=tuples).toVortexMsg()

    msg = encode()

    def decode() -> Payload:
        return Payload.fromVortexMsg(msg)

    back = decode().tuples
    assert back == tuples, "round trip changed the tuples"

    def round_trip() -> Payload:
        return Payload.fromVortexMsg(encode())

    enc = median_seconds(encode, seconds)
    dec = median_seconds(decode, seconds)
    rt = median_seconds(round_trip, seconds)
    return {"encode": n / enc, "decode": n / dec, "roundtrip": n / rt, "bytes": len(msg) / n}


def run_reference(n: int, seconds: float) -> dict[str, float]:
    """Run the VortexPY reference in its venv and parse its RESULT line."""
    venv = Path(os.environ.get("VPY_VENV", "/tmp/vpy-venv"))
    subprocess.run(
        [str(HERE / "setup_vortexpy_venv.sh")], check=True, stdout=subprocess.DEVNULL,
        env={**os.environ, "VPY_VENV": str(venv)},
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), str(HERE / "vortexpy_codec_ref.py"),
         "--tuples", str(n), "--seconds", str(seconds)],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    match = re.search(
        r"RESULT vortexpy N=\d+ encode=(\S+) decode=(\S+) roundtrip=(\S+) bytes=(\S+)", out
    )
    if match is None:
        raise SystemExit(f"VortexPY reference printed no RESULT line:\n{out}")
    enc, dec, rt, size = (float(x) for x in match.groups())
    return {"encode": enc, "decode": dec, "roundtrip": rt, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuples", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0, help="min seconds per measure")
    parser.add_argument("--compare", action="store_true", help="also run VortexPY 6.2.2")
    args = parser.parse_args()

    ours = measure(args.tuples, args.seconds)
    line = (
        f"RESULT vortex_codec N={args.tuples}: round-trip {ours['roundtrip']:.0f} tuples/s "
        f"(encode {ours['encode']:.0f}/s, decode {ours['decode']:.0f}/s), "
        f"{ours['bytes']:.1f} B/tuple"
    )
    if args.compare:
        ref = run_reference(args.tuples, args.seconds)
        line += (
            f"; VortexPY round-trip {ref['roundtrip']:.0f} tuples/s, {ref['bytes']:.1f} B/tuple"
            f"; ours/VortexPY round-trip x{ours['roundtrip'] / ref['roundtrip']:.1f}"
            f" (encode x{ours['encode'] / ref['encode']:.1f},"
            f" decode x{ours['decode'] / ref['decode']:.1f})"
        )
    print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""VortexPY reference for vortex_codec.py: the same payload round trip, run in VortexPY's venv.

Runs under the interpreter of the venv made by setup_vortexpy_venv.sh (it imports the
installed ``vortexpy`` package; no VortexPY code lives here). Prints one line:
``RESULT vortexpy N=<n> encode=<tuples/s> decode=<tuples/s> roundtrip=<tuples/s> bytes=<B/tuple>``
"""

import argparse
import os
import sys

from bench_common import median_seconds, small_tuple_fields
from vortex.Payload import Payload
from vortex.PayloadEnvelope import PayloadEnvelope
from vortex.Tuple import Tuple, TupleField, addTupleType


@addTupleType
class BenchSmallTuple(Tuple):
    """Five primitive fields, the same shape as our benchmark's tuple."""

    __tupleType__ = "bench.BenchSmallTuple"

    id = TupleField()
    name = TupleField()
    value = TupleField()
    active = TupleField()
    count = TupleField()


def make_tuples(n: int) -> list:
    """Deterministic, not trivially compressible tuples (the same on both sides)."""
    return [BenchSmallTuple(**fields) for fields in small_tuple_fields(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tuples", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    n = args.tuples
    tuples = make_tuples(n)
    filt = {"key": "bench.codec", "plugin": "bench"}

    def encode() -> bytes:
        return Payload(filt=dict(filt), tuples=tuples).makePayloadEnvelope().toVortexMsg()

    msg = encode()

    def decode():
        return PayloadEnvelope().fromVortexMsg(msg).decodePayload()

    back = decode()
    assert len(back.tuples) == n and back.tuples[3].name == tuples[3].name

    def round_trip():
        return PayloadEnvelope().fromVortexMsg(encode()).decodePayload()

    enc = median_seconds(encode, args.seconds)
    dec = median_seconds(decode, args.seconds)
    rt = median_seconds(round_trip, args.seconds)
    print(
        f"RESULT vortexpy N={n} encode={n / enc:.0f} decode={n / dec:.0f} "
        f"roundtrip={n / rt:.0f} bytes={len(msg) / n:.1f}"
    )
    sys.stdout.flush()
    os._exit(0)  # VortexPY's Jsonable.__del__ is noisy during interpreter teardown


if __name__ == "__main__":
    main()

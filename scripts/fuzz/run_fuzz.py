"""Fuzz the bus's byte-level entry points (header, body, envelope, hello, router receive).

Property: any bytes either decode or raise the error the entry point documents (a
``VortexError``; for hellos its ``VortexHelloRefusedError``), never another exception,
and never hang.

Each round gives a target one Hypothesis run (structured inputs, shrunk on a finding),
then half as long to fast random mutations of the inputs Hypothesis made (many more
inputs per second; a finding there is reported as it is, unshrunk).

    python scripts/fuzz/run_fuzz.py --seconds 30             # the CI run
    python scripts/fuzz/run_fuzz.py --seconds 3600 --seed 7  # a long run
    python scripts/fuzz/run_fuzz.py --replay router 7b2276...  # one input, from a finding

Exits 1 on a finding, printing the shrunk input as a ``--replay`` command line.
"""

import argparse
import os
import random
import sys
import threading
import time
import traceback
from typing import Optional

from fuzz_targets import TARGETS, Target, install_log_recorder
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as with_seed

#: One input running longer than this is a hang: the run stops with its reproducer.
HANG_SECONDS = 20.0
#: Inputs per Hypothesis run; runs rotate over the targets until the time is up.
BATCH = 100
#: Inputs each target keeps to mutate.
CORPUS_SIZE = 500
CORPUS: dict[str, list[bytes]] = {}
#: Bytes that matter to the formats: JSON punctuation, the header terminator, NUL, UTF-8.
INTERESTING = b'\x00\n"{}[],:\\~-0123456789eE.\x80\xbf\xc3\xed\xf0\xff'


class Watchdog(threading.Thread):
    """Stops the process with the reproducer when one input runs longer than HANG_SECONDS."""

    def __init__(self) -> None:
        super().__init__(name="fuzz-watchdog", daemon=True)
        self.current: Optional[tuple[str, bytes, float]] = None

    def run(self) -> None:
        while True:
            time.sleep(0.5)
            current = self.current
            if current is not None and time.monotonic() - current[2] > HANG_SECONDS:
                name, data, _ = current
                print(f"FINDING: target {name} hung on one input for over {HANG_SECONDS:g} s",
                      flush=True)
                print(reproducer(name, data), flush=True)
                os._exit(1)


WATCHDOG = Watchdog()
#: The last input that raised what its target does not allow (the shrunk one, at the end).
LAST_FAILURE: list[tuple[str, bytes, BaseException]] = []


def reproducer(name: str, data: bytes) -> str:
    return f"reproduce: {sys.executable} {__file__} --replay {name} {data.hex()}"


def check(target: Target, data: bytes) -> None:
    """Run one input; record and re-raise anything the target's contract does not allow."""
    WATCHDOG.current = (target.name, data, time.monotonic())
    try:
        target.run(data)
    except target.allowed:
        pass
    except Exception as e:
        LAST_FAILURE[:] = [(target.name, data, e)]
        raise
    finally:
        WATCHDOG.current = None


def run_batch(target: Target, seed: int) -> int:
    """One Hypothesis run of BATCH inputs; returns how many ran (raises on a finding)."""
    count = 0

    @settings(max_examples=BATCH, deadline=None, database=None, print_blob=False,
              phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck))
    @given(data=target.strategy)
    def prop(data: bytes) -> None:
        nonlocal count
        count += 1
        # The newest structured inputs are what the mutation bursts start from.
        corpus = CORPUS.setdefault(target.name, [])
        if len(corpus) < CORPUS_SIZE:
            corpus.append(data)
        else:
            corpus[count % CORPUS_SIZE] = data
        check(target, data)

    with_seed(seed)(prop)()
    return count


def mutate(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    """A few random edits: bytes set, inserted or deleted, slices repeated or spliced in."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randint(0, len(out))
        op = rng.randrange(6)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op == 1:
            out.insert(pos, INTERESTING[rng.randrange(len(INTERESTING))])
        elif op == 2 and out:
            del out[pos:pos + rng.randint(1, 8)]
        elif op == 3:
            out[pos:pos] = out[pos:pos + rng.randint(1, 32)] * rng.randint(1, 64)
        elif op == 4:
            other = corpus[rng.randrange(len(corpus))]
            start = rng.randint(0, len(other))
            out[pos:] = other[start:]
        else:
            del out[pos:]
    return bytes(out)


def mutation_burst(target: Target, rng: random.Random, seconds: float) -> int:
    """Mutate the target's corpus for ``seconds``; returns how many inputs ran."""
    corpus = CORPUS.get(target.name) or [b""]
    count = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(50):
            check(target, mutate(corpus[rng.randrange(len(corpus))], corpus, rng))
        count += 50
    return count


def report_finding(error: BaseException) -> None:
    name, data, raised = LAST_FAILURE[0] if LAST_FAILURE else ("?", b"", error)
    text = f"{type(raised).__name__}: {raised}"
    print(f"FINDING: target {name} raised {text[:500]}", flush=True)
    print("".join(traceback.format_exception(raised))[-4000:], flush=True)
    print(f"input ({len(data)} bytes): {data[:300]!r}{'...' if len(data) > 300 else ''}")
    print(reproducer(name, data), flush=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=None, help="seed of the run (printed)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="fuzz only this target (repeatable)")
    parser.add_argument("--replay", nargs=2, metavar=("TARGET", "HEX"),
                        help="run one input given as hex and report the outcome")
    args = parser.parse_args(argv)
    install_log_recorder()
    if args.replay:
        name, hexdata = args.replay
        try:
            check(TARGETS[name], bytes.fromhex(hexdata))
        except Exception as e:
            report_finding(e)
            return 1
        print(f"replay: target {name} handled the input within its contract")
        return 0

    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    targets = [TARGETS[n] for n in (args.target or sorted(TARGETS))]
    print(f"fuzz: seed {seed}, {args.seconds:g} s over {', '.join(t.name for t in targets)}",
          flush=True)
    rng = random.Random(seed)
    counts: dict[str, int] = {t.name: 0 for t in targets}
    structured: dict[str, int] = {t.name: 0 for t in targets}
    WATCHDOG.start()
    deadline = time.monotonic() + args.seconds
    try:
        while time.monotonic() < deadline:
            for target in targets:
                started = time.monotonic()
                ran = run_batch(target, rng.getrandbits(64))
                counts[target.name] += ran
                structured[target.name] += ran
                # A third of the time: mutations are cheap, structured inputs reach further.
                burst = min((time.monotonic() - started) / 2, deadline - time.monotonic())
                counts[target.name] += mutation_burst(target, rng, burst)
                if time.monotonic() >= deadline:
                    break
    except Exception as e:
        report_finding(e)
        return 1
    per_target = ", ".join(f"{name} {n} ({structured[name]} from Hypothesis)"
                           for name, n in counts.items())
    print(f"RESULT fuzz: {sum(counts.values())} inputs in {args.seconds:g} s, 0 findings "
          f"(seed {seed}; {per_target})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

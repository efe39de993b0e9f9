#!/usr/bin/env bash
# Run every bus benchmark with --compare (VortexPY 6.2.2 in its own venv, raw autobahn: the
# echo baseline and, for the fan-out, a raw relay of the same topology) and print the
# result lines, then the target lines together at the end.
# Usage: scripts/bench/run_bus_benchmarks.sh     (from the repository root, after `make venv`)
# The RPC and fan-out benchmarks run once per Twisted reactor, interleaved, their lines
# tagged [reactor=asyncio] / [reactor=default]; PEEK_BENCH_REACTORS="asyncio" runs one.
# Takes about 10 minutes on 2 cores; each step has a hard time limit (timeout), and each
# benchmark process stops by itself. Results are only comparable on an idle machine:
# the load average is printed before and after.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
LOG="$(mktemp /tmp/bus-bench.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

"$HERE/setup_vortexpy_venv.sh"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cpus"
step() {
    local limit=$1
    shift
    timeout --kill-after=10 "$limit" "$PY" "$@" 2>&1 | tee -a "$LOG"
}
step 300 "$HERE/vortex_codec.py" --compare
step 120 "$HERE/ws_echo_baseline.py" --frame-bytes 176
# Our bus on each Twisted reactor (twisted.reactor), interleaved so load drifts hit both:
# PEEK_BENCH_REACTORS="asyncio default" (the default) or one of them.
for bench in "vortex_rpc.py 300" "vortex_fanout.py 900"; do
    set -- $bench
    for r in ${PEEK_BENCH_REACTORS:-asyncio default}; do
        echo "== reactor $r: $1"
        PEEK_TWISTED_REACTOR=$r timeout --kill-after=10 "$2" "$PY" "$HERE/$1" --compare 2>&1 \
            | sed -u "s/^\(RESULT\|TARGET\)/\1 [reactor=$r]/" | tee -a "$LOG"
    done
done
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== summary"
# Codec: the round-trip ratio against VortexPY (target >= 20x).
sed -n 's/.*ours\/VortexPY round-trip x\([0-9.]*\).*/TARGET codec round trip vs VortexPY x\1 (>= 20)/p' "$LOG" \
    | awk '{ split($6, r, "x"); print $0 ": " (r[2] >= 20 ? "met" : "MISSED") }'
grep -E '^(TARGET|RESULT (\[reactor=[a-z]+\] )?vortex_rpc spread)' "$LOG"

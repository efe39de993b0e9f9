"""JS codec benchmark: the browser bus client's codec in headless Chromium, and the Python
codec on the same tuples in the same run; prints one result line for each.

Usage: .venv/bin/python scripts/bench/js_codec.py [--tuples 1000] [--seconds 2]

Both sides encode a whole message of N small tuples (int, 18-char str, float, bool, int;
the shape of scripts/bench/vortex_codec.py) and decode it back, header and tuples; bodies
of 16 KiB or more are deflated as the platform does (CompressionStream in the browser).
The page imports the served modules (platform/peek_vortex/js) exactly as a device
does; Chromium is Debian's /usr/bin/chromium (PEEK_TEST_CHROMIUM to change). Target:
at least 100k tuples/s decoding in the browser.
"""

import argparse
import os
from typing import Any

from bench_common import say, small_tuple_fields
from vortex_codec import measure

from peek_platform.web.peek_static import JS_DIR

ORIGIN = "http://bench.invalid"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Runs in the page: the same tuple shape, a whole message each way, the median of runs.
MEASURE_JS = """async ([rows, minSeconds]) => {
    const v = await import("/peek/vortex.js");
    class BenchSmallTuple extends v.Tuple {
        static tupleType = "bench.BenchSmallTuple";
        id = null; name = null; value = null; active = null; count = null;
    }
    if (!v.tupleInfoForName(BenchSmallTuple.tupleType)) v.addTupleType(BenchSmallTuple);
    const tuples = rows.map((r) => BenchSmallTuple.create(r));
    const codec = v.defaultCodec;
    const filt = {key: "bench.codec", plugin: "bench"};
    const encode = () => codec.encodeMessage({filt, tuples});
    const msg = await encode();
    const decode = () => codec.decodeMessage(msg);
    const back = (await decode()).tuples;
    if (back.length !== tuples.length || back[7].name !== tuples[7].name) {
        throw new Error("round trip changed the tuples");
    }
    // Timers in a page are coarse (0.1 ms or more): time batches of at least 20 ms.
    const median = async (fn) => {
        let reps = 1;
        for (;;) {
            const t0 = performance.now();
            for (let i = 0; i < reps; i++) await fn();
            if (performance.now() - t0 >= 20) break;
            reps *= 2;
        }
        const samples = [];
        const start = performance.now();
        while (samples.length < 5 || performance.now() - start < minSeconds * 1000) {
            const t0 = performance.now();
            for (let i = 0; i < reps; i++) await fn();
            samples.push((performance.now() - t0) / reps);
        }
        samples.sort((a, b) => a - b);
        return samples[Math.floor(samples.length / 2)] / 1000;
    };
    const enc = await median(encode);
    const dec = await median(decode);
    return {encode: rows.length / enc, decode: rows.length / dec, bytes: msg.length / rows.length,
            compressed: codec.decodeEnvelope(msg).compression !== null,
            userAgent: navigator.userAgent};
}"""


def measure_js(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """The browser codec's rates; the page's files are the packaged modules."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("PEEK_TEST_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def serve(route: Any) -> None:
                name = route.request.url[len(ORIGIN):].lstrip("/")
                if name.startswith("peek/") and (JS_DIR / name[5:]).is_file():
                    route.fulfill(body=(JS_DIR / name[5:]).read_bytes(),
                                  content_type="text/javascript")
                else:
                    route.fulfill(body="<!doctype html><title>bench</title>",
                                  content_type="text/html")

            page.route(ORIGIN + "/**", serve)
            page.goto(ORIGIN + "/")
            return page.evaluate(MEASURE_JS, [rows, seconds])  # type: ignore[no-any-return]
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuples", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0, help="min seconds per measure")
    args = parser.parse_args()

    rows = small_tuple_fields(args.tuples)
    js = measure_js(rows, args.seconds)
    py = measure(args.tuples, args.seconds)
    version = js["userAgent"].split("Chrome/")[-1].split(" ")[0]
    say(f"RESULT js_codec N={args.tuples}: decode {js['decode']:.0f} tuples/s, "
        f"encode {js['encode']:.0f} tuples/s (Chromium {version}), {js['bytes']:.1f} B/tuple"
        f"{' deflated' if js['compressed'] else ''}; target decode >= 100000/s: "
        f"{'met' if js['decode'] >= 100_000 else 'NOT met'}")
    say(f"RESULT py_codec N={args.tuples}: decode {py['decode']:.0f} tuples/s, "
        f"encode {py['encode']:.0f} tuples/s (same tuples, same run), "
        f"{py['bytes']:.1f} B/tuple; JS/Python decode x{js['decode'] / py['decode']:.2f}, "
        f"encode x{js['encode'] / py['encode']:.2f}")


if __name__ == "__main__":
    main()

"""Device app pages in headless Chromium: notify -> DOM update latency, and first paint.

Usage: .venv/bin/python scripts/bench/device_page_bench.py [--updates 100] [--loads 20]

Real processes on 127.0.0.1: ``run_peek_server``, ``run_peek_worker`` and
``run_peek_client`` with the tutorial (a new PostgreSQL database), and Debian's Chromium
(``/usr/bin/chromium``) driven by Playwright.

- **notify -> DOM**: the tutorial's desktop page observes the StringInt table through the
  client service's observable proxy. An admin peer (a bus connection to the server, in
  this process) saves one row through the tutorial's tuple loader ``--updates`` times, one
  at a time; the tuple loader commits and notifies the observable, the server's provider
  re-reads the table, the client proxy fans out to the page, the page re-renders. The
  latency is from sending the save to the page's DOM showing the new value (a
  MutationObserver stamps it with the same wall clock), so it includes the commit.
- **first paint**: ``--loads`` fresh browser contexts (no cache, no service worker) load
  the desktop home page and the tutorial page; first-contentful-paint from the navigation
  start (Paint Timing API), and for the tutorial page also the time until the rows are on
  screen with fresh data. Target: first paint < 500 ms on loopback.

One RESULT line each.
"""

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]

from bench_common import percentile, say  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.threads import blockingCallFromThread  # noqa: E402

from peek_plugin_base.PeekVortexUtil import peekClientName  # noqa: E402
from peek_plugin_base.storage import TupleLoaderClient  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP  # noqa: E402
from tests.browser.stack import TutorialStack  # noqa: E402
from tests.e2e.devices_data import VortexPeer  # noqa: E402

TIMEOUT_MS = 60_000
PLUGIN = "peek_plugin_tutorial"

# Stamps (epoch ms) the first time each int1 value of the watched row is on screen.
WATCH_ROW = """
(rowId) => {
  window.__seen = {};
  const record = () => {
    const cell = document.querySelector(`[data-row='${rowId}'] .t-int1`);
    if (cell && !(cell.textContent in window.__seen)) {
      window.__seen[cell.textContent] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(record).observe(document.getElementById('tutorial-rows'),
                                       {childList: true, subtree: true, characterData: true});
  record();
}
"""


def ms(values: list[float]) -> str:
    return f"p50={percentile(values, 50):.1f}ms p99={percentile(values, 99):.1f}ms"


def notify_to_dom(stack: TutorialStack, browser: Any, updates: int) -> None:
    from playwright.sync_api import expect

    (row,) = stack.admin("save", [{"string1": "bench", "int1": 0}])
    threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                     daemon=True).start()

    async def connect() -> tuple[VortexPeer, TupleLoaderClient]:
        from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import (
            filtKey,
        )

        token = (stack.server_home / "platform.token").read_text(encoding="ascii").strip()
        peer = VortexPeer(stack.platform_port, peekClientName, token)
        await peer.connect()
        return peer, TupleLoaderClient(filtKey, router=peer.router, timeoutSeconds=30)

    peer, loader = blockingCallFromThread(reactor, lambda: Deferred.fromCoroutine(connect()))
    from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{stack.desktop_url}/{PLUGIN}/")
    expect(page.locator("tutorial-string-ints")).to_have_attribute(
        "data-stale", "false", timeout=TIMEOUT_MS)
    page.locator(f"[data-row='{row['id']}']").wait_for(timeout=TIMEOUT_MS)
    page.evaluate(WATCH_ROW, row["id"])
    latencies, acks = [], []
    for value in range(1, updates + 1):
        sent = time.time() * 1000
        blockingCallFromThread(reactor, loader.save, [
            StringIntTuple(id=row["id"], string1="bench", int1=value)])
        acks.append(time.time() * 1000 - sent)
        shown = page.wait_for_function(f"window.__seen['{value}']", timeout=TIMEOUT_MS)
        latencies.append(float(shown.json_value()) - sent)
    context.close()
    blockingCallFromThread(reactor, peer.close)
    reactor.callFromThread(reactor.stop)
    say(f"RESULT device_notify_to_dom updates={updates} save->DOM {ms(latencies)} "
        f"(save answered {ms(acks)}) via server observable -> client proxy -> page")


def first_paint(stack: TutorialStack, browser: Any, loads: int) -> None:
    from playwright.sync_api import expect

    home, page_paint, data_shown = [], [], []
    for _ in range(loads):
        for path in ("/", f"/{PLUGIN}/"):
            context = browser.new_context(viewport=DESKTOP, service_workers="block")
            page = context.new_page()
            page.goto(stack.desktop_url + path)
            if path == "/":
                page.locator(".peek-tile").first.wait_for(timeout=TIMEOUT_MS)
            else:
                expect(page.locator("tutorial-string-ints")).to_have_attribute(
                    "data-stale", "false", timeout=TIMEOUT_MS)
                data_shown.append(page.evaluate("performance.now()"))
            fcp = page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")
            (home if path == "/" else page_paint).append(float(fcp))
            context.close()
    verdict = "OK" if percentile(home + page_paint, 50) < 500 else "ABOVE TARGET"
    say(f"RESULT device_first_paint loads={loads} home {ms(home)} tutorial {ms(page_paint)} "
        f"(tutorial rows shown, fresh: {ms(data_shown)}) target<500ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    stack = TutorialStack().start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            first_paint(stack, browser, args.loads)
            notify_to_dom(stack, browser, args.updates)
            browser.close()
    finally:
        stack.close()


if __name__ == "__main__":
    main()

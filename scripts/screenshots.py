"""Screenshots of the device apps for the docs: mobile and desktop, home and tutorial pages.

Usage: .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the tutorial as a user runs it (``run_peek_server``, ``run_peek_worker`` and
``run_peek_client`` on free ports, with a new PostgreSQL database), adds a few StringInt
rows through the tutorial's tuple loader, opens each page in headless Chromium (Debian's
``/usr/bin/chromium``; phone viewport for mobile, desktop viewport for desktop) once it is
online with fresh data, and writes ``mobile-home.png``, ``mobile-tutorial.png``,
``desktop-home.png`` and ``desktop-tutorial.png``. Re-run it after changing the shell or
the tutorial's pages so the docs show what users see.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE  # noqa: E402
from tests.browser.stack import TutorialStack  # noqa: E402

ROWS = [("Pumps", 12), ("Valves", 7), ("Feeders", 30), ("switches", 4)]
TIMEOUT_MS = 60_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect, sync_playwright

    stack = TutorialStack().start()
    try:
        stack.admin("save", [{"string1": s, "int1": i} for s, i in ROWS])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            for site, viewport in (("mobile", PHONE), ("desktop", DESKTOP)):
                context = browser.new_context(viewport=viewport)
                page = context.new_page()
                page.goto(stack.url(site) + "/")
                expect(page.locator("#peek-conn")).to_have_attribute(
                    "data-state", "online", timeout=TIMEOUT_MS)
                page.locator(".peek-tile img").first.wait_for(timeout=TIMEOUT_MS)
                page.screenshot(path=str(args.out / f"{site}-home.png"))
                page.goto(stack.url(site) + "/peek_plugin_tutorial/")
                expect(page.locator("tutorial-string-ints")).to_have_attribute(
                    "data-stale", "false", timeout=TIMEOUT_MS)
                page.locator("#tutorial-total[data-total]").wait_for(timeout=TIMEOUT_MS)
                page.screenshot(path=str(args.out / f"{site}-tutorial.png"))
                context.close()
                print(f"{site}: {args.out / f'{site}-home.png'}, "
                      f"{args.out / f'{site}-tutorial.png'}", flush=True)
            browser.close()
    finally:
        stack.close()


if __name__ == "__main__":
    main()

"""Screenshots of the admin site's pages for the docs (``docs/screenshots/admin-*.png``).

Usage: .venv/bin/python scripts/admin_screenshots.py [--out docs/screenshots]

Starts all four services as a user runs them (``run_peek_server``, ``run_peek_worker``,
``run_peek_client`` and ``run_peek_agent`` on free ports, a new PostgreSQL database, the
tutorial and noop plugins, and on the agent a fixture plugin whose start fails), adds a
few StringInt rows, logs in with the first admin password in headless Chromium (Debian's
``/usr/bin/chromium``) and writes ``admin-login.png``, ``admin-dashboard.png``,
``admin-plugins.png``, ``admin-settings.png``, ``admin-logs.png``, ``admin-data.png`` and
``admin-plugin-page.png``. Re-run it after changing a page so the docs show what admins see.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.admin_stack import BROKEN, NOOP, TUTORIAL, AdminStack  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP  # noqa: E402

ROWS = [("Pumps", 12), ("Valves", 7), ("Feeders", 30)]
TIMEOUT_MS = 60_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    stack = AdminStack().start()
    try:
        stack.admin("save", [{"string1": s, "int1": i} for s, i in ROWS])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport=DESKTOP).new_page()

            def shot(name: str) -> None:
                path = args.out / f"admin-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                print(path, flush=True)

            page.goto(stack.admin_url + "/")
            page.wait_for_selector("form.login")
            shot("login")
            stack.login(page)
            for service in ("server", "client", "agent", "worker"):
                page.wait_for_selector(f'article[data-service="{service}"][data-live="true"] '
                                       f'li[data-plugin="{TUTORIAL}"] .state-running',
                                       timeout=TIMEOUT_MS)
            shot("dashboard")
            page.goto(stack.admin_url + "/plugins")
            broken = page.locator(f'section[data-service="agent"] tr[data-plugin="{BROKEN}"]')
            broken.locator("summary").click(timeout=TIMEOUT_MS)
            page.locator(f'section[data-service="client"] tr[data-plugin="{NOOP}"]').wait_for(
                timeout=TIMEOUT_MS)
            shot("plugins")
            page.goto(stack.admin_url + "/settings")
            page.wait_for_selector('#plugin-settings tr[data-key="Property1"]', timeout=TIMEOUT_MS)
            page.locator('details.config[data-service="agent"] summary').click(timeout=TIMEOUT_MS)
            shot("settings")
            page.goto(stack.admin_url + "/logs?service=agent&level=INFO")
            page.wait_for_selector("#log-lines tr", timeout=TIMEOUT_MS)
            shot("logs")
            page.goto(stack.admin_url + "/data")
            page.wait_for_selector("#loader-table tr[data-id=new]", timeout=TIMEOUT_MS)
            shot("data")
            page.goto(stack.admin_url + f"/plugin-pages?plugin={TUTORIAL}")
            page.wait_for_selector(".tutorial-rows li", timeout=TIMEOUT_MS)
            shot("plugin-page")
            browser.close()
    finally:
        stack.close()


if __name__ == "__main__":
    main()

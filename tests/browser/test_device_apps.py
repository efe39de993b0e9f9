"""The device apps in headless Chromium against real server, worker and client processes.

The mobile (phone viewport) and desktop (desktop viewport) sites: the home page lists the
tutorial; its page shows the StringInt rows and the worker's total; admin edits through the
tuple loader and actions pushed from the page appear without a reload; with the client
service stopped and the browser offline, the page opens from the service worker's cache on
its cached data, queues actions (also across a reload) and applies each exactly once when
the connection returns.
"""

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, new_page
from tests.browser.stack import TutorialStack, wait_for_network

#: Generous: the machine is shared, and a reconnect waits for its backoff.
TIMEOUT_MS = 45_000
PLUGIN = "peek_plugin_tutorial"
#: (site, viewport) pairs every page test runs on.
SITES = [pytest.param("mobile", PHONE, id="phone"),
         pytest.param("desktop", DESKTOP, id="desktop")]


@pytest.fixture(scope="module")
def stack() -> Iterator[TutorialStack]:
    """One server, worker and client for the module (tests add their own rows)."""
    running = TutorialStack().start()
    try:
        yield running
    finally:
        running.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def new_rows(stack: TutorialStack, *values: int) -> list[dict[str, Any]]:
    """Rows with names unique to this test, saved through the admin tuple loader."""
    tag = secrets.token_hex(3)
    return stack.admin("save", [{"string1": f"row{i}-{tag}", "int1": value}
                                for i, value in enumerate(values)])


def row(page: Any, row_id: int) -> Any:
    return page.locator(f"[data-row='{row_id}']")


def expect_row(page: Any, row_id: int, string1: str, int1: int) -> None:
    """The page shows the row with these values (waiting for live updates)."""
    expect(row(page, row_id).locator(".t-string1")).to_have_text(string1, timeout=TIMEOUT_MS)
    expect(row(page, row_id).locator(".t-int1")).to_have_text(str(int1), timeout=TIMEOUT_MS)


def open_app(page: Any, stack: TutorialStack, site: str) -> None:
    """Open the tutorial's page and wait until it is online with fresh data."""
    page.goto(f"{stack.url(site)}/{PLUGIN}/")
    expect(page.locator("#peek-conn")).to_have_attribute("data-state", "online",
                                                         timeout=TIMEOUT_MS)
    expect(page.locator("tutorial-string-ints")).to_have_attribute("data-stale", "false",
                                                                   timeout=TIMEOUT_MS)


def server_rows(stack: TutorialStack) -> dict[int, tuple[str, int]]:
    """What the server's database holds, read through the tuple loader."""
    return {r["id"]: (r["string1"], r["int1"]) for r in stack.admin("load")}


@pytest.mark.parametrize(("site", "viewport"), SITES)
def test_home_lists_the_tutorial(chromium: Any, stack: TutorialStack, site: str,
                                 viewport: dict[str, int]) -> None:
    """The home page lists the tutorial with its title and icon, shows the connection as
    online with no offline banner, fits the viewport, and its tile opens the tutorial."""
    with new_page(chromium, viewport) as page:
        page.goto(stack.url(site) + "/")
        tile = page.locator(f".peek-tile[data-plugin='{PLUGIN}']")
        expect(tile).to_contain_text("Tutorial Plugin", timeout=TIMEOUT_MS)
        assert page.locator(".peek-tile").count() == 1
        expect(page.locator("#peek-conn")).to_have_attribute("data-state", "online",
                                                             timeout=TIMEOUT_MS)
        expect(page.locator("#peek-offline")).to_be_hidden()
        assert page.evaluate("document.body.dataset.site") == site
        icon = tile.locator("img")
        expect(icon).to_have_attribute("src", f"/{PLUGIN}/icon.svg")
        page.wait_for_function("document.querySelector('.peek-tile img').naturalWidth > 0")
        # Nothing wider than the viewport (no sideways scrolling on a phone).
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        expect(page.locator(f"#peek-nav a[data-plugin='{PLUGIN}']")).to_have_text(
            "Tutorial Plugin")
        tile.click()
        page.wait_for_url(f"**/{PLUGIN}/")
        expect(page.locator("tutorial-string-ints")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator(f"#peek-nav a[data-plugin='{PLUGIN}']")).to_have_attribute(
            "aria-current", "page")


@pytest.mark.parametrize(("site", "viewport"), SITES)
def test_page_shows_rows_total_and_admin_edits_live(
        chromium: Any, stack: TutorialStack, site: str, viewport: dict[str, int]) -> None:
    """The tutorial page shows the rows and the worker's total; admin edits through the
    tuple loader (update, insert, delete) appear without a reload."""
    first, second = new_rows(stack, 5, 7)
    with new_page(chromium, viewport) as page:
        open_app(page, stack, site)
        expect_row(page, first["id"], first["string1"], 5)
        expect_row(page, second["id"], second["string1"], 7)
        total = sum(v for _, v in server_rows(stack).values())
        expect(page.locator("#tutorial-total")).to_have_attribute(
            "data-total", str(total), timeout=TIMEOUT_MS)
        page.evaluate("window.__notReloaded = true")

        stack.admin("save", [{**first, "int1": 50}])
        expect_row(page, first["id"], first["string1"], 50)
        (third,) = stack.admin("save", [{"string1": f"added-{first['string1']}", "int1": 1}])
        expect_row(page, third["id"], third["string1"], 1)
        stack.admin("delete", second["id"])
        expect(row(page, second["id"])).to_have_count(0, timeout=TIMEOUT_MS)
        total = sum(v for _, v in server_rows(stack).values())
        expect(page.locator("#tutorial-total")).to_have_attribute(
            "data-total", str(total), timeout=TIMEOUT_MS)
        assert page.evaluate("window.__notReloaded") is True
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


@pytest.mark.parametrize(("site", "viewport"), SITES)
def test_actions_update_the_list(chromium: Any, stack: TutorialStack, site: str,
                                 viewport: dict[str, int]) -> None:
    """The page's buttons push the tutorial's actions; the rows (and the server's table)
    change once per click, and the queue is empty again after each answer."""
    (mine,) = new_rows(stack, 10)
    with new_page(chromium, viewport) as page:
        open_app(page, stack, site)
        expect_row(page, mine["id"], mine["string1"], 10)
        buttons = row(page, mine["id"])
        buttons.locator("[data-action=add]").click()
        expect_row(page, mine["id"], mine["string1"], 11)
        buttons.locator("[data-action=subtract]").click()
        buttons.locator("[data-action=subtract]").click()
        expect_row(page, mine["id"], mine["string1"], 9)
        buttons.locator("[data-action=toggle]").click()
        expect_row(page, mine["id"], mine["string1"].upper(), 9)
        expect(page.locator("#tutorial-queue")).to_have_attribute("data-length", "0",
                                                                  timeout=TIMEOUT_MS)
        assert server_rows(stack)[mine["id"]] == (mine["string1"].upper(), 9)
        expect(page.locator("#tutorial-message")).to_have_text("")


@pytest.mark.parametrize(("site", "viewport"), SITES)
def test_offline_cached_data_queued_actions_applied_once(
        chromium: Any, stack: TutorialStack, site: str, viewport: dict[str, int]) -> None:
    """With the client service stopped and the browser offline, the page keeps its data
    and queues actions; a reload while offline opens the app from the service worker's
    cache on the IndexedDB data (marked as saved data) with the queue intact; after the
    service and the network return, every queued action is applied exactly once."""
    (mine,) = new_rows(stack, 100)
    name = mine["string1"]
    with new_page(chromium, viewport) as page:
        context = page.context
        open_app(page, stack, site)
        expect_row(page, mine["id"], name, 100)
        # The service worker has cached the app and controls the page.
        expect(page.locator("body")).to_have_attribute("data-sw", "ready", timeout=TIMEOUT_MS)
        page.wait_for_function("navigator.serviceWorker.controller !== null",
                               timeout=TIMEOUT_MS)

        stack.stop_client()
        context.set_offline(True)
        try:
            wait_for_network(page, reachable=False)
            expect(page.locator("#peek-offline")).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.locator("#peek-conn")).to_have_attribute("data-state", "offline")
            buttons = row(page, mine["id"])
            buttons.locator("[data-action=add]").click()
            buttons.locator("[data-action=add]").click()
            buttons.locator("[data-action=toggle]").click()
            expect(page.locator("#tutorial-queue")).to_have_attribute(
                "data-length", "3", timeout=TIMEOUT_MS)
            expect_row(page, mine["id"], name, 100)  # unchanged until the server answers

            page.reload()
            expect(page.locator("tutorial-string-ints")).to_have_attribute(
                "data-stale", "true", timeout=TIMEOUT_MS)
            expect(page.locator("#tutorial-stale")).to_be_visible()
            expect(page.locator("#peek-offline")).to_be_visible()
            expect_row(page, mine["id"], name, 100)
            expect(page.locator("#tutorial-queue")).to_have_attribute(
                "data-length", "3", timeout=TIMEOUT_MS)
            row(page, mine["id"]).locator("[data-action=add]").click()
            expect(page.locator("#tutorial-queue")).to_have_attribute(
                "data-length", "4", timeout=TIMEOUT_MS)
            assert server_rows(stack)[mine["id"]] == (name, 100)
        finally:
            if stack.client is None:
                stack.start_client()
            context.set_offline(False)
        wait_for_network(page, reachable=True)

        expect(page.locator("#peek-conn")).to_have_attribute("data-state", "online",
                                                             timeout=TIMEOUT_MS)
        expect(page.locator("#tutorial-queue")).to_have_attribute(
            "data-length", "0", timeout=TIMEOUT_MS)
        expect_row(page, mine["id"], name.upper(), 103)
        expect(page.locator("tutorial-string-ints")).to_have_attribute("data-stale", "false")
        expect(page.locator("#peek-offline")).to_be_hidden()
        assert server_rows(stack)[mine["id"]] == (name.upper(), 103)

        # Nothing is sent twice later: a fresh page load online sees the same values.
        page.reload()
        expect(page.locator("tutorial-string-ints")).to_have_attribute(
            "data-stale", "false", timeout=TIMEOUT_MS)
        expect(page.locator("#tutorial-queue")).to_have_attribute("data-length", "0")
        expect_row(page, mine["id"], name.upper(), 103)
        assert server_rows(stack)[mine["id"]] == (name.upper(), 103)

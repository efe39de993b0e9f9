"""Browser fixtures: one headless Chromium per test session, a fresh context and page per test.

Chromium is Debian's ``/usr/bin/chromium`` driven by the Python ``playwright`` package; no
browser is ever downloaded. ``.ci/run`` installs the ``chromium`` package when it is missing.

Usage::

    def test_home(browser_page: Page) -> None:          # 1280x800 desktop viewport
        browser_page.goto(url)

    @pytest.mark.parametrize("browser_page", [PHONE], indirect=True)
    def test_phone(browser_page: Page) -> None:          # a phone-sized viewport
        ...

    def test_two_pages(chromium: Browser) -> None:       # any number of pages, own viewport
        with new_page(chromium, PHONE) as page:
            ...
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest

CHROMIUM = Path(os.environ.get("PEEK_TEST_CHROMIUM", "/usr/bin/chromium"))

# The launch arguments every browser test uses: no sandbox (CI runs as root), no GPU, and
# nothing that reaches out to the network on its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Viewports for ``browser_page`` (indirect parametrisation) and ``new_page``.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _missing(what: str) -> None:
    """Skip on a developer machine without ``what``; fail in CI, where it must be present."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need {what} (.ci/run installs it)")
    pytest.skip(f"browser tests need {what}")


# One Playwright driver and browser per test process: the sync API cannot run two at once,
# and test modules outside this folder import these fixtures (each import is a fixture
# definition of its own, so the session fixture may be set up more than once).
_shared: dict[str, Any] = {}


def _shared_browser() -> Any:
    if "browser" not in _shared:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            _missing("the playwright Python package")
        if not CHROMIUM.exists():
            _missing(str(CHROMIUM))
        playwright = sync_playwright().start()
        try:
            _shared["browser"] = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        except BaseException:
            playwright.stop()
            raise
        _shared["playwright"] = playwright
    return _shared["browser"]


def _close_shared_browser() -> None:
    browser = _shared.pop("browser", None)
    playwright = _shared.pop("playwright", None)
    if browser is not None:
        browser.close()
    if playwright is not None:
        playwright.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A Playwright ``Browser``: Debian's Chromium, headless, shared by the whole session."""
    yield _shared_browser()
    _close_shared_browser()


@contextmanager
def new_page(browser: Any, viewport: Optional[dict[str, int]] = None,
             **context_options: Any) -> Iterator[Any]:
    """A page in a fresh browser context (own storage, IndexedDB, service workers), closed after.

    ``context_options`` go to ``Browser.new_context`` (for example ``offline=True``).
    """
    context = browser.new_context(viewport=viewport or DESKTOP, **context_options)
    try:
        page = context.new_page()
        # A page's uncaught errors fail loudly in the test output instead of vanishing.
        page.on("pageerror", lambda error: print(f"page error: {error}"))
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, chromium: Any) -> Iterator[Any]:
    """A fresh context and page; the viewport is ``request.param`` when parametrised
    indirectly (``PHONE``, ``DESKTOP`` or any ``{"width": .., "height": ..}``), else DESKTOP."""
    viewport = getattr(request, "param", None)
    with new_page(chromium, viewport) as page:
        yield page


@pytest.fixture(scope="module")
def peek_platform() -> Iterator[Any]:
    """A real server and client service (tutorial + fx_browser plugins), shared by a module.

    Tests that stop or restart the client service make their own ``BrowserPlatform``.
    """
    from tests.browser.platform import BrowserPlatform

    platform = BrowserPlatform()
    try:
        yield platform.start()
    finally:
        platform.close()



def load_vortex(page: Any, site_url: str) -> None:
    """Open ``site_url`` and import the served bus client as ``window.vortex``."""
    page.goto(site_url + "/")
    page.evaluate("async () => { window.vortex = await import('/peek/vortex.js'); }")

"""The browser fixtures themselves: Chromium runs pages and the viewport is chosen per test."""

from typing import Any

import pytest

from tests.browser.conftest import PHONE, new_page


def test_page_runs_javascript(browser_page: Any) -> None:
    """A page from ``browser_page`` runs script in a desktop-sized viewport by default."""
    browser_page.set_content("<p id='x'>hello</p>")
    assert browser_page.evaluate("document.getElementById('x').textContent + 1") == "hello1"
    assert browser_page.evaluate("window.innerWidth") == 1280


@pytest.mark.parametrize("browser_page", [PHONE], indirect=True)
def test_viewport_is_chosen_by_indirect_param(browser_page: Any) -> None:
    """Indirect parametrisation gives the page the phone viewport asked for."""
    assert browser_page.evaluate("[window.innerWidth, window.innerHeight]") == [390, 844]


def test_contexts_are_isolated(chromium: Any) -> None:
    """Two pages from ``new_page`` do not share storage (each is a fresh context)."""
    with new_page(chromium) as first, new_page(chromium) as second:
        first.goto("about:blank")
        first.evaluate("window.name = 'first'")
        assert second.evaluate("window.name") == ""

"""The admin site's plugin upload page in headless Chromium against a real run_peek_server
(on a throwaway virtualenv layered on this one, so the upload never reaches the shared
environment)."""

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugin_releases import UploadServer, write_wheel
from tests.security.admin_session import first_password

PKG = "peek_plugin_frompage"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "admin-plugin-upload.png"
TIMEOUT_MS = 120_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[UploadServer]:
    running = UploadServer(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def log_in(page: Any, server: UploadServer) -> None:
    base = f"http://127.0.0.1:{server.admin_port}"
    page.goto(f"{base}/plugin-upload")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", first_password(server.home))
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/plugin-upload")


def test_upload_page_shows_progress_result_and_enables(
        browser_page: Any, server: UploadServer, tmp_path: Path) -> None:
    """An admin picks a wheel on the page: the stages and pip's output appear, then the
    result naming the plugin and version; "Enable on the server" starts it (it answers)
    and the installed table shows it running. A refused file shows the reason."""
    page = browser_page
    log_in(page, server)
    wheel = write_wheel(tmp_path, PKG, "1.2.0")
    page.set_input_files("input[name=file]", str(wheel))
    # Every state the page shows is recorded, to prove progress appears before the end.
    page.evaluate("""() => {
        window.seenStates = [];
        const state = document.getElementById('upload-state');
        new MutationObserver(() => window.seenStates.push(state.textContent))
            .observe(state, {childList: true, characterData: true, subtree: true});
    }""")
    page.click("#plugin-upload button[type=submit]")
    page.wait_for_function(
        "document.getElementById('upload-state').textContent === 'done'", timeout=TIMEOUT_MS)
    seen = page.evaluate("window.seenStates")
    assert seen[-1] == "done" and set(seen[:-1]) & {"checking", "installing"}, seen
    stages = page.locator("#upload-stages li").all_text_contents()
    assert stages == ["received", "checking", "installing", "verifying", "done"]
    assert f"Successfully installed {PKG.replace('_', '-')}-1.2.0" in \
        page.locator("#upload-log").text_content()
    assert page.locator("#upload-result").text_content().startswith(
        f"Installed {PKG} 1.2.0.")
    page.click("#upload-enable")
    page.wait_for_function(
        f"document.getElementById('upload-result').textContent.includes('{PKG} is enabled')",
        timeout=TIMEOUT_MS)
    row = page.locator("#installed-plugins tbody tr", has_text=PKG)
    row.get_by_text("running").wait_for(timeout=TIMEOUT_MS)
    url = f"http://127.0.0.1:{server.platform_port}/{PKG}/hello"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == f"hello from {PKG} 1.2.0".encode()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    bad = tmp_path / "notes.txt"
    bad.write_text("not a release")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#plugin-upload button[type=submit]")
    page.wait_for_function(
        "document.getElementById('upload-state').textContent === 'refused'",
        timeout=TIMEOUT_MS)
    assert "must end in .whl, .tar.gz or .zip" in page.locator("#upload-result").text_content()

"""The admin site's pages in Chromium against real server, client, agent and worker processes.

One :class:`~tests.browser.admin_stack.AdminStack` serves the module; tests that change a
service (disable, reload, kill) put it back as they found it. Every wait is for a condition
in the page, with generous timeouts; nothing is timed.
"""

import json
import re
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.admin_stack import BROKEN, HEARTBEAT_TIMEOUT, NOOP, TUTORIAL, AdminStack
from tests.browser.conftest import new_page
from tests.support import wait_for

PAGES = ["/", "/plugins", "/settings", "/logs", "/data", "/plugin-pages"]
#: Page waits: services report within seconds, but the machine is shared and slow.
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def stack() -> Iterator[AdminStack]:
    platform = AdminStack()
    try:
        yield platform.start()
    finally:
        platform.close()


@pytest.fixture
def admin(stack: AdminStack, chromium: Any) -> Iterator[Any]:
    """A logged-in page on the dashboard."""
    with new_page(chromium) as page:
        stack.login(page)
        yield page


def card(page: Any, service: str, selector: str = "") -> Any:
    """The live page's element for ``service`` (``[data-service=...]``), plus ``selector``."""
    return page.locator(f'[data-service="{service}"] {selector}'.strip())


def plugin_row(page: Any, service: str, plugin: str) -> Any:
    return page.locator(f'section[data-service="{service}"] tr[data-plugin="{plugin}"]')


def test_pages_refuse_without_login_and_after_logout(stack: AdminStack, chromium: Any) -> None:
    """Without a session every page sends the browser to the login form (keeping where it
    wanted to go); after logging out the pages refuse again, and an admin page still open
    in another tab is sent to the login page when its bus connection is closed (4401)."""
    with new_page(chromium) as page:
        for path in PAGES:
            page.goto(stack.admin_url + path)
            assert re.search(r"/login\?next=", page.url), (path, page.url)
            assert page.locator("form.login").is_visible()
        stack.login(page, "/plugins")
        page.wait_for_selector('section[data-service="agent"]', timeout=WAIT_MS)
        other = page.context.new_page()
        other.goto(stack.admin_url + "/logs")
        other.wait_for_selector("#bus-state[data-state=open]", timeout=WAIT_MS)
        page.click("form.logout button")
        page.wait_for_url(re.compile(r"/login"))
        # The other tab's session is gone with it: its socket closes and it leaves.
        other.wait_for_url(re.compile(r"/login\?next=%2Flogs"), timeout=WAIT_MS)
        for path in PAGES:
            page.goto(stack.admin_url + path)
            assert "/login" in page.url, (path, page.url)


def test_wrong_password_refused_and_throttled(stack: AdminStack, chromium: Any) -> None:
    """A wrong password is refused with a message; after five failures for one account
    the login page refuses it outright and says how long to wait (a made-up account
    name, so the real admin is not locked out for the other tests)."""
    with new_page(chromium) as page:
        for _ in range(5):
            page.goto(stack.admin_url + "/login")
            page.fill("input[name=username]", "mallory")
            page.fill("input[name=password]", "not-the-password")
            page.click("button[type=submit]")
            assert "Wrong user name or password" in page.inner_text(".error")
        page.goto(stack.admin_url + "/login")
        page.fill("input[name=username]", "mallory")
        page.fill("input[name=password]", "not-the-password")
        page.click("button[type=submit]")
        text = page.inner_text(".error")
        assert "too many failed logins" in text.lower() and "try again in" in text, text
        assert "/login" in page.url


def test_dashboard_shows_four_services_and_plugins_running(stack: AdminStack, admin: Any) -> None:
    """After login the dashboard shows server, client, agent and worker up, with the
    example plugins running on each, pids and memory, and the client's device count."""
    for service in ("server", "client", "agent", "worker"):
        card(admin, service, "").first.wait_for(timeout=WAIT_MS)
        admin.wait_for_selector(f'article[data-service="{service}"][data-live="true"] '
                                f'li[data-plugin="{TUTORIAL}"] .state-running', timeout=WAIT_MS)
    admin.wait_for_selector(
        f'article[data-service="agent"] li[data-plugin="{NOOP}"] .state-running',
        timeout=WAIT_MS)
    agent = admin.inner_text('article[data-service="agent"]')
    assert f"pid {stack.agent.proc.pid}" in agent and "MB" in agent, agent
    assert "Devices" in admin.inner_text('article[data-service="client"]')
    assert admin.inner_text(".summary") == "4 of 4 services up"


def test_failed_plugin_shows_reason_and_traceback(stack: AdminStack, admin: Any) -> None:
    """A plugin whose start() raises on the agent shows failed, its reason, and an
    expandable traceback on the plugins page."""
    admin.goto(stack.admin_url + "/plugins")
    row = plugin_row(admin, "agent", BROKEN)
    row.locator(".state-failed").wait_for(timeout=WAIT_MS)
    assert "RuntimeError" in row.locator("td.reason").inner_text()
    assert not row.locator("pre.traceback").is_visible()
    row.locator("summary").click()
    assert "Traceback" in row.locator("pre.traceback").inner_text()


def test_disable_and_enable_plugin_on_agent(stack: AdminStack, admin: Any) -> None:
    """Disabling the noop plugin on the agent from the page stops it there (the row turns
    to installed, not enabled, and the agent's config.json loses it); enabling it again
    brings it back running. Other services keep theirs."""
    admin.goto(stack.admin_url + "/plugins")
    row = plugin_row(admin, "agent", NOOP)
    row.locator(".state-running").wait_for(timeout=WAIT_MS)
    row.locator("button[data-op=disable]").click()
    admin.wait_for_selector(f'section[data-service="agent"] tr[data-plugin="{NOOP}"]'
                            '[data-state="installed"]', timeout=WAIT_MS)
    admin.wait_for_selector("#control-result li.ok", timeout=WAIT_MS)
    enabled = json.loads((stack.agent_home / "config.json").read_text())["plugin"]["enabled"]
    assert NOOP not in enabled and TUTORIAL in enabled
    assert plugin_row(admin, "server", NOOP).get_attribute("data-state") == "running"
    plugin_row(admin, "agent", NOOP).locator("button[data-op=enable]").click()
    admin.wait_for_selector(f'section[data-service="agent"] tr[data-plugin="{NOOP}"]'
                            '[data-state="running"]', timeout=WAIT_MS)
    enabled = json.loads((stack.agent_home / "config.json").read_text())["plugin"]["enabled"]
    assert NOOP in enabled


def test_reload_tutorial_on_agent(stack: AdminStack, admin: Any) -> None:
    """Reloading the tutorial on the agent from the page: the row's recent states go
    stopping → ... → running, the result says so, and the agent's log shows the reload."""
    assert stack.agent is not None
    before = stack.agent.log().count(f"Plugin {TUTORIAL} reloaded")
    admin.goto(stack.admin_url + "/plugins")
    row = plugin_row(admin, "agent", TUTORIAL)
    row.locator(".state-running").wait_for(timeout=WAIT_MS)
    row.locator("button[data-op=reload]").click()
    result = admin.locator("#control-result li.ok")
    result.wait_for(timeout=WAIT_MS)
    assert "now running" in result.inner_text()
    history = row.locator(".history")
    history.wait_for(timeout=WAIT_MS)
    wait_for(lambda: re.search(r"stopping → .*running$", history.inner_text()), 60,
             "the row's history to show stopping → running")
    wait_for(lambda: stack.agent.log().count(f"Plugin {TUTORIAL} reloaded") > before, 60,
             "the agent to log the reload")
    assert f"Reloading plugin {TUTORIAL}" in stack.agent.log()


def test_killed_agent_shows_gone_then_back(stack: AdminStack, admin: Any) -> None:
    """A killed agent shows as gone on the dashboard within the server's heartbeat
    timeout (the wait is generous, the condition is the page's); restarted, it is back
    up with its new pid, without reloading the page."""
    agent = card(admin, "agent")
    agent.first.wait_for(timeout=WAIT_MS)
    admin.wait_for_selector('article[data-service="agent"][data-live="true"]', timeout=WAIT_MS)
    stack.kill_agent()
    admin.wait_for_selector('article[data-service="agent"][data-live="false"]',
                            timeout=int((HEARTBEAT_TIMEOUT + 30) * 1000))
    assert "gone" in admin.inner_text('article[data-service="agent"] h2')
    assert admin.inner_text(".summary") == "3 of 4 services up"
    process = stack.start_agent()
    admin.wait_for_selector(f'article[data-service="agent"][data-live="true"] '
                            f'li[data-plugin="{TUTORIAL}"] .state-running', timeout=WAIT_MS)
    wait_for(lambda: f"pid {process.proc.pid}" in admin.inner_text('article[data-service="agent"]'),
             60, "the new agent's pid on the dashboard")


def test_agent_log_line_appears_on_logs_page(stack: AdminStack, admin: Any) -> None:
    """A line the agent logs now (its SIGHUP answer) appears on the logs page, live; the
    plugin filter keeps only that plugin's lines."""
    assert stack.agent is not None
    admin.goto(stack.admin_url + "/logs?service=agent")
    admin.wait_for_selector("#log-lines tr", timeout=WAIT_MS)
    assert "agent" in admin.locator("#log-service option:checked").inner_text()
    line = "SIGHUP: config reloaded"
    before = admin.locator("#log-lines td.message", has_text=line).count()
    stack.agent.signal(signal.SIGHUP)
    wait_for(lambda: admin.locator("#log-lines td.message", has_text=line).count() > before,
             60, "the agent's SIGHUP line on the logs page")
    admin.select_option("#log-plugin", TUTORIAL)
    admin.wait_for_function(
        """(plugin) => { const rows = [...document.querySelectorAll('#log-lines td.logger')];
           return rows.length > 0 && rows.every((td) => td.textContent.startsWith(plugin)); }""",
        arg=TUTORIAL, timeout=WAIT_MS)


def test_edit_string_int_row_shows_on_device_page(stack: AdminStack, admin: Any,
                                                   chromium: Any) -> None:
    """Adding and editing a StringInt row on the plugin data page (through the tutorial's
    OrmCrudHandler) shows on the client's mobile page of the tutorial, live."""
    with new_page(chromium) as device:
        device.goto(stack.mobile_url + f"/{TUTORIAL}/")
        device.wait_for_selector("tutorial-string-ints", timeout=WAIT_MS)
        admin.goto(stack.admin_url + "/data")
        admin.wait_for_selector("#loader-table tr[data-id=new]", timeout=WAIT_MS)
        new = admin.locator("#loader-table tr[data-id=new]")
        new.locator("input[name=string1]").fill("admin-added")
        new.locator("input[name=int1]").fill("7")
        new.locator("button[data-op=add]").click()
        row = admin.locator("#loader-table tr", has=admin.locator('input[value="admin-added"]'))
        row.wait_for(timeout=WAIT_MS)
        device.wait_for_selector("text=admin-added", timeout=WAIT_MS)
        row.locator("input[name=string1]").fill("admin-edited")
        row.locator("button[data-op=save]").click()
        device.wait_for_selector("text=admin-edited", timeout=WAIT_MS)
        rows = stack.sql('SELECT int1 FROM pl_tutorial."StringIntTuple" WHERE string1 = %s',
                         "admin-edited")
        assert rows == [(7,)]


def test_plugin_setting_edited_and_config_masked(stack: AdminStack, admin: Any) -> None:
    """A tutorial setting saved on the settings page is stored and shown; each service's
    config is listed with its secrets masked."""
    admin.goto(stack.admin_url + "/settings")
    row = admin.locator('#plugin-settings tr[data-key="Property2"]')
    row.wait_for(timeout=WAIT_MS)
    row.locator("input").fill("42")
    row.locator("button").click()
    admin.wait_for_selector('#plugin-settings tr[data-key="Property2"] .status .ok',
                            timeout=WAIT_MS)
    assert "42" in row.locator(".status").inner_text()
    wait_for(lambda: row.locator("input").input_value() == "42", 60, "the stored value shown")
    admin.locator('details.config[data-service="agent"] summary').click()
    # It stays open while the services report again.
    admin.wait_for_selector('details.config[data-service="agent"][open] pre', timeout=WAIT_MS)
    config = admin.locator('details.config[data-service="agent"] pre').text_content()
    assert '"tokenFile": "***"' in config, config


def test_plugin_contributed_admin_page(stack: AdminStack, admin: Any) -> None:
    """The tutorial's admin page, declared in its plugin_package.json "admin" section, is
    listed and mounted, and shows the table's total from the server's observable."""
    admin.goto(stack.admin_url + "/plugin-pages")
    admin.click(f'nav.plugin-pages a[href="?plugin={TUTORIAL}"]')
    admin.wait_for_selector(".tutorial-total", timeout=WAIT_MS)
    wait_for(lambda: "Total of int1" in admin.inner_text(".tutorial-total"), 60,
             "the tutorial's total")

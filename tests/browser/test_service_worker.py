"""The device shell's service worker in Chromium: the app opens offline from its cache, and
a changed plugin UI installs a new cache version that replaces the old one."""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PHONE, new_page
from tests.browser.stack import wait_for_network
from tests.e2e.devices_data import client_config, server_config
from tests.support import ServiceProcess

PLUGIN = "fx_sw_app"
TIMEOUT_MS = 45_000

HOOK = '''
"""Fixture plugin: a device app and nothing else."""
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC


class ClientHook(PluginClientEntryHookABC):
    def load(self): return None
    def start(self): return None
    def stop(self): return None
    def unload(self): return None


def peekClientEntryHook(): return ClientHook
'''

APP = '''import {{ said }} from "./words.js";
export function mount(root) {{
  const p = document.createElement("p");
  p.id = "fx-text";
  p.textContent = said + " {text}";
  root.append(p);
}}
'''


@dataclass
class Sites:
    url: str
    web: Path


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    tmp = tmp_path_factory.mktemp("sw")
    package = tmp / "plugins" / PLUGIN
    web = package / "web"
    web.mkdir(parents=True)
    (package / "__init__.py").write_text(HOOK)
    (package / "plugin_package.json").write_text(json.dumps({
        "plugin": {"title": "SW fixture", "version": "1.0.0"}, "requiresServices": ["client"],
        "mobile": {"webDir": "web", "entry": "app.js"},
    }))
    (web / "app.js").write_text(APP.format(text="version-one"))
    (web / "words.js").write_text('export const said = "fixture";\n')
    server_cfg = server_config([])
    server = ServiceProcess("server", tmp / "server", server_cfg)
    client = None
    try:
        server.wait_log("Peek server is running", timeout=60)
        client_cfg = client_config([PLUGIN], tmp / "server", server_cfg)
        client = ServiceProcess("client", tmp / "client", client_cfg, pythonpath=tmp / "plugins")
        client.wait_log("Peek client is running", timeout=60)
        yield Sites(f"http://127.0.0.1:{client_cfg['httpServer']['mobile']['sitePort']}", web)
    finally:
        if client is not None:
            client.stop()
        server.stop()


def cache_names(page: Any) -> list[str]:
    return sorted(page.evaluate("caches.keys()"))


def listed_version(page: Any) -> str:
    return str(page.evaluate(
        "fetch('/peek/plugins.json', {cache: 'no-store'}).then(r => r.json()).then(j => "
        "j.version)"))


def test_app_opens_offline_and_a_changed_ui_replaces_the_cache(chromium: Any,
                                                              sites: Sites) -> None:
    """After one online visit the app (shell, bus client, plugin modules) opens with the
    browser offline; changing a plugin file changes the version, the next online load
    installs a worker whose cache holds the new files and the old cache is deleted, so
    the offline app then shows the new version."""
    from playwright.sync_api import expect

    with new_page(chromium, PHONE) as page:
        page.goto(f"{sites.url}/{PLUGIN}/")
        expect(page.locator("#fx-text")).to_have_text("fixture version-one", timeout=TIMEOUT_MS)
        page.wait_for_function("navigator.serviceWorker.controller !== null",
                               timeout=TIMEOUT_MS)
        first = listed_version(page)
        page.wait_for_function(f"caches.keys().then(k => k.includes('peek-mobile-{first}'))",
                               timeout=TIMEOUT_MS)
        assert cache_names(page) == [f"peek-mobile-{first}"]

        page.context.set_offline(True)
        wait_for_network(page, reachable=False)
        page.reload()
        expect(page.locator("#fx-text")).to_have_text("fixture version-one", timeout=TIMEOUT_MS)
        expect(page.locator("#peek-offline")).to_be_visible()
        page.context.set_offline(False)
        wait_for_network(page, reachable=True)

        app = sites.web / "app.js"
        app.write_text(APP.format(text="version-two"))
        stat = app.stat()
        os.utime(app, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        page.reload()
        expect(page.locator("#fx-text")).to_have_text("fixture version-two", timeout=TIMEOUT_MS)
        second = listed_version(page)
        assert second != first
        page.wait_for_function(
            f"caches.keys().then(k => k.length === 1 && k[0] === 'peek-mobile-{second}')",
            timeout=TIMEOUT_MS)

        page.context.set_offline(True)
        wait_for_network(page, reachable=False)
        page.reload()
        expect(page.locator("#fx-text")).to_have_text("fixture version-two", timeout=TIMEOUT_MS)
        page.context.set_offline(False)

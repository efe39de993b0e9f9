"""``twisted.reactor``: ``auto`` (the default) runs Twisted's own reactor unless an enabled
plugin declares ``"asyncio": true``; ``asyncio``/``default`` force either; a plugin needing
asyncio on a default-reactor service fails clearly while the others run; an unknown value
exits with the code for a bad config."""

import json
import signal
from pathlib import Path
from typing import Any

from tests.support import ServiceProcess, free_port, write_plugin

#: A server plugin whose start() creates an asyncio task and awaits asyncio.sleep.
ASYNC_SOURCE = '''
"""Fixture: uses asyncio in start()."""
import asyncio
import logging

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class Hook(PluginServerEntryHookABC):
    def load(self):
        pass

    async def start(self):
        self.task = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0.01)
        logging.getLogger(__name__).info("%s asyncio task running", __name__)

    async def stop(self):
        self.task.cancel()

    def unload(self):
        pass


def peekServerEntryHook():
    return Hook
'''

DECLARED = "fx_rx_declared"
UNDECLARED = "fx_rx_undeclared"


def server_config(enabled: list[str], **extra: object) -> dict[str, Any]:
    """A server running ``enabled`` (plus the noop plugin) on free ports."""
    return {"plugin": {"enabled": ["peek_plugin_noop", *enabled]},
            "httpServer": {"admin": {"sitePort": free_port()},
                           "platform": {"sitePort": free_port()}}, **extra}


def plugins(root: Path) -> Path:
    """The folder of the asyncio fixture plugins: one declaring asyncio, one not."""
    folder = root / "plugins"
    folder.mkdir()
    write_plugin(folder, DECLARED, services=("server",), init_source=ASYNC_SOURCE,
                 asyncio=True)
    write_plugin(folder, UNDECLARED, services=("server",), init_source=ASYNC_SOURCE)
    return folder


def test_auto_runs_the_default_reactor_without_an_asyncio_plugin(tmp_path: Path) -> None:
    """Without the key (auto) and no plugin declaring asyncio, the server runs Twisted's
    own reactor and its log says which and why."""
    server = ServiceProcess("server", tmp_path / "home", server_config([]))
    try:
        server.wait_log("Peek server is running", timeout=60)
        log = server.log()
        assert ('Twisted reactor: default (twisted.reactor is "auto" and no enabled plugin '
                'of the server service declares "asyncio": true)') in log
        assert "Plugin peek_plugin_noop started" in log
    finally:
        assert server.stop(timeout=30) == 0


def test_auto_runs_asyncio_when_an_enabled_plugin_declares_it(tmp_path: Path) -> None:
    """A plugin declaring ``"asyncio": true`` makes the server (auto) run the asyncio
    reactor, naming the plugin, and its asyncio task runs."""
    server = ServiceProcess("server", tmp_path / "home", server_config([DECLARED]),
                            pythonpath=plugins(tmp_path))
    try:
        server.wait_log("Peek server is running", timeout=60)
        log = server.log()
        assert (f'Twisted reactor: asyncio (twisted.reactor is "auto" and {DECLARED} '
                'declares "asyncio": true)') in log
        assert f"{DECLARED} asyncio task running" in log
    finally:
        assert server.stop(timeout=30) == 0


def test_forced_default_refuses_an_asyncio_plugin_and_runs_the_others(tmp_path: Path) -> None:
    """``twisted.reactor: "default"`` wins over a declaration: the declaring plugin fails
    with the reason and the setting to change, the noop plugin runs."""
    server = ServiceProcess("server", tmp_path / "home",
                            server_config([DECLARED], twisted={"reactor": "default"}),
                            pythonpath=plugins(tmp_path))
    try:
        server.wait_log("Peek server is running", timeout=60)
        log = server.log()
        assert 'Twisted reactor: default (twisted.reactor is "default")' in log
        assert (f"Plugin {DECLARED} failed: needs the asyncio reactor") in log
        assert "set twisted.reactor to asyncio or auto and restart the service" in log
        assert "Plugin peek_plugin_noop started" in log
    finally:
        assert server.stop(timeout=30) == 0


def test_asyncio_plugin_enabled_by_sighup_on_the_default_reactor_fails_clearly(
        tmp_path: Path) -> None:
    """Enabling a plugin that declares asyncio by SIGHUP on a server that chose the default
    reactor fails that plugin with the reason; the noop plugin keeps running; after a
    restart (auto) the server runs asyncio and the plugin starts."""
    home = tmp_path / "home"
    folder = plugins(tmp_path)
    server = ServiceProcess("server", home, server_config([]), pythonpath=folder)
    try:
        server.wait_log("Peek server is running", timeout=60)
        assert "Twisted reactor: default" in server.log()
        config = json.loads((home / "config.json").read_text())
        config["plugin"]["enabled"].append(DECLARED)
        (home / "config.json").write_text(json.dumps(config, indent=4))
        server.signal(signal.SIGHUP)
        server.wait_log(f"Plugin {DECLARED} failed: needs the asyncio reactor", timeout=60)
        server.wait_log("server service: 1 plugin(s) running: peek_plugin_noop", timeout=60)
        log = server.log()
        assert "set twisted.reactor to asyncio or auto and restart the service" in log
        assert "Plugin peek_plugin_noop stopped" not in log
        assert server.proc.poll() is None
    finally:
        assert server.stop(timeout=30) == 0
    again = ServiceProcess("server", home, pythonpath=folder)
    try:
        again.wait_log("Peek server is running", timeout=60)
        log = again.log()
        assert f'Twisted reactor: asyncio (twisted.reactor is "auto" and {DECLARED}' in log
        assert f"{DECLARED} asyncio task running" in log
    finally:
        assert again.stop(timeout=30) == 0


def test_undeclared_asyncio_use_on_the_default_reactor_names_plugin_and_setting(
        tmp_path: Path) -> None:
    """A plugin that calls asyncio without declaring it fails on the default reactor with a
    reason naming the plugin and the declaration or setting, not asyncio's bare "no
    running event loop"; the noop plugin runs."""
    server = ServiceProcess("server", tmp_path / "home", server_config([UNDECLARED]),
                            pythonpath=plugins(tmp_path))
    try:
        server.wait_log("Peek server is running", timeout=60)
        log = server.log()
        assert "Twisted reactor: default" in log
        assert f"Plugin {UNDECLARED} failed: start() failed: AsyncioReactorError" in log
        assert f"plugin {UNDECLARED} used asyncio (no running event loop)" in log
        assert "declare \"asyncio\": true in the plugin's plugin_package.json" in log
        assert "Plugin peek_plugin_noop started" in log
    finally:
        assert server.stop(timeout=30) == 0


def test_bad_asyncio_declaration_fails_only_that_plugin(tmp_path: Path) -> None:
    """``"asyncio": "yes"`` fails that plugin naming the key; the reactor choice ignores
    it (with a warning) and the others run."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    write_plugin(folder, "fx_rx_bad", services=("server",), init_source=ASYNC_SOURCE,
                 package_json=json.dumps({"plugin": {"title": "bad", "version": "1"},
                                          "requiresServices": ["server"], "asyncio": "yes"}))
    server = ServiceProcess("server", tmp_path / "home", server_config(["fx_rx_bad"]),
                            pythonpath=folder)
    try:
        server.wait_log("Peek server is running", timeout=60)
        log = server.log()
        assert "Twisted reactor: default" in log
        assert ('Plugin fx_rx_bad failed: plugin_package.json: "asyncio" must be true or '
                "false, got 'yes'") in log
        assert "Plugin peek_plugin_noop started" in log
    finally:
        assert server.stop(timeout=30) == 0


def test_unknown_reactor_is_a_config_error(tmp_path: Path) -> None:
    """An unknown reactor name exits 78 naming the key and the allowed values."""
    server = ServiceProcess("server", tmp_path / "home",
                            server_config([], twisted={"reactor": "uvloop"}))
    assert server.proc.wait(timeout=60) == 78
    err = server.stderr()
    assert "twisted.reactor" in err and "auto" in err and "asyncio" in err
    assert "default" in err

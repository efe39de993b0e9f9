"""Reloading plugins in a running run_peek_server: ``pip install -e`` then SIGHUP, changed
code, a reload that fails, HTTP 503 while a plugin reloads, and restart-only keys.

Isolation: the plugin is installed into a throwaway virtualenv layered on this one (a
``.pth`` calls ``site.addsitedir`` on this environment's site-packages, so the platform is
importable there), and the server runs on that environment's interpreter. ``pip install
-e`` writes only into the throwaway environment, so the shared virtualenv never sees the
plugin, even if the test dies half-way; the folder is removed afterwards.
"""

import importlib.util
import json
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from peek_platform.storage.schema_names import PLATFORM_SCHEMA
from peek_plugin_base.storage.engine_factory import make_engine
from tests.e2e.devices_data import server_config
from tests.support import BIN, ServiceProcess, make_layered_env, wait_for

NAME = "peek_plugin_reloadme"
DIST = NAME.replace("_", "-")
TIMEOUT = 60.0


def _run(*command: str) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


@pytest.fixture
def layered_env(tmp_path: Path) -> Iterator[Path]:
    """A virtualenv whose interpreter also sees this environment's packages; its python."""
    env = tmp_path / "env"
    yield make_layered_env(env)
    shutil.rmtree(env, ignore_errors=True)


@pytest.fixture
def scaffolded(tmp_path: Path) -> Path:
    """A freshly generated server plugin with storage (so loading it migrates)."""
    _run(str(BIN / "peek_plugin"), "new", NAME, "--services", "server", "--storage",
         "--dest", str(tmp_path / "src"))
    return tmp_path / "src" / DIST


def set_code(dist: Path, mark: str, mode: str = "", release: Path | None = None) -> None:
    """Make the plugin's start() serve ``/<plugin>/version`` answering ``mark``; ``mode``
    "wait": start() finishes only once ``release`` exists; "raise": start() raises."""
    hook = dist / NAME / "_private" / "server" / "ServerEntryHook.py"
    source = hook.read_text()
    marker = "    def _generated_start(self) -> None:"
    if marker in source:
        source = source[:source.index("    def start(self):")] + source[source.index(marker):]
    else:
        source = source.replace("    def start(self) -> None:", marker)
    added = f'''    def start(self):
        self._generated_start()
        from twisted.web.resource import Resource

        class Version(Resource):
            isLeaf = True

            def render_GET(self, request):
                return {mark.encode()!r}

        self.platform.addServerResource(b"version", Version())
        logger.info("reload marker {mark}")
        if {mode!r} == "raise":
            raise RuntimeError("{mark} start broke on purpose")
        if {mode!r} == "wait":
            return self._wait_for_release()

    async def _wait_for_release(self):
        import os
        from twisted.internet import reactor, task
        while not os.path.exists({str(release)!r}):
            await task.deferLater(reactor, 0.05, lambda: None)

'''
    hook.write_text(source.replace(marker, added + marker))


def get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of a GET on the server's platform site."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def migrations_of(home: Path) -> list[tuple[str, str]]:
    """The plugin rows of the platform's migration log in the server's SQLite database."""
    engine = make_engine(f"sqlite:///{home}/peek.sqlite", [PLATFORM_SCHEMA])
    try:
        with engine.connect() as c:
            rows = c.execute(text(
                f'SELECT owner, outcome FROM "{PLATFORM_SCHEMA}"."SchemaMigrationLog" '
                "WHERE owner <> :platform ORDER BY id"), {"platform": PLATFORM_SCHEMA})
            return [(str(owner), str(outcome)) for owner, outcome in rows]
    finally:
        engine.dispose()


def set_enabled(home: Path, enabled: list[str]) -> dict[str, Any]:
    config = json.loads((home / "config.json").read_text())
    config["plugin"]["enabled"] = enabled
    (home / "config.json").write_text(json.dumps(config, indent=4))
    return config


def test_pip_install_e_then_sighup_loads_reloads_and_isolates_failure(
    layered_env: Path, scaffolded: Path, tmp_path: Path
) -> None:
    """A plugin ``pip install -e``-ed after the server started, enabled in config.json,
    loads on SIGHUP (its schema migrated) and answers; a SIGHUP after its code changed
    reloads it, answering 503 with a JSON reason while it is between stop and start, then
    the new code; new code that fails to start leaves it failed with the reason while the
    other plugin keeps running."""
    home = tmp_path / "peek-server.home"
    config = server_config(["peek_plugin_noop"])
    port = config["httpServer"]["platform"]["sitePort"]
    server = ServiceProcess("server", home, config, python=layered_env)
    try:
        server.wait_log("Peek server is running", timeout=TIMEOUT)
        set_code(scaffolded, "v1")
        _run(str(layered_env), "-m", "pip", "install", "-q", "--no-deps",
             "--no-build-isolation", "-e", str(scaffolded))
        assert importlib.util.find_spec(NAME) is None, "the shared environment saw it"

        set_enabled(home, ["peek_plugin_noop", NAME])
        server.signal(signal.SIGHUP)
        server.wait_log(f"Plugin {NAME} started", timeout=TIMEOUT)
        assert migrations_of(home) == [(NAME, "created")]
        assert get(port, f"/{NAME}/version") == (200, "v1")

        release = tmp_path / "release"
        set_code(scaffolded, "v2", "wait", release)
        server.signal(signal.SIGHUP)
        server.wait_log("reload marker v2", timeout=TIMEOUT)
        status, body = get(port, f"/{NAME}/version")
        assert status == 503, body
        assert json.loads(body) == {
            "error": "PluginReloading", "plugin": NAME,
            "message": f"plugin {NAME} is reloading; retry shortly"}
        release.touch()
        server.wait_log(f"Plugin {NAME} reloaded", timeout=TIMEOUT)
        assert get(port, f"/{NAME}/version") == (200, "v2")

        set_code(scaffolded, "v3", "raise")
        server.signal(signal.SIGHUP)
        server.wait_log(f"Plugin {NAME} failed: start() failed: RuntimeError('v3 start broke "
                        "on purpose')", timeout=TIMEOUT)
        wait_for(lambda: "1 plugin(s) running: peek_plugin_noop" in server.log(), TIMEOUT,
                 "the noop plugin still running")
        assert get(port, f"/{NAME}/version")[0] == 404
        assert server.proc.poll() is None
    finally:
        assert server.stop(timeout=30) == 0, server.stderr()


def test_sighup_names_keys_that_need_a_restart(tmp_path: Path) -> None:
    """A SIGHUP after a restart-only key changed logs a WARNING naming the key and the
    value still in use; the service keeps running and keeps applying live keys."""
    home = tmp_path / "peek-server.home"
    config = server_config([])
    old_port = config["httpServer"]["platform"]["sitePort"]
    server = ServiceProcess("server", home, config)
    try:
        server.wait_log("Peek server is running", timeout=TIMEOUT)
        changed = json.loads((home / "config.json").read_text())
        changed["httpServer"]["platform"]["sitePort"] = old_port + 1
        changed["logging"]["level"] = "WARNING"
        (home / "config.json").write_text(json.dumps(changed, indent=4))
        server.signal(signal.SIGHUP)
        server.wait_log(
            f"WARNING peek_platform.service.runner: SIGHUP: httpServer.platform.sitePort "
            f"changed in {home / 'config.json'} but is only read at start; the service "
            f"keeps running with {old_port} until it is restarted", timeout=TIMEOUT)
        assert "SIGHUP: logging.level changed" not in server.log()
        assert get(old_port, "/")[0] == 200
    finally:
        assert server.stop(timeout=30) == 0, server.stderr()

"""Real server and client service processes for browser tests, and the tutorial's data.

:class:`BrowserPlatform` starts ``run_peek_server`` and ``run_peek_client`` (the tutorial
plugin plus the ``fx_browser`` fixture plugin) on free ports with a new PostgreSQL
database; the client service can be stopped and started again on the same ports.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

import psycopg

from tests.e2e.devices_data import client_config, server_config
from tests.storage_crud.harness import new_database
from tests.support import ServiceProcess, write_plugin

FIXTURE_PLUGIN = "fx_browser"
FIXTURE_SOURCE = '''
"""Fixture plugin of the browser bus client tests."""
from tests.browser.fx_browser import (peekClientEntryHook as peekClientEntryHook,
    peekServerEntryHook as peekServerEntryHook)
'''
PLUGINS = ["peek_plugin_tutorial", FIXTURE_PLUGIN]
#: The echo RPC's name, as a page calls it.
ECHO_RPC = "tests.browser.fx_browser.echo"
FAIL_RPC = "tests.browser.fx_browser.fail"
SERVER_RPC = "tests.browser.fx_browser.serverSecret"


class BrowserPlatform:
    """A server and a client service for one test (or one module of tests)."""

    def __init__(self, plugins: Optional[list[str]] = None) -> None:
        self.cleanups: list[Any] = []
        self.root = Path(tempfile.mkdtemp(prefix="peek-bus-browser-"))
        self.plugins_dir = self.root / "plugins"
        self.plugins_dir.mkdir()
        write_plugin(self.plugins_dir, FIXTURE_PLUGIN, services=("server", "client"),
                     init_source=FIXTURE_SOURCE)
        enabled = plugins or PLUGINS
        self.db_url = new_database("postgres", self.cleanups.append)
        self.server_config = server_config(enabled, self.db_url)
        self.server_home = self.root / "server"
        self.client_config = client_config(enabled, self.server_home, self.server_config)
        self.client_home = self.root / "client"
        self.mobile_port: int = self.client_config["httpServer"]["mobile"]["sitePort"]
        self.desktop_port: int = self.client_config["httpServer"]["desktop"]["sitePort"]
        self.admin_port: int = self.server_config["httpServer"]["admin"]["sitePort"]
        self.server: Optional[ServiceProcess] = None
        self.client: Optional[ServiceProcess] = None

    @property
    def mobile_url(self) -> str:
        return f"http://127.0.0.1:{self.mobile_port}"

    @property
    def desktop_url(self) -> str:
        return f"http://127.0.0.1:{self.desktop_port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def bus_url(self, site: str) -> str:
        """The websocket URL of the client service's ``mobile`` or ``desktop`` bus websocket."""
        port = self.mobile_port if site == "mobile" else self.desktop_port
        return f"ws://127.0.0.1:{port}/vortexws"

    def start(self) -> "BrowserPlatform":
        self.server = self._start("server", self.server_home, self.server_config)
        self.start_client()
        return self

    def _start(self, service: str, home: Path, config: dict[str, Any]) -> ServiceProcess:
        process = ServiceProcess(service, home, config, self.plugins_dir)
        try:
            process.wait_log(f"Peek {service} is running", timeout=90)
        except BaseException:
            process.stop()
            raise
        return process

    def start_client(self) -> ServiceProcess:
        """Start the client service (again), on the same ports."""
        self.client = self._start("client", self.client_home, self.client_config)
        return self.client

    def stop_client(self) -> None:
        if self.client is not None:
            self.client.stop(timeout=30)
            self.client = None

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one SQL statement on the server's database (rows, if it returns any)."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def add_string_ints(self, *rows: tuple[str, int]) -> list[int]:
        """Insert StringInt rows behind the server's back (observers see them on their
        first subscribe); returns their ids."""
        ids = []
        for string1, int1 in rows:
            (row,) = self.sql('INSERT INTO pl_tutorial."StringIntTuple" (string1, int1) '
                              "VALUES (%s, %s) RETURNING id", string1, int1)
            ids.append(row[0])
        return ids

    def close(self) -> None:
        for process in (self.client, self.server):
            if process is not None:
                try:
                    process.stop(timeout=30)
                except AssertionError:
                    pass
        self.client = self.server = None
        while self.cleanups:
            self.cleanups.pop()()
        shutil.rmtree(self.root, ignore_errors=True)

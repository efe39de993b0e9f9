"""The tutorial running as a user would have it: server, worker and client processes.

Used by the browser tests, ``scripts/screenshots.py`` and the page benchmarks. The client
service can be stopped and started again on the same ports and home (the offline tests).
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from tests.e2e.devices_data import client_config, server_config
from tests.support import REPO, ServiceProcess

PLUGINS = ["peek_plugin_tutorial"]
START_TIMEOUT = 90.0


class TutorialStack:
    """``run_peek_server``, ``run_peek_worker`` and ``run_peek_client`` with the tutorial."""

    def __init__(self, root: Optional[Path] = None, worker: bool = True) -> None:
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="peek-browser-"))
        self.server_home = self.root / "peek-server.home"
        self.server_cfg = server_config(PLUGINS)
        self.client_cfg = client_config(PLUGINS, self.server_home, self.server_cfg)
        self.with_worker = worker
        self.server: Optional[ServiceProcess] = None
        self.worker: Optional[ServiceProcess] = None
        self.client: Optional[ServiceProcess] = None

    @property
    def mobile_url(self) -> str:
        return f"http://127.0.0.1:{self.client_cfg['httpServer']['mobile']['sitePort']}"

    @property
    def desktop_url(self) -> str:
        return f"http://127.0.0.1:{self.client_cfg['httpServer']['desktop']['sitePort']}"

    def url(self, site: str) -> str:
        """The base URL of the "mobile" or "desktop" site."""
        return self.mobile_url if site == "mobile" else self.desktop_url

    @property
    def platform_port(self) -> int:
        return int(self.server_cfg["httpServer"]["platform"]["sitePort"])

    def start(self) -> "TutorialStack":
        """Start every service and wait until each runs (the server first: it migrates)."""
        try:
            self.server = self._start("server", self.server_home, self.server_cfg)
            if self.with_worker:
                upstream = {"peekServer": self.client_cfg["peekServer"]}
                self.worker = self._start("worker", self.root / "peek-worker.home", {
                    "plugin": {"enabled": PLUGINS}, "logging": {"level": "INFO"}, **upstream,
                    "celery": {"worker": {"pool": "solo", "concurrency": 1}},
                })
            self.start_client()
        except BaseException:
            self.close()
            raise
        return self

    def start_client(self) -> None:
        """Start the client service (again), on the same home and ports."""
        self.client = self._start("client", self.root / "peek-client.home", self.client_cfg)

    def stop_client(self) -> None:
        """Stop the client service (SIGTERM, waited for): devices lose their connection."""
        if self.client is not None:
            self.client.stop()
            self.client = None

    @staticmethod
    def _start(service: str, home: Path, config: dict[str, Any]) -> ServiceProcess:
        process = ServiceProcess(service, home, config)
        try:
            process.wait_log(f"Peek {service} is running", timeout=START_TIMEOUT)
        except BaseException:
            process.stop()
            raise
        return process

    def admin(self, command: str, argument: Any = "") -> list[dict[str, Any]]:
        """An admin edit through the tutorial's tuple loader (``load``, ``save`` a list of
        row dicts, ``delete`` an id), in a separate process; the rows it answered."""
        if not isinstance(argument, str):
            argument = json.dumps(argument)
        done = subprocess.run(
            [sys.executable, "-m", "tests.browser.admin_tool", str(self.platform_port),
             str(self.server_home / "platform.token"), command, argument],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"admin {command} failed:\n{done.stdout}\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop every service (client first) and remove the temporary folder."""
        for name in ("client", "worker", "server"):
            process = getattr(self, name)
            if process is not None:
                try:
                    process.stop(timeout=20)
                finally:
                    setattr(self, name, None)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

"""The tutorial as a user runs it: server, worker and client processes, plus admin edits.

:class:`TutorialStack` is the browser tests' :class:`~tests.browser.platform.BrowserPlatform`
with the tutorial only, a ``run_peek_worker`` (the page shows the worker's total), and
:meth:`TutorialStack.admin`, which edits the StringInt table through the tutorial's tuple
loader as the admin site does. Used by the device app tests, ``scripts/screenshots.py`` and
the page benchmarks.
"""

import json
import subprocess
import sys
from typing import Any, Optional

from tests.browser.platform import BrowserPlatform
from tests.support import REPO, ServiceProcess

PLUGINS = ["peek_plugin_tutorial"]


class TutorialStack(BrowserPlatform):
    """``run_peek_server``, ``run_peek_worker`` and ``run_peek_client`` with the tutorial."""

    def __init__(self, worker: bool = True) -> None:
        super().__init__(PLUGINS)
        self.with_worker = worker
        self.worker: Optional[ServiceProcess] = None
        # The server queues the total's task where the worker takes it from.
        celery = {"embeddedDir": str(self.root / "celery")}
        self.server_config["celery"] = celery
        self.worker_config: dict[str, Any] = {
            "plugin": {"enabled": PLUGINS}, "logging": {"level": "INFO"},
            "peekServer": self.client_config["peekServer"],
            "sqlalchemy": {"connectUrl": self.db_url},
            "celery": {**celery, "worker": {"pool": "solo", "concurrency": 1}},
        }

    def url(self, site: str) -> str:
        """The base URL of the "mobile" or "desktop" site."""
        return self.mobile_url if site == "mobile" else self.desktop_url

    @property
    def platform_port(self) -> int:
        return int(self.server_config["httpServer"]["platform"]["sitePort"])

    def start(self) -> "TutorialStack":
        """Server (it migrates), worker, then client; everything stops if one fails."""
        try:
            self.server = self._start("server", self.server_home, self.server_config)
            if self.with_worker:
                self.worker = self._start("worker", self.root / "worker", self.worker_config)
            self.start_client()
        except BaseException:
            self.close()
            raise
        return self

    def admin(self, command: str, argument: Any = "") -> list[dict[str, Any]]:
        """An admin edit through the tutorial's tuple loader (``load``, ``save`` a list of
        row dicts, ``delete`` an id), from a separate process; the rows it answered."""
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
        if self.worker is not None:
            try:
                self.worker.stop(timeout=30)
            except AssertionError:
                pass
            self.worker = None
        super().close()


def wait_for_network(page: Any, reachable: bool, timeout_ms: float = 45_000) -> None:
    """Wait until requests from ``page`` through its service worker do (or do not) reach
    the site: the browser's offline switch reaches the worker a moment after the page.

    The probe asks for a path nothing serves and the worker never caches: a 404 means the
    network answered, a failed fetch means it did not.
    """
    probe = ("fetch('/peek/network-probe-' + Math.random(), {cache: 'no-store'})"
             ".then(r => r.status === 404, () => false)")
    page.wait_for_function(probe if reachable else f"({probe}).then(ok => !ok)",
                           timeout=timeout_ms)

"""All four services as processes for the admin pages' browser tests and screenshots.

:class:`AdminStack` is the tutorial stack (server, worker, client on PostgreSQL) plus a
``run_peek_agent`` that runs the tutorial, the noop plugin and ``fx_admin_broken`` (its
``start()`` raises, so its reason shows). The server drops a silent peer within
``HEARTBEAT_TIMEOUT`` seconds. :meth:`AdminStack.login` logs a browser page in with the
first admin password the server wrote.
"""

import signal
from typing import Any, Optional

from tests.browser.stack import TutorialStack
from tests.security.admin_session import first_password
from tests.support import ServiceProcess, write_plugin

TUTORIAL = "peek_plugin_tutorial"
NOOP = "peek_plugin_noop"
BROKEN = "fx_admin_broken"
#: The server's heartbeat timeout in these tests (a gone agent shows within it).
HEARTBEAT_TIMEOUT = 3.0


class AdminStack(TutorialStack):
    """Server, worker, client and agent, with the example plugins."""

    def __init__(self) -> None:
        super().__init__()
        write_plugin(self.plugins_dir, BROKEN, services=("agent",), behaviour={"start": "raise"})
        self.server_config["plugin"]["enabled"] = [TUTORIAL, NOOP]
        self.server_config["logging"] = {"level": "INFO"}
        self.server_config["vortex"] = {"heartbeatSeconds": 1.0,
                                        "heartbeatTimeoutSeconds": HEARTBEAT_TIMEOUT}
        self.client_config["logging"] = {"level": "INFO"}
        self.agent_config: dict[str, Any] = {
            "plugin": {"enabled": [TUTORIAL, NOOP, BROKEN]},
            "logging": {"level": "INFO"},
            "peekServer": self.client_config["peekServer"],
        }
        self.agent_home = self.root / "agent"
        self.agent: Optional[ServiceProcess] = None

    def start(self) -> "AdminStack":
        super().start()
        try:
            self.start_agent()
        except BaseException:
            self.close()
            raise
        return self

    def start_agent(self) -> ServiceProcess:
        """Start the agent (again: its home and config.json are kept)."""
        config = None if (self.agent_home / "config.json").exists() else self.agent_config
        self.agent = ServiceProcess("agent", self.agent_home, config, self.plugins_dir)
        try:
            self.agent.wait_log("Peek agent is running", timeout=90)
        except BaseException:
            self.agent.stop()
            raise
        return self.agent

    def kill_agent(self) -> None:
        """SIGKILL the agent: no goodbye, the server must notice by itself."""
        assert self.agent is not None
        self.agent.proc.send_signal(signal.SIGKILL)
        self.agent.proc.wait(30)
        if self.agent.proc.stderr is not None:
            self.agent.proc.stderr.close()

    @property
    def password(self) -> str:
        return first_password(self.server_home)

    def login(self, page: Any, path: str = "/") -> None:
        """Log ``page`` in through the login form and land on ``path``."""
        page.goto(self.admin_url + path)
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", self.password)
        page.click("button[type=submit]")
        page.wait_for_url(self.admin_url + path)

    def close(self) -> None:
        if self.agent is not None:
            try:
                self.agent.stop(timeout=30)
            except AssertionError:
                pass
            self.agent = None
        super().close()

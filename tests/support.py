"""Helpers shared by the tests: free ports, fixture plugins, Deferred results, service processes."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORT_RANGE = (10000, min(_ephemeral_low(), 65536))
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 a moment ago, for a service a test starts.

    Chosen below the kernel's ephemeral range: a port the kernel picked with ``bind(0)``
    could be given to some outgoing connection before the service binds it ("Address
    already in use"), while ports outside that range are only ever taken on purpose. A port
    is handed out once per test process.
    """
    low, high = _PORT_RANGE
    for _ in range(1000):
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port found between {low} and {high}")


def result_of(d: Deferred[Any]) -> Any:
    """The result of an already-fired Deferred; fails the test if it has not fired or failed."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "Deferred has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


PLUGIN_TEMPLATE = '''
"""Fixture plugin {name}."""
from tests.host_journal import make_hooks

(peekServerEntryHook, peekClientEntryHook, peekAgentEntryHook,
 peekWorkerEntryHook) = make_hooks("{name}", {behaviour!r})
'''


def write_plugin(
    root: Path,
    name: str,
    services: tuple[str, ...] = ("server", "client", "agent", "worker"),
    requires: tuple[str, ...] = (),
    behaviour: Optional[dict[str, str]] = None,
    init_source: Optional[str] = None,
    package_json: Optional[str] = None,
    asyncio: bool = False,
) -> Path:
    """Write a plugin package under ``root``; ``behaviour`` maps a lifecycle step to a mode;
    ``asyncio`` declares that it needs the asyncio reactor."""
    package = root / name
    package.mkdir(parents=True)
    source = init_source or PLUGIN_TEMPLATE.format(name=name, behaviour=behaviour or {})
    (package / "__init__.py").write_text(source)
    if package_json is None:
        package_json = json.dumps(
            {
                "plugin": {"title": name, "version": "1.0.0"},
                "requiresServices": list(services),
                "requiresPlugins": list(requires),
                **({"asyncio": True} if asyncio else {}),
            }
        )
    if package_json:
        (package / "plugin_package.json").write_text(package_json)
    return package


def make_layered_env(env: Path) -> Path:
    """A virtualenv at ``env`` whose interpreter also sees this environment's packages (a
    ``.pth`` calls ``site.addsitedir`` on this one's site-packages); its python. Whatever
    pip installs with that interpreter goes into ``env`` only, never into the shared one."""
    import sysconfig

    done = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "peek_parent_env.pth").write_text(
        f"import site; site.addsitedir({parent!r})\n")
    return python


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy and return that value; fail naming ``what``
    after ``timeout`` seconds. Blocking: for tests that drive subprocesses, not a reactor."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class ServiceProcess:
    """A ``run_peek_<service>`` subprocess with its own home, read through its log file."""

    def __init__(self, service: str, home: Path, config: Optional[dict[str, Any]] = None,
                 pythonpath: Optional[Path] = None, python: Optional[Path] = None) -> None:
        """``python``: run the service's main with this interpreter (another virtualenv)
        instead of this environment's ``run_peek_<service>`` script."""
        self.service = service
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        if config is not None:
            (home / "config.json").write_text(json.dumps(config, indent=4))
        self.log_path = home / f"peek-{service}.log"
        # A reused home already holds earlier runs' lines; only this run's lines count.
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = dict(os.environ)
        if pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(REPO)])
        command = [str(BIN / f"run_peek_{service}")]
        if python is not None:
            command = [str(python), "-c", f"import sys; from peek_{service}.main import main; "
                       "sys.exit(main())"]
        self.proc = subprocess.Popen(
            [*command, "--home", str(home)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )

    def log(self) -> str:
        """This run's log so far."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text: str, timeout: float = 20.0) -> None:
        """Wait until ``text`` appears in the log; fail with the log if it never does."""
        wait_for(lambda: text in self.log() or self.proc.poll() is not None, timeout, text)
        assert text in self.log(), f"{text!r} not in log:\n{self.log()}\n{self.stderr()}"

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit code (killed and failed if it takes over ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # Every thread's stack (the service dumps them on SIGUSR1) says where it hangs.
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            self.proc.kill()
            self.proc.wait()
            stderr = self.proc.stderr
            stacks = stderr.read() if stderr is not None and not stderr.closed else ""
            raise AssertionError(
                f"{self.service} did not exit within {timeout}s\nlog tail:\n"
                f"{self.log()[-4000:]}\nstderr (thread stacks):\n{stacks[-8000:]}") from None

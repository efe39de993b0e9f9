"""Start all four Peek services together with prefixed logs; Ctrl-C stops them all cleanly.

Homes live under ``.run/`` in the repository (override with ``PEEK_RUN_DIR``) so a
developer's ``~/peek-*.home`` stays untouched. A home that has no config.json yet gets one
enabling the example plugins; after that the file is the developer's to edit, except for
``logging.level``, which every run sets from ``PEEK_LOG_LEVEL`` (default INFO;
``make run PEEK_LOG_LEVEL=DEBUG`` for everything).
"""

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

SERVICES = ("server", "client", "agent", "worker")
EXAMPLE_PLUGINS = ["peek_plugin_noop", "peek_plugin_tutorial", "peek_plugin_monitoring"]
REPO = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 15
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "INFO"


def log_level(environ: Mapping[str, str]) -> str:
    """The level every service logs at: ``PEEK_LOG_LEVEL`` or INFO; SystemExit naming the
    variable when it is not a level."""
    level = environ.get("PEEK_LOG_LEVEL", "").strip().upper() or DEFAULT_LOG_LEVEL
    if level not in LOG_LEVELS:
        raise SystemExit(f"run_all: PEEK_LOG_LEVEL={environ['PEEK_LOG_LEVEL']!r} is not one "
                         f"of {', '.join(LOG_LEVELS)}")
    return level


def _prepare_home(run_dir: Path, service: str, level: str) -> Path:
    home = run_dir / f"peek-{service}.home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.json"
    if not config.exists():
        config.write_text(json.dumps({"plugin": {"enabled": EXAMPLE_PLUGINS}}, indent=4) + "\n")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # The service itself names what is wrong with the file; leave it as it is.
        return home
    if isinstance(data, dict) and isinstance(data.setdefault("logging", {}), dict):
        if data["logging"].get("level") != level:
            data["logging"]["level"] = level
            config.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
    return home


def _pump(service: str, stream: "subprocess.IO[str]") -> None:
    prefix = f"[{service:>6}] "
    for line in stream:
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def main() -> int:
    """Run the services until Ctrl-C or SIGTERM, then stop them in reverse order."""
    run_dir = Path(os.environ.get("PEEK_RUN_DIR", REPO / ".run"))
    bin_dir = Path(sys.executable).parent
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    level = log_level(os.environ)
    # Client, agent and worker find the server's platform token through its home.
    env = dict(os.environ, PEEK_SERVER_HOME=str(run_dir / "peek-server.home"))
    for service in SERVICES:
        home = _prepare_home(run_dir, service, level)
        proc = subprocess.Popen(
            [str(bin_dir / f"run_peek_{service}"), "--home", str(home), "--log-stdout"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # Ctrl-C reaches only us; we stop each service in order
        )
        threading.Thread(target=_pump, args=(service, proc.stdout), daemon=True).start()
        procs.append((service, proc))

    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while not stopping.is_set():
        if any(proc.poll() is not None for _, proc in procs):
            break
        stopping.wait(0.5)

    exit_code = 0
    for service, proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"[run_all] {service} did not stop in {STOP_TIMEOUT_SECONDS}s; killing it")
            proc.kill()
            code = proc.wait()
        print(f"[run_all] {service} exited with code {code}")
        exit_code = exit_code or code
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

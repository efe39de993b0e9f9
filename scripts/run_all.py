"""Start all four Peek services together with prefixed logs; Ctrl-C stops them all cleanly.

A service that exits on its own (a crash, ``kill``) is started again after a few seconds
while the others keep running, as the systemd units do; one whose config.json is unusable
(exit 78), or that exits within seconds of starting three times in a row, is left stopped
with a line saying so.

Homes live under ``.run/`` in the repository (override with ``PEEK_RUN_DIR``) so a
developer's ``~/peek-*.home`` stays untouched. A home that has no config.json yet gets one
enabling the example plugins; after that the file is the developer's to edit, except for
``logging.level``, which every run sets from ``PEEK_LOG_LEVEL`` (default INFO;
``make run PEEK_LOG_LEVEL=DEBUG`` for everything).

The server's endpoint routes (``/sysinfo``, ``/plugins``, ``/reload/...``) need an API key.
Each run makes sure ``.run/dev-api-key`` (mode 0600) holds a key whose digest is the
``make-run-dev`` entry of the server's ``httpServer.apiKeys`` (it admits every endpoint
and the control routes), creating both when missing, and prints where the key is. The key
exists only in this checkout's ``.run/``: nothing committed opens anything.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

SERVICES = ("server", "client", "agent", "worker")
EXAMPLE_PLUGINS = ["peek_plugin_noop", "peek_plugin_tutorial", "peek_plugin_sysinfo",
                   "peek_plugin_monitoring"]
DEV_KEY_FILE = "dev-api-key"
DEV_KEY_NAME = "make-run-dev"
#: Pages served from these origins (the client's mobile site) may call the endpoints.
DEV_CORS_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
REPO = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 15
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "INFO"
RESTART_DELAY_SECONDS = 3
#: An exit this soon after a start counts as "exits right after starting".
QUICK_EXIT_SECONDS = 10
QUICK_EXITS_ALLOWED = 3
#: run_peek_*'s exit code for a config.json it cannot use (restarting would not help).
EXIT_CONFIG = 78


def should_restart(code: int, quick_exits: int) -> bool:
    """Whether a service that exited on its own with ``code`` is started again, after
    ``quick_exits`` exits in a row each soon after its start."""
    return code != EXIT_CONFIG and quick_exits < QUICK_EXITS_ALLOWED


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
        initial: dict[str, object] = {"plugin": {"enabled": EXAMPLE_PLUGINS}}
        if service == "server":
            initial["httpServer"] = {"corsOrigins": DEV_CORS_ORIGINS}
        config.write_text(json.dumps(initial, indent=4) + "\n")
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


def prepare_dev_key(run_dir: Path, server_home: Path) -> Path:
    """Make sure ``run_dir/dev-api-key`` holds a key the server admits; return its path."""
    from peek_platform.config import read_json_object
    from peek_platform.web.api_keys import add_entry_to_config, hash_api_key, new_entry

    key_file = run_dir / DEV_KEY_FILE
    config_path = server_home / "config.json"
    try:
        key = key_file.read_text().strip()
        data = read_json_object(config_path) or {}
        entries = data.get("httpServer", {}).get("apiKeys", [])
        if any(isinstance(e, dict) and e.get("name") == DEV_KEY_NAME
               and e.get("hash") == hash_api_key(key) for e in entries):
            return key_file
    except (OSError, ValueError, AttributeError):
        pass  # missing or unusable: make a fresh key below
    key, entry = new_entry(DEV_KEY_NAME, ["*"], ["*"], True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.chmod(key_file, 0o600)
    add_entry_to_config(config_path, entry)
    return key_file


def _platform_port(server_home: Path) -> int:
    """The server's platform site port as its config.json sets it (8011 by default)."""
    try:
        port = json.loads((server_home / "config.json").read_text())["httpServer"]["platform"][
            "sitePort"]
    except (OSError, ValueError, KeyError, TypeError):
        return 8011
    return port if isinstance(port, int) else 8011


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
    homes = {service: _prepare_home(run_dir, service, level) for service in SERVICES}
    key_file = prepare_dev_key(run_dir, homes["server"])
    print(f"[run_all] development API key (every endpoint and the control routes) in "
          f"{key_file}; try:\n[run_all]   curl -H \"X-Api-Key: $(cat {key_file})\" "
          f"http://127.0.0.1:{_platform_port(homes['server'])}/sysinfo", flush=True)

    def start(service: str) -> "subprocess.Popen[str]":
        proc = subprocess.Popen(
            [str(bin_dir / f"run_peek_{service}"), "--home", str(homes[service]),
             "--log-stdout"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # Ctrl-C reaches only us; we stop each service in order
        )
        threading.Thread(target=_pump, args=(service, proc.stdout), daemon=True).start()
        return proc

    started: dict[str, float] = {}
    quick_exits = dict.fromkeys(SERVICES, 0)
    for service in SERVICES:
        procs.append((service, start(service)))
        started[service] = time.monotonic()

    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    given_up: set[str] = set()
    while not stopping.is_set() and len(given_up) < len(procs):
        for index, (service, proc) in enumerate(procs):
            code = proc.poll()
            if code is None or service in given_up or stopping.is_set():
                continue
            quick = time.monotonic() - started[service] < QUICK_EXIT_SECONDS
            quick_exits[service] = quick_exits[service] + 1 if quick else 0
            if not should_restart(code, quick_exits[service]):
                print(f"[run_all] {service} exited with code {code} and is left stopped "
                      f"(see its log above); the others keep running, Ctrl-C stops them",
                      flush=True)
                given_up.add(service)
                continue
            print(f"[run_all] {service} exited with code {code}; starting it again in "
                  f"{RESTART_DELAY_SECONDS}s", flush=True)
            if stopping.wait(RESTART_DELAY_SECONDS):
                break
            procs[index] = (service, start(service))
            started[service] = time.monotonic()
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

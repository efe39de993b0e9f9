"""Start all four Peek services together with prefixed logs; Ctrl-C stops them all cleanly.

Homes live under ``.run/`` in the repository (override with ``PEEK_RUN_DIR``) so a
developer's ``~/peek-*.home`` stays untouched. A home that has no config.json yet gets one
enabling the example plugins; after that the file is the developer's to edit.
"""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

SERVICES = ("server", "client", "agent", "worker")
EXAMPLE_PLUGINS = ["peek_plugin_noop", "peek_plugin_tutorial"]
REPO = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 15


def _prepare_home(run_dir: Path, service: str) -> Path:
    home = run_dir / f"peek-{service}.home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.json"
    if not config.exists():
        seed = {"plugin": {"enabled": EXAMPLE_PLUGINS}, "logging": {"level": "DEBUG"}}
        config.write_text(json.dumps(seed, indent=4) + "\n")
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
    # Client, agent and worker find the server's platform token through its home.
    env = dict(os.environ, PEEK_SERVER_HOME=str(run_dir / "peek-server.home"))
    for service in SERVICES:
        home = _prepare_home(run_dir, service)
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

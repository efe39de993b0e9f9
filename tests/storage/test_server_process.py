"""A real ``run_peek_server`` with the tutorial plugin migrates once, on SQLite and PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import inspect, text

from peek_plugin_base.storage.engine_factory import make_engine
from tests.support import free_port

SCHEMAS = ("peek_platform", "pl_tutorial")
STARTUP_SECONDS = 60


def run_server_once(home: Path) -> str:
    """Start the server, wait until it runs, stop it with SIGTERM; returns its output."""
    script = Path(sys.executable).parent / "run_peek_server"
    process = subprocess.Popen(
        [str(script), "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    running = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Peek server is running" in line:
                running.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not running.is_set() and process.poll() is None and time.monotonic() < deadline:
            running.wait(0.1)
        assert running.is_set(), "server did not start:\n" + "".join(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
    return "".join(lines)


def database_state(url: str) -> dict[str, object]:
    """Version and tables of both schemas, and the platform's migration log."""
    engine = make_engine(url, SCHEMAS)
    try:
        with engine.connect() as c:
            state: dict[str, object] = {}
            for schema in SCHEMAS:
                state[f"{schema} version"] = (
                    c.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
                    .scalars()
                    .all()
                )
                state[f"{schema} tables"] = sorted(inspect(c).get_table_names(schema=schema))
            state["log"] = [
                tuple(row)
                for row in c.execute(
                    text(
                        'SELECT owner, outcome, "toRevisions" FROM '
                        '"peek_platform"."SchemaMigrationLog" ORDER BY id'
                    )
                )
            ]
            return state
    finally:
        engine.dispose()


def test_first_start_migrates_and_restart_does_not(db_url: str, tmp_path: Path) -> None:
    """Both schemas and version tables exist after the first start; the second changes none."""
    home = tmp_path / "peek-server.home"
    home.mkdir()
    config = {
        "plugin": {"enabled": ["peek_plugin_tutorial"]},
        "logging": {"logToStdout": True},
        "httpServer": {
            "admin": {"sitePort": free_port()},
            "platform": {"sitePort": free_port()},
        },
    }
    if not db_url.startswith("sqlite"):
        config["sqlalchemy"] = {"connectUrl": db_url}
    (home / "config.json").write_text(json.dumps(config))

    first = run_server_once(home)
    assert "Plugin peek_plugin_tutorial started" in first, first
    assert "Tutorial settings: {'Property1': 'value1'" in first
    assert "Schema pl_tutorial created" in first and "Schema peek_platform created" in first
    url = json.loads((home / "config.json").read_text())["sqlalchemy"]["connectUrl"]
    if db_url.startswith("sqlite"):
        assert url == f"sqlite:///{home.as_posix()}/peek.sqlite"
        assert (home / "peek.peek_platform.sqlite").is_file()
        assert (home / "peek.pl_tutorial.sqlite").is_file()
    state = database_state(url)
    assert state == {
        "peek_platform version": ["0003_admin_accounts"],
        "peek_platform tables": ["ActionOutcome", "AdminAccount", "SchemaMigrationLog",
                                 "alembic_version"],
        "pl_tutorial version": ["0003_added_applied_task_table"],
        "pl_tutorial tables": ["AppliedTask", "Setting", "SettingProperty", "StringIntTuple",
                               "alembic_version"],
        "log": [
            ("peek_platform", "created", "0003_admin_accounts"),
            ("peek_plugin_tutorial", "created", "0003_added_applied_task_table"),
        ],
    }

    second = run_server_once(home)
    assert "Plugin peek_plugin_tutorial started" in second
    # The migration runner logs only schemas it changed.
    assert "Schema pl_tutorial" not in second and "Schema peek_platform" not in second
    assert database_state(url) == state

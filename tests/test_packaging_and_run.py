"""Developer commands: packaging builds without setuptools warnings, ``make run`` logs at INFO
unless PEEK_LOG_LEVEL says otherwise."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import REPO

PLATFORM_SOURCES = ("setup.py", "pyproject.toml", "plugin_base", "platform", "services")


def _run_all() -> ModuleType:
    """scripts/run_all.py as a module (it is a script, not an installed package)."""
    spec = importlib.util.spec_from_file_location("run_all", REPO / "scripts" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_platform_builds_without_setuptools_warnings(tmp_path: Path) -> None:
    """Building the platform's packages (what every install does) prints no setuptools
    warning, and the Alembic migrations and their template, and the browser bus client's
    modules (served at /peek/), are still shipped."""
    source = tmp_path / "src"
    source.mkdir()
    for name in PLATFORM_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS")}
    build = tmp_path / "build"
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)],
        cwd=source, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "warning" not in output.lower(), output
    migrations = build / "peek_platform" / "storage" / "migrations"
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    assert sorted(p.name for p in (migrations / "versions").glob("*.py"))
    shipped = {p.name for p in (build / "peek_vortex" / "js").glob("*.js")}
    source_js = {p.name for p in (REPO / "platform/peek_vortex/js").glob("*.js")}
    assert "vortex.js" in shipped and shipped == source_js


def test_make_run_logs_at_info_unless_peek_log_level_says(tmp_path: Path) -> None:
    """A new ``make run`` home logs at INFO; PEEK_LOG_LEVEL=DEBUG switches every home
    (keeping the developer's other keys), and back again without it."""
    run_all = _run_all()
    assert run_all.log_level({}) == "INFO"
    home = run_all._prepare_home(tmp_path, "server", run_all.log_level({}))
    config = json.loads((home / "config.json").read_text())
    assert config["logging"]["level"] == "INFO"
    assert config["plugin"]["enabled"] == ["peek_plugin_noop", "peek_plugin_tutorial",
                                           "peek_plugin_sysinfo", "peek_plugin_monitoring"]

    config["httpServer"] = {"admin": {"sitePort": 9010}}
    (home / "config.json").write_text(json.dumps(config))
    run_all._prepare_home(tmp_path, "server", run_all.log_level({"PEEK_LOG_LEVEL": "debug"}))
    config = json.loads((home / "config.json").read_text())
    assert config["logging"]["level"] == "DEBUG"
    assert config["httpServer"] == {"admin": {"sitePort": 9010}}

    run_all._prepare_home(tmp_path, "server", run_all.log_level({}))
    assert json.loads((home / "config.json").read_text())["logging"]["level"] == "INFO"


def test_a_wrong_peek_log_level_is_refused_by_name() -> None:
    """PEEK_LOG_LEVEL that is not a level stops run_all with a message naming it."""
    with pytest.raises(SystemExit, match="PEEK_LOG_LEVEL='LOUD' is not one of DEBUG"):
        _run_all().log_level({"PEEK_LOG_LEVEL": "LOUD"})


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_creates_a_dev_key_only_in_its_run_folder(tmp_path: Path) -> None:
    """run_all writes a random key (0600) into the run folder and only its sha256 digest
    into the server's config.json; a second run keeps both; a lost key file is replaced
    together with its digest."""
    from peek_platform.config import ServiceConfig
    from peek_platform.web.api_keys import hash_api_key

    run_all = _run_all()
    home = run_all._prepare_home(tmp_path, "server", "INFO")
    key_file = run_all.prepare_dev_key(tmp_path, home)
    key = key_file.read_text().strip()
    assert key_file.parent == tmp_path and key_file.stat().st_mode & 0o777 == 0o600
    text = (home / "config.json").read_text()
    assert key not in text
    entries = json.loads(text)["httpServer"]["apiKeys"]
    assert entries == [{"name": "make-run-dev", "hash": hash_api_key(key), "sites": ["*"],
                        "plugins": ["*"], "control": True}]
    ServiceConfig.load("server", home, write_defaults=False)  # the entry validates

    run_all.prepare_dev_key(tmp_path, home)
    assert key_file.read_text().strip() == key
    key_file.unlink()
    run_all.prepare_dev_key(tmp_path, home)
    fresh = key_file.read_text().strip()
    assert fresh != key
    entries = json.loads((home / "config.json").read_text())["httpServer"]["apiKeys"]
    assert [e["hash"] for e in entries] == [hash_api_key(fresh)]


def test_make_run_passes_the_level_to_run_all() -> None:
    """``make run`` runs run_all with PEEK_LOG_LEVEL=INFO, or the level given to make."""
    def dry_run(*args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "PEEK_LOG_LEVEL"}
        done = subprocess.run(["make", "-n", "-o", ".venv/.installed", "run", *args],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "PEEK_LOG_LEVEL=INFO .venv/bin/python scripts/run_all.py" in dry_run()
    assert "PEEK_LOG_LEVEL=DEBUG .venv/bin/python scripts/run_all.py" in dry_run(
        "PEEK_LOG_LEVEL=DEBUG")


def test_make_run_restarts_a_service_that_exits_unless_restarting_cannot_help() -> None:
    """run_all starts a crashed or killed service again, but not one whose config.json is
    unusable (exit 78) nor one that keeps exiting right after it starts."""
    run_all = _run_all()
    assert run_all.should_restart(-9, 0)
    assert run_all.should_restart(1, run_all.QUICK_EXITS_ALLOWED - 1)
    assert not run_all.should_restart(run_all.EXIT_CONFIG, 0)
    assert not run_all.should_restart(1, run_all.QUICK_EXITS_ALLOWED)

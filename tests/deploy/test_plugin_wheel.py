"""A plugin built as a wheel installs with --no-index where its source is not, and is found."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.support import REPO

PLUGIN = REPO / "plugins" / "peek-plugin-noop"


def _pip(python: Path, *args: str) -> None:
    """Run pip offline; its output is the failure message when it fails."""
    done = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, f"pip {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def _environment_without(tmp_path: Path, dist: str) -> Path:
    """A new venv holding this venv's packages except ``dist``; returns its python.

    Linking the packages in (instead of installing them from an index) keeps the test
    offline and fast; the distribution under test is left out so only the wheel provides it.
    """
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True,
                   timeout=60)
    python = env / "bin" / "python"
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip())
    marker = dist.replace("-", "_")
    for entry in ours.iterdir():
        if marker not in entry.name and not (theirs / entry.name).exists():
            (theirs / entry.name).symlink_to(entry)
    return python


def test_wheel_installs_without_source(tmp_path: Path) -> None:
    """pip wheel + pip install --no-index: importable, ships plugin_package.json, listed."""
    # Build from a copy: setuptools writes build/ and egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    wheels = tmp_path / "wheels"
    _pip(Path(sys.executable), "wheel", "--no-deps", "--no-index", "--no-build-isolation",
         str(source), "-w", str(wheels))
    shutil.rmtree(source)
    assert [w.name for w in wheels.iterdir()] == ["peek_plugin_noop-0.1.0-py3-none-any.whl"]

    python = _environment_without(tmp_path, "peek_plugin_noop")
    _pip(python, "install", "--no-index", "--no-deps", "--find-links", str(wheels),
         "peek-plugin-noop")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    probe = subprocess.run(
        [str(python), "-c",
         "import json, peek_plugin_noop, pathlib;"
         "root = pathlib.Path(peek_plugin_noop.__file__).parent;"
         "print(json.dumps([str(root), (root / 'plugin_package.json').read_text()]))"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    assert probe.returncode == 0, probe.stderr
    root, package_json = json.loads(probe.stdout)
    assert Path(root).is_relative_to(tmp_path / "env"), f"imported from {root}"
    shipped = PLUGIN / "peek_plugin_noop" / "plugin_package.json"
    assert json.loads(package_json) == json.loads(shipped.read_text(encoding="utf-8"))

    listed = subprocess.run(
        [str(python), "-m", "peek_server", "--list-plugins"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    assert listed.returncode == 0, listed.stderr
    assert "peek_plugin_noop 0.1.0" in listed.stdout.splitlines(), listed.stdout

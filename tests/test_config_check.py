"""--check-config finds typos, unknown keys, unusable plugins and a missing file; a start
warns about them in its log."""

import json
import subprocess
from pathlib import Path

from tests.support import BIN, ServiceProcess, free_port


def _check(service: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / f"run_peek_{service}"), "--home", str(home),
                           "--check-config"], capture_output=True, text=True, timeout=60)


def test_check_config_lists_every_problem_at_once(tmp_path: Path) -> None:
    """A near-miss key (with the setting meant), a plugin that is not installed, a package
    that is not a plugin, a module, and a plugin listed twice are all reported in one run,
    exit 78; a plain unknown key is only a warning; the file is left as it was."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "logging": {"levle": "DEBUG"},
        "celery": {"worker": {"concurency": 2}},
        "myNotes": {"owner": "ops"},
        "plugin": {"enabled": ["peek_plugin_noop", "peek_plugin_nope", "email", "this",
                               "peek_plugin_noop"]},
    }))
    before = path.read_bytes()
    done = _check("worker", tmp_path)
    assert done.returncode == 78, done
    first, *rest = done.stderr.strip().splitlines()
    assert first == f"run_peek_worker: config error: {path}: 6 invalid setting(s):", first
    listed = "\n".join(rest)
    for text in (
        "logging.levle is not a setting of the worker service; did you mean logging.level?",
        "celery.worker.concurency is not a setting of the worker service; did you mean "
        "celery.worker.concurrency?",
        "plugin.enabled: peek_plugin_nope is not installed",
        "plugin.enabled: email is not a Peek plugin: its package",
        "plugin.enabled: this is a module, not a plugin package",
        "plugin.enabled lists peek_plugin_noop more than once",
    ):
        assert text in listed, (text, done.stderr)
    # Only the errors are listed; the unknown key that resembles nothing is not one.
    assert "myNotes" not in listed
    assert path.read_bytes() == before


def test_unknown_keys_alone_are_warnings(tmp_path: Path) -> None:
    """Keys the service does not read but that resemble none of its settings (the user's own,
    or another service's setting) are kept: --check-config says so and exits 0."""
    (tmp_path / "config.json").write_text(json.dumps({
        "myNotes": {"owner": "ops"}, "peekServer": {"host": "10.0.0.1"},
        "plugin": {"enabled": ["peek_plugin_noop"]}}))
    done = _check("server", tmp_path)
    assert done.returncode == 0, done
    assert done.stdout.strip() == f"{tmp_path / 'config.json'}: OK (2 warning(s) on stderr)"
    assert ("myNotes is not a setting of the server service; kept as is (the platform does "
            "not read it)") in done.stderr
    assert ("peekServer is not read by the server service (the client, agent, worker "
            "service(s) read it); kept as is") in done.stderr


def test_missing_config_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    """--check-config on a home without config.json exits 78 naming the file (the wrong
    --home is the usual cause) and creates nothing."""
    done = _check("agent", tmp_path)
    assert done.returncode == 78, done
    assert f"{tmp_path / 'config.json'}: does not exist" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_keys_are_found_outermost_and_case_insensitively() -> None:
    """An unknown object is reported once (not each key in it); a key differing from a
    setting only in case is taken for that setting; a setting's own object value (engine
    arguments) is never searched for unknown keys."""
    from peek_platform.config_check import unknown_keys  # new here (tests run on the base too)

    found = unknown_keys("worker", {
        "loging": {"level": "DEBUG", "x": 1},
        "Logging": {"Level": "INFO"},
        "logging": {"Level": "INFO", "level": "INFO"},
        "sqlalchemy": {"engineArgs": {"pool_size": 5}},
    })
    assert [(u.key, u.meant) for u in found] == [
        ("loging", "logging"), ("Logging", "logging"), ("logging.Level", "logging.level")]


def test_a_start_warns_about_unknown_keys_and_missing_plugins(tmp_path: Path) -> None:
    """A real start logs a WARNING naming the setting a mistyped key was meant to be, and the
    plugin host fails an enabled plugin that is not installed with that reason (no
    traceback); the service runs on."""
    home = tmp_path / "peek-server.home"
    server = ServiceProcess("server", home, {
        "logging": {"levle": "DEBUG"},
        "plugin": {"enabled": ["peek_plugin_nope"]},
        "httpServer": {"admin": {"sitePort": free_port()},
                       "platform": {"sitePort": free_port()}},
    })
    try:
        server.wait_log("Peek server is running", 30)
        log = server.log()
        typo = [line for line in log.splitlines() if "logging.levle" in line]
        assert len(typo) == 1 and "WARNING" in typo[0], log
        assert (f"{home / 'config.json'}: logging.levle is not a setting of the server "
                "service; did you mean logging.level?") in typo[0]
        assert "Plugin peek_plugin_nope failed: peek_plugin_nope is not installed" in log
        assert "Traceback" not in log
    finally:
        assert server.stop() == 0


def test_check_config_refuses_an_asyncio_plugin_on_the_forced_default_reactor(
        tmp_path: Path) -> None:
    """``twisted.reactor: "default"`` with an enabled plugin declaring ``"asyncio": true``
    (the monitoring example) is a problem naming the plugin and the setting, exit 78; with
    ``auto`` the same file is fine."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"twisted": {"reactor": "default"},
                                "plugin": {"enabled": ["peek_plugin_monitoring"]}}))
    done = _check("server", tmp_path)
    assert done.returncode == 78, done
    assert ('plugin.enabled: peek_plugin_monitoring declares "asyncio": true but '
            'twisted.reactor is "default"') in done.stderr
    path.write_text(json.dumps({"twisted": {"reactor": "auto"},
                                "plugin": {"enabled": ["peek_plugin_monitoring"]}}))
    assert _check("server", tmp_path).returncode == 0

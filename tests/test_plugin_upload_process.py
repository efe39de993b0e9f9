"""Installing and updating a plugin by upload on a running run_peek_server's admin site.

Isolation: the server runs on a throwaway virtualenv layered on this one (see
``tests.support.make_layered_env``); pip, run by the server's own interpreter, installs
into that environment only, so the shared virtualenv never sees the uploaded plugins.
"""

import importlib.util
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugin_releases import INIT, UploadServer, write_sdist, write_wheel

PKG = "peek_plugin_uploaded"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[UploadServer]:
    running = UploadServer(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def hello(server: UploadServer, package: str) -> str:
    url = f"http://127.0.0.1:{server.platform_port}/{package}/hello"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def test_upload_installs_lists_enables_and_updates_a_plugin(
        server: UploadServer, tmp_path: Path) -> None:
    """A wheel uploaded by a logged-in admin is checked, installed by pip (its output on the
    job), listed as installed, enabled on the server (config.json too) and answers; an
    upload of its next version replaces it and reloads it on the server, which then
    answers with the new code. The shared environment never sees it."""
    wheel = write_wheel(tmp_path, PKG, "1.0.0")
    answer = server.upload(wheel.name, wheel.read_bytes())
    assert answer.status == 202, answer.body
    job = server.wait_job(json.loads(answer.body)["id"])
    assert job["state"] == "done", job
    assert [s["stage"] for s in job["stages"]] == [
        "received", "checking", "installing", "verifying", "done"]
    assert any("pip install" in line for line in job["log"]), job["log"]
    assert any(f"Successfully installed {PKG.replace('_', '-')}-1.0.0" in line
               for line in job["log"]), job["log"]
    assert (job["plugin"], job["version"], job["enabledOnServer"]) == (PKG, "1.0.0", False)
    assert importlib.util.find_spec(PKG) is None, "the shared environment saw the plugin"
    assert server.installed_here(PKG)

    listed = json.loads(server.admin.request("/plugin-upload/installed").body)
    assert {"plugin": PKG, "version": "1.0.0", "serverState": "not enabled",
            "serverReason": None} in listed

    enabled = server.admin.request("/plugin-upload/enable", "POST",
                                   json.dumps({"plugin": PKG}).encode(),
                                   (("Content-Type", "application/json"),))
    assert enabled.status == 200, enabled.body
    assert hello(server, PKG) == f"hello from {PKG} 1.0.0"
    config = json.loads((server.home / "config.json").read_text())
    assert PKG in config["plugin"]["enabled"]

    update = write_wheel(tmp_path, PKG, "2.0.0")
    answer = server.upload(update.name, update.read_bytes())
    assert answer.status == 202, answer.body
    job = server.wait_job(json.loads(answer.body)["id"])
    assert job["state"] == "done", job
    assert [s["stage"] for s in job["stages"]][-2:] == ["reloading", "done"]
    assert job["enabledOnServer"] is True
    assert hello(server, PKG) == f"hello from {PKG} 2.0.0"
    listed = json.loads(server.admin.request("/plugin-upload/installed").body)
    assert {"plugin": PKG, "version": "2.0.0", "serverState": "running",
            "serverReason": None} in listed
    server.process.wait_log(f"plugin {PKG} 2.0.0 installed by admin admin", timeout=10)


def test_an_update_that_fails_to_start_is_reported_and_a_fix_recovers(
        server: UploadServer, tmp_path: Path) -> None:
    """An update whose start() raises is installed but the job fails, saying it does not
    run on the server and why; the next upload (a fix) reloads it and it answers again."""
    first = write_wheel(tmp_path, PKG, "1.0.0")
    job = server.wait_job(json.loads(server.upload(first.name, first.read_bytes()).body)["id"])
    assert job["state"] == "done", job
    assert server.admin.request("/plugin-upload/enable", "POST",
                                json.dumps({"plugin": PKG}).encode()).status == 200
    broken_init = INIT.format(package=PKG, version="1.1.0").replace(
        'self.platform.addServerResource(b"hello", _Hello())',
        'raise RuntimeError("broken on purpose")')
    broken = write_wheel(tmp_path, PKG, "1.1.0", extra={f"{PKG}/__init__.py":
                                                        broken_init.encode()})
    job = server.wait_job(json.loads(server.upload(broken.name, broken.read_bytes()).body)["id"])
    assert job["state"] == "failed", job
    assert f"{PKG} 1.1.0 is installed, but it does not run on the server" in job["error"]
    assert "broken on purpose" in job["error"]
    fixed = write_wheel(tmp_path, PKG, "1.2.0")
    job = server.wait_job(json.loads(server.upload(fixed.name, fixed.read_bytes()).body)["id"])
    assert job["state"] == "done", job
    assert hello(server, PKG) == f"hello from {PKG} 1.2.0"


def test_upload_of_an_sdist_builds_and_installs_it(
        server: UploadServer, tmp_path: Path) -> None:
    """An sdist is checked, then pip builds and installs it (without fetching anything);
    it is then listed as an installed plugin."""
    name = "peek_plugin_fromsource"
    sdist = write_sdist(tmp_path, name, "0.3.0")
    answer = server.upload(sdist.name, sdist.read_bytes())
    assert answer.status == 202, answer.body
    job = server.wait_job(json.loads(answer.body)["id"])
    assert job["state"] == "done", job
    listed = json.loads(server.admin.request("/plugin-upload/installed").body)
    assert any(row["plugin"] == name and row["version"] == "0.3.0" for row in listed), listed
    assert importlib.util.find_spec(name) is None

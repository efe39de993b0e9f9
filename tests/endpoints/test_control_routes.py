"""The control routes on a real server: /reload/<plugin> and /reload/all run the host's
reload path, re-read config.json, and the log shows it."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.endpoints.endpoint_fixture import (
    OTHER,
    PLUGIN,
    EndpointServer,
    start_endpoint_server,
)
from tests.support import wait_for


@pytest.fixture
def served(tmp_path: Path) -> Iterator[EndpointServer]:
    yield from start_endpoint_server(tmp_path)


def _edit_config(served: EndpointServer, change: "dict[str, object]") -> None:
    path = served.server.home / "config.json"
    data = json.loads(path.read_text())
    data["plugin"]["params"].update(change)
    path.write_text(json.dumps(data, indent=4))


def test_reload_one_plugin_rereads_its_params(served: EndpointServer) -> None:
    """POST /reload/peek_plugin_sysinfo reloads it (log: stopped, started, the control
    line naming the key) and it runs with the parameters config.json holds now."""
    assert served.request("/sysinfo", key="all").json["intervalSeconds"] == 0.2
    _edit_config(served, {"peek_plugin_sysinfo": {"intervalSeconds": 0.3}})
    before = len(served.server.log())
    r = served.request("/reload/peek_plugin_sysinfo", "POST", key="control")
    assert r.status == 200, r.body
    assert r.json["name"] == "peek_plugin_sysinfo" and r.json["state"] == "running"
    log = served.server.log()[before:]
    assert "reload of plugin peek_plugin_sysinfo requested (API key 'control')" in log
    assert "Plugin peek_plugin_sysinfo stopped" in log
    assert "Plugin peek_plugin_sysinfo started" in log
    assert "Control route: plugin peek_plugin_sysinfo reloaded, now running" in log
    assert served.request("/sysinfo", key="all").json["intervalSeconds"] == 0.3


def test_reload_all(served: EndpointServer) -> None:
    """POST /reload/all reloads every running plugin and reports each one's state; routes
    answer again afterwards."""
    r = served.request("/reload/all", "POST", key="control")
    assert r.status == 200, r.body
    states = {name: p["state"] for name, p in r.json["plugins"].items()}
    assert states == {PLUGIN: "running", OTHER: "running", "peek_plugin_sysinfo": "running"}
    assert served.request("/fx/sync", key="fixture").status == 200
    assert served.request("/other", key="other").status == 200


def test_reload_with_a_broken_config_reloads_nothing(served: EndpointServer) -> None:
    """A config.json that no longer validates is answered 500 naming the problem, and the
    plugin keeps running untouched."""
    _edit_config(served, {"peek_plugin_sysinfo": "fast"})
    before = len(served.server.log())
    r = served.request("/reload/peek_plugin_sysinfo", "POST", key="control")
    assert r.status == 500
    assert "plugin.params.peek_plugin_sysinfo must be an object" in r.json["error"]["message"]
    assert "Plugin peek_plugin_sysinfo stopped" not in served.server.log()[before:]
    assert served.request("/sysinfo", key="all").status == 200


def test_reload_that_fails_is_reported(served: EndpointServer) -> None:
    """A plugin whose reload fails (a parameter it refuses) is answered 500 with the reason;
    its routes then answer 404 and the other plugins keep serving."""
    _edit_config(served, {"peek_plugin_sysinfo": {"intervalSeconds": -1}})
    r = served.request("/reload/peek_plugin_sysinfo", "POST", key="control")
    assert r.status == 500
    assert r.json["error"]["code"] == "PluginReloadFailed"
    assert "intervalSeconds" in r.json["error"]["message"]
    wait_for(lambda: served.request("/sysinfo", key="all").status == 404, 10,
             "sysinfo's routes gone")
    assert served.request("/fx/sync", key="fixture").status == 200


def test_reload_drains_running_requests_and_answers_503_meanwhile(
        served: EndpointServer) -> None:
    """A request inside the plugin when its reload starts is answered in full before the
    plugin stops; a request arriving while it is stopped gets 503 with Retry-After and a
    JSON reason; afterwards the routes answer again."""
    import threading

    _edit_config(served, {PLUGIN: {"slowStopSeconds": 3}})
    slow: list[object] = []
    worker = threading.Thread(
        target=lambda: slow.append(served.request("/fx/slow", key="fixture")))
    worker.start()
    served.server.wait_log("fx slow entered")
    reload: list[object] = []
    reloader = threading.Thread(target=lambda: reload.append(
        served.request(f"/reload/{PLUGIN}", "POST", key="control")))
    reloader.start()
    served.server.wait_log("fx stop begun")
    during = served.request("/fx/sync", key="fixture")
    assert during.status == 503, during.body
    assert during.headers["retry-after"]
    assert during.json["error"]["code"] == "PluginReloading"
    assert PLUGIN in during.json["error"]["message"]
    worker.join(30)
    reloader.join(60)
    answer = slow[0]
    assert answer.status == 200 and answer.json == {"slow": True}  # type: ignore[attr-defined]
    log = served.server.log()
    assert log.index("fx slow leaving") < log.index("fx stop begun")
    assert reload[0].status == 200  # type: ignore[attr-defined]
    assert served.request("/fx/sync", key="fixture").status == 200

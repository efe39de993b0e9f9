"""Endpoint plugins in a real server over real sockets: handler kinds, results, errors,
parameters, the sysinfo example and the control routes."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.endpoints.endpoint_fixture import (
    PLUGIN,
    EndpointServer,
    start_endpoint_server,
)
from tests.support import ServiceProcess, wait_for


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndpointServer]:
    yield from start_endpoint_server(tmp_path_factory.mktemp("endpoints"))


def test_sync_handler_gets_the_query(served: EndpointServer) -> None:
    """A plain function's return value is sent as JSON with 200; repeated query names
    arrive as lists, single ones as strings."""
    r = served.request("/fx/sync?a=1&b=x&b=y", key="fixture")
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"kind": "sync", "query": {"a": "1", "b": ["x", "y"]}}


def test_coroutine_handler_gets_json_and_form_bodies(served: EndpointServer) -> None:
    """An async handler's (status, data) sets the status; a JSON body arrives parsed, a
    form body as fields, both merged into request.data with the query."""
    r = served.request("/fx/coro?q=1", "POST", [("Content-Type", "application/json")],
                       json.dumps({"n": 5, "s": "t"}).encode(), key="fixture")
    assert r.status == 201, r.body
    assert r.json["kind"] == "coroutine"
    assert r.json["json"] == {"n": 5, "s": "t"}
    assert r.json["data"] == {"q": "1", "n": 5, "s": "t"}
    r = served.request("/fx/coro", "POST",
                       [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
                       b"a=1&b=two+words", key="fixture")
    assert r.status == 201, r.body
    assert r.json["form"] == {"a": "1", "b": "two words"} and r.json["json"] is None


def test_deferred_handler(served: EndpointServer) -> None:
    """A handler returning a Deferred of (status, data) is answered when it fires."""
    r = served.request("/fx/deferred", key="fixture")
    assert (r.status, r.json) == (202, {"kind": "deferred"})


def test_path_parameters(served: EndpointServer) -> None:
    """{name} segments arrive decoded in request.params; methods follow the route."""
    r = served.request("/fx/echo/caf%C3%A9", key="fixture")
    assert r.json == {"params": {"name": "café"}, "method": "GET"}
    r = served.request("/fx/echo/a%20b/items/7", "DELETE", key="fixture")
    assert r.json == {"params": {"name": "a b", "item": "7"}, "method": "DELETE"}
    r = served.request("/fx/echo/a", "POST", key="fixture")
    assert r.status == 405 and "GET" in r.headers["allow"]
    assert served.request("/fx/echo/a/b", key="fixture").status == 404
    assert served.request("/fx/nothing", key="fixture").status == 404


def test_an_exception_is_a_json_500_without_its_text(served: EndpointServer) -> None:
    """An unexpected exception answers 500 JSON naming only its class and an error id; the
    traceback (with the secret text) is in the log under that id, once."""
    r = served.request("/fx/fail", key="fixture")
    assert r.status == 500
    error = r.json["error"]
    assert error["code"] == "RuntimeError"
    assert "hunter2" not in r.body.decode() and "Traceback" not in r.body.decode()
    error_id = re.fullmatch(r"internal error, id ([0-9a-f]+)", error["message"]).group(1)
    wait_for(lambda: f"error id {error_id}" in served.server.log(), 10, "the error in the log")
    log = served.server.log()
    assert log.count(f"error id {error_id}") == 1
    assert "hunter2" in log and "Traceback" in log


def test_endpoint_error_keeps_status_and_message(served: EndpointServer) -> None:
    """EndpointError(409, message) is sent as 409 with that message."""
    r = served.request("/fx/refuse", key="fixture")
    assert r.status == 409
    assert r.json == {"error": {"status": 409, "code": "Conflict",
                                "message": "that item already exists"}}


def test_data_that_is_not_json_is_a_500(served: EndpointServer) -> None:
    """A handler returning something JSON cannot carry gets 500 with an id, not a hang."""
    r = served.request("/fx/notjson", key="fixture")
    assert r.status == 500 and r.json["error"]["code"] == "TypeError"


def test_plugin_params_reach_the_plugin(served: EndpointServer) -> None:
    """plugin.params.<pluginName> from config.json is the plugin's pluginParams."""
    r = served.request("/fx/params", key="fixture")
    assert r.json == {"greeting": "hello", "limits": {"max": 3}}


def test_the_key_header_is_not_handed_to_the_plugin(served: EndpointServer) -> None:
    """Handlers see the request headers but never the API key."""
    r = served.request("/fx/headers", headers=[("X-Extra", "1")], key="fixture")
    assert r.json["x-extra"] == "1"
    assert "x-api-key" not in r.json
    assert served.keys["fixture"] not in r.body.decode()


def test_open_route_needs_no_key(served: EndpointServer) -> None:
    """A route declared with requireApiKey=False answers without a key."""
    assert served.request("/fx/open").status == 200


def test_sysinfo_reports_interfaces_and_rates(served: EndpointServer) -> None:
    """The example plugin (BasePlugin port of Netinfo) lists lo with its address and, once
    two samples were taken, numeric rates; its parameter set the interval."""
    def sampled() -> object:
        r = served.request("/sysinfo", key="all")
        return r.json if r.status == 200 and r.json["samples"] >= 2 else None

    report = wait_for(sampled, 20, "two sysinfo samples")
    assert report["intervalSeconds"] == 0.2
    lo = {i["name"]: i for i in report["interfaces"]}["lo"]
    assert lo["address"] == "127.0.0.1/8"
    assert isinstance(lo["rxBytesPerSecond"], float) and lo["rxBytes"] > 0
    one = served.request("/sysinfo/lo", key="all").json
    assert [i["name"] for i in one["interfaces"]] == ["lo"]
    assert served.request("/sysinfo?iface=lo", key="all").json["interfaces"][0]["name"] == "lo"
    assert served.request("/sysinfo/nosuch0", key="all").status == 404


def test_plugins_route_lists_states(served: EndpointServer) -> None:
    """GET /plugins with a control key lists every enabled plugin and its state."""
    r = served.request("/plugins", key="control")
    assert r.status == 200
    states = {p["name"]: p["state"] for p in r.json["plugins"]}
    assert states[PLUGIN] == "running" and states["peek_plugin_sysinfo"] == "running"


def test_reload_route_unknown_plugin(served: EndpointServer) -> None:
    """POST /reload/<name> for a plugin that is not enabled is a 404 naming it."""
    r = served.request("/reload/peek_plugin_nothing", "POST", key="control")
    assert r.status == 404 and "peek_plugin_nothing" in r.json["error"]["message"]


def _config_with(tmp: Path, params: object) -> dict:
    from tests.e2e.devices_data import server_config

    config = server_config(["peek_plugin_sysinfo"])
    config["plugin"]["params"] = params
    return config


def test_params_that_are_not_objects_stop_the_start(tmp_path: Path) -> None:
    """plugin.params whose entry is not an object is a config error (exit 78) naming it."""
    server = ServiceProcess("server", tmp_path / "s",
                            _config_with(tmp_path, {"peek_plugin_sysinfo": 5}))
    assert server.proc.wait(60) == 78
    assert "plugin.params.peek_plugin_sysinfo must be an object" in server.stderr()


def test_a_bad_parameter_value_fails_the_plugin_with_its_key(tmp_path: Path) -> None:
    """A value the plugin refuses fails that plugin (reason names the key); the server runs."""
    server = ServiceProcess(
        "server", tmp_path / "s",
        _config_with(tmp_path, {"peek_plugin_sysinfo": {"intervalSeconds": "fast"}}))
    try:
        server.wait_log("Peek server is running", timeout=60)
        failed = [line for line in server.log().splitlines()
                  if "Plugin peek_plugin_sysinfo failed: load() raised ValueError" in line]
        assert failed, server.log()
        assert ("plugin.params.peek_plugin_sysinfo.intervalSeconds must be a number of "
                "seconds from 0.1 to 3600, got 'fast'") in failed[0]
    finally:
        server.stop()


def test_check_config_finds_params_of_plugins_not_enabled(tmp_path: Path) -> None:
    """--check-config: parameters under a near-miss of an enabled plugin's name are an
    error naming the plugin meant (exit 78); under an unrelated name a warning; API key
    entries holding a key instead of a digest are an error that says how to make one."""
    import subprocess

    from tests.support import BIN

    def check(config: dict) -> "subprocess.CompletedProcess[str]":
        (tmp_path / "config.json").write_text(json.dumps(config))
        return subprocess.run([str(BIN / "run_peek_server"), "--home", str(tmp_path),
                               "--check-config"], capture_output=True, text=True, timeout=60)

    done = check({"plugin": {"enabled": ["peek_plugin_sysinfo"],
                             "params": {"peek_plugin_sysinf": {"intervalSeconds": 1},
                                        "peek_plugin_elsewhere": {}}}})
    assert done.returncode == 78, done
    assert ("plugin.params.peek_plugin_sysinf names no enabled plugin; did you mean "
            "peek_plugin_sysinfo?") in done.stderr
    assert "plugin.params.peek_plugin_elsewhere names no enabled plugin" not in done.stderr
    done = check({"plugin": {"enabled": ["peek_plugin_sysinfo"],
                             "params": {"peek_plugin_elsewhere": {}}}})
    assert done.returncode == 0, done
    assert "plugin.params.peek_plugin_elsewhere: peek_plugin_elsewhere is not in " \
           "plugin.enabled" in done.stderr
    done = check({"httpServer": {"apiKeys": [{"name": "k", "hash": "my-secret-key"}]}})
    assert done.returncode == 78
    assert "httpServer.apiKeys is invalid: [0] (k).hash must be \"sha256:\"" in done.stderr
    assert "peek_api_key new" in done.stderr


def test_routes_go_to_the_configured_site_and_clashes_fail_the_plugin(tmp_path: Path) -> None:
    """httpServer.endpointSites moves one plugin's routes to the admin site (and off the
    platform site), where they also need an admin session; plugins asking for /vortexws, a
    control route or another plugin's route fail with a reason naming the owner, and the bus
    and the owners keep working."""
    from tests.endpoints.endpoint_fixture import CLASH, CLASH_PATHS, OTHER, http_request
    from tests.security.admin_session import first_password, login

    clashes = tuple(f"{CLASH}_{i}" for i in range(len(CLASH_PATHS)))
    for served in start_endpoint_server(
            tmp_path, {"httpServer": {"endpointSites": {OTHER: "admin"}}}, clashes):
        admin = served.config["httpServer"]["admin"]["sitePort"]
        key = [("X-Api-Key", served.keys["other"])]
        # The admin site's login gate stands before every route on it, endpoints included.
        assert http_request(admin, "/other", headers=key).status == 401
        session = login(admin, first_password(served.server.home))
        assert http_request(admin, "/other", headers=key + session.headers()).json == {
            "other": True}
        assert served.request("/other", key="other").status == 404
        states = {p["name"]: p for p in served.request("/plugins", key="control").json[
            "plugins"]}
        reasons = {name: states[name]["reason"] for name in clashes}
        assert all(states[name]["state"] == "failed" for name in clashes), states
        assert "/vortexws is already served on the platform site" in reasons[clashes[0]]
        assert "/plugins on the platform site belongs to the platform" in reasons[clashes[1]]
        assert f"/fx on the platform site belongs to {PLUGIN}" in reasons[clashes[2]]
        assert served.request("/plugins", key="control").status == 200
        assert served.request("/fx/sync", key="fixture").status == 200
        upgrade = served.request("/vortexws")
        assert upgrade.status == 426

"""Background-plugin routes and event plugins as a hostile client sees them (real server)."""

import json
from collections.abc import Iterator

import pytest

from peek_plugin_base.base_plugins import MAX_ROUTE_BODY_BYTES, parse_route_path
from tests.events.platform_run import Running, running_platform, wait_points


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server running the background fixture plugin, a failing event plugin and the
    monitoring plugin."""
    yield from running_platform(tmp_path_factory.mktemp("routes") / "platform",
                                with_agent=False, with_client=False)


@pytest.mark.parametrize("path", [
    "teapot", "/", "//teapot", "/../admin", "/a/../../b", "/a/./b", "/%2e%2e/x", "/a b",
    "/a\x00b", "/a/\\..", "",
])
def test_route_paths_that_could_leave_the_plugin_prefix_are_refused(path: str) -> None:
    """A plugin cannot add a route outside ``/<pluginName>/``: relative, empty, dot, encoded
    or odd segments are refused with the reason."""
    with pytest.raises(ValueError, match="route path|segment"):
        parse_route_path(path)


def test_plain_route_paths_are_accepted() -> None:
    """Ordinary nested paths (a trailing slash allowed) are split into their segments."""
    assert parse_route_path("/teapot/version/") == ("teapot", "version")


@pytest.mark.parametrize("raw_path", [
    "/fx_ev_async/probe/../../vortexws",
    "/fx_ev_async/%2e%2e/vortexws",
    "/fx_ev_async/probe%2f..%2f..%2fvortexws",
    "/fx_ev_async/probe/extra",
    "/fx_ev_async/Probe",
])
def test_requests_cannot_reach_past_a_route(run: Running, raw_path: str) -> None:
    """Paths sent raw with dot segments, encoded dots or slashes, extra segments or another
    case match no route: 404 from the plugin, never another resource."""
    status, body = run.request("GET", raw_path)
    assert status == 404, (raw_path, body)
    assert b"no such route" in body or b"Not found" in body or b"No Such Resource" in body


def test_handler_exception_is_500_with_an_error_id_and_no_detail(run: Running) -> None:
    """A route handler's exception answers 500 with an error id; its message and traceback
    stay in the log (under that id)."""
    status, body = run.request("GET", "/fx_ev_async/boom")
    assert status == 500
    text = body.decode()
    assert "internal error, id" in text
    assert "secret-in-route" not in text and "Traceback" not in text and "shadow" not in text
    error_id = json.loads(text)["error"].rsplit(" ", 1)[-1]
    assert run.server is not None
    run.server.wait_log(error_id)
    assert "secret-in-route" in run.server.log()


def test_bad_json_is_a_400_naming_the_problem(run: Running) -> None:
    """A body that is not JSON, sent to a handler reading JSON, answers 400 with why."""
    status, body = run.request("POST", "/fx_ev_async/echo", b"{not json")
    assert status == 400
    assert "not JSON" in json.loads(body)["error"]


def test_wrong_method_is_405_with_allow(run: Running) -> None:
    """A method the route does not declare answers 405 and lists the allowed ones."""
    status, body = run.request("DELETE", "/fx_ev_async/probe")
    assert status == 405 and b"DELETE" in body
    status, _ = run.request("GET", "/fx_ev_async/echo")
    assert status == 405


def test_oversized_body_is_refused_before_the_handler(run: Running) -> None:
    """A body over the route limit answers 413 naming the limit."""
    status, body = run.request("POST", "/fx_ev_async/echo", b"x" * (MAX_ROUTE_BODY_BYTES + 1))
    assert status == 413 and str(MAX_ROUTE_BODY_BYTES).encode() in body


def test_event_handler_failures_never_reach_http_clients(run: Running) -> None:
    """While an event plugin raises on every monitoring batch, requests are answered
    normally and nothing of its error appears in any response."""
    for _ in range(10):
        status, body = run.request("GET", "/fx_ev_async/probe")
        assert status == 200 and b"fx boom" not in body and b"secret-in-handler" not in body
    status, body = run.request("GET", "/no-such-thing")
    assert status == 404 and b"fx boom" not in body
    assert run.server is not None
    assert "fx boom secret-in-handler" in run.server.log()


def test_query_strings_are_not_written_into_monitoring_points(run: Running) -> None:
    """A request's query (which may carry a key) is not part of its monitoring point."""
    status, _ = run.request("GET", "/fx_ev_async/probe?apikey=s3cret-query-value")
    assert status == 200
    wait_points(run, lambda pts: any(p["tags"]["path"] == "/fx_ev_async/probe"
                                     for p in pts if p["series"] == "http_request"),
                "a probe point")
    points_file = run.plugin_dir("server", "peek_plugin_monitoring") / "points.jsonl"
    assert "s3cret-query-value" not in points_file.read_text()


def test_overlong_paths_are_cut_in_points(run: Running) -> None:
    """A client cannot make one point carry an arbitrarily long path."""
    long_path = "/" + "a" * 5000
    status, _ = run.request("GET", long_path)
    assert status == 404
    points = wait_points(run, lambda pts: any(p["tags"]["path"].startswith("/aaaa")
                                              for p in pts if p["series"] == "http_request"),
                         "the long path's point")
    point = next(p for p in points if p["tags"]["path"].startswith("/aaaa"))
    assert len(point["tags"]["path"]) == 256

"""Platform events, asyncio plugins and the monitoring example plugin in real service processes."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.events.platform_run import TARGET_BODY, Running, running_platform, wait_points
from tests.support import wait_for


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Server, client and agent with the fixture plugins and the monitoring plugin."""
    yield from running_platform(tmp_path_factory.mktemp("events") / "platform")


def test_asyncio_task_and_aiohttp_session_run_in_server_client_and_agent(run: Running) -> None:
    """A plugin's asyncio.create_task loop fetching with aiohttp.ClientSession from a local
    HTTP server runs in the server, client and agent processes (asyncio reactor)."""
    for proc in (run.server, run.client, run.agent):
        assert proc is not None
        proc.wait_log(f"fx async fetched: {TARGET_BODY}", timeout=60)


def test_background_route_answers_from_the_asyncio_task(run: Running) -> None:
    """The background plugin's route on the platform site and on the client's mobile site
    answers with what its asyncio task fetched."""
    def fetched(port: int) -> bool:
        status, body = run.request("GET", "/fx_ev_async/probe", port=port)
        return status == 200 and json.loads(body)["fetched"] == TARGET_BODY

    wait_for(lambda: fetched(run.platform.platform_port), 30, "the server's probe route")
    wait_for(lambda: fetched(run.platform.mobile_port), 30, "the client's probe route")
    status, body = run.request("POST", "/fx_ev_async/echo", b'{"a": 1}')
    assert (status, json.loads(body)) == (201, {"got": {"a": 1}})


def test_http_requests_become_points_despite_slow_and_failing_handlers(run: Running) -> None:
    """Every HTTP request on the platform site is answered and becomes a monitoring point in
    the monitoring plugin's file, while another event plugin's handler never returns (its
    queue overflows, logged once) and a third one raises on every batch."""
    marker = "/fx_ev_async/probe"
    before = sum(1 for p in run.points() if p["tags"].get("path") == marker)
    for _ in range(40):
        status, _body = run.request("GET", marker)
        assert status == 200
    points = wait_points(
        run,
        lambda pts: sum(1 for p in pts if p["series"] == "http_request"
                        and p["tags"].get("path") == marker) >= before + 40,
        "40 more http_request points for the probe route")
    probe = [p for p in points if p["tags"].get("path") == marker][-1]
    assert probe["tags"]["site"] == "platform-site"
    assert probe["tags"]["method"] == "GET" and probe["tags"]["status"] == 200
    assert probe["tags"]["service"] == "server"
    assert probe["fields"]["durationMs"] >= 0 and probe["fields"]["completed"] is True
    assert run.server is not None
    log = run.server.log()
    assert log.count("Event queue of plugin fx_ev_slow for monitoring_event is full") == 1
    assert "Event handler of plugin fx_ev_fail for monitoring_event failed" in log
    # The points file is private: request paths and timings are data.
    path = run.plugin_dir("server", "peek_plugin_monitoring") / "points.jsonl"
    assert path.stat().st_mode & 0o077 == 0


def test_client_site_requests_become_points_in_the_client(run: Running) -> None:
    """Requests to the client's mobile site become points of the client service."""
    status, _ = run.request("GET", "/no-such-page-for-points", port=run.platform.mobile_port)
    assert status == 404
    points = wait_points(
        run, lambda pts: any(p["tags"].get("path") == "/no-such-page-for-points"
                             for p in pts),
        "the client's point", service="client")
    point = next(p for p in points if p["tags"].get("path") == "/no-such-page-for-points")
    assert point["tags"]["site"] == "mobile-site" and point["tags"]["status"] == 404
    assert point["tags"]["service"] == "client"


def test_rpcs_answered_by_the_server_become_points(run: Running) -> None:
    """The agent's ping RPCs answered by the server become ``rpc`` points with timing."""
    points = wait_points(
        run, lambda pts: any(p["series"] == "rpc" for p in pts), "an rpc point")
    rpc = next(p for p in points if p["series"] == "rpc")
    assert rpc["tags"]["status"] == "ok" and rpc["tags"]["caller"] == "peek-agent"
    assert "ping" in rpc["tags"]["rpc"]
    assert rpc["fields"]["durationMs"] >= 0 and rpc["fields"]["ok"] is True


def test_plugin_state_and_connection_events_reach_subscribers(run: Running) -> None:
    """A plugin subscribed through its platform hook gets plugin state changes (the plugins
    started after it) and the agent's and client's bus connections."""
    def seen() -> bool:
        events = run.watched()
        running = {e["data"]["plugin"] for e in events
                   if e["name"] == "plugin_state" and e["data"]["state"] == "running"}
        connected = {e["data"]["vortexName"] for e in events
                     if e["name"] == "connection" and e["data"]["state"] == "connected"
                     and e["data"]["kind"] == "service"}
        return {"fx_ev_async", "fx_e2e_rpc"} <= running and {
            "peek-agent", "peek-client"} <= connected

    wait_for(seen, 60, "running states and service connections")


def test_agent_disconnect_is_an_event_and_background_task_is_cancelled_on_stop(
        run: Running) -> None:
    """Stopping the agent cancels its plugin's asyncio task (close ran) and the server's
    subscriber sees the agent disconnect."""
    assert run.agent is not None
    assert run.agent.stop(timeout=30) == 0
    assert "fx async closed: cancelled=True" in run.agent.log()
    wait_for(lambda: any(e["name"] == "connection" and e["data"]["state"] == "disconnected"
                         and e["data"]["vortexName"] == "peek-agent"
                         for e in run.watched()), 30, "the agent's disconnect event")


def test_monitoring_plugin_posts_to_an_http_sink(tmp_path: Path) -> None:
    """Configured with ``{"sink": "http"}``, the monitoring plugin POSTs batches of points
    (aiohttp) to a local HTTP sink."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    run = Running(tmp_path / "platform")
    try:
        settings = run.plugin_dir("server", "peek_plugin_monitoring") / "settings.json"
        settings.write_text(json.dumps(
            {"sink": "http", "url": f"http://127.0.0.1:{sink.server_address[1]}/points",
             "series": ["http_request"]}))
        run.start(with_agent=False, with_client=False)
        assert run.request("GET", "/sink-marker")[0] == 404
        wait_for(lambda: any(p["tags"].get("path") == "/sink-marker"
                             for batch in received for p in batch["points"]),
                 60, "the sink-marker point at the HTTP sink")
        assert all(p["series"] == "http_request" for b in received for p in b["points"])
        assert not run.points(), "the file sink must not be used"
    finally:
        run.stop()
        sink.shutdown()
        sink.server_close()

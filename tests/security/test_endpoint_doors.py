"""The endpoint routes' door, attacked over real sockets on a running server: keys, the
query string, CORS, the control routes, path parameters and body size."""

import socket
from collections.abc import Iterator

import pytest

from tests.endpoints.endpoint_fixture import (
    ALLOWED_ORIGIN,
    EndpointServer,
    start_endpoint_server,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndpointServer]:
    yield from start_endpoint_server(tmp_path_factory.mktemp("endpoint_doors"))


def _calls(served: EndpointServer) -> list[str]:
    return served.request("/fx/calls", key="fixture").json["calls"]  # type: ignore[no-any-return]


def test_no_key_is_401(served: EndpointServer) -> None:
    """Without X-Api-Key a route answers 401 with a JSON error and the header to use, and
    the handler does not run."""
    before = _calls(served)
    r = served.request("/fx/sync")
    assert r.status == 401
    assert r.headers["www-authenticate"] == 'ApiKey header="X-Api-Key"'
    assert "X-Api-Key" in r.json["error"]["message"]
    assert _calls(served) == before


@pytest.mark.parametrize("sent", ["wrong", "", " ", "x" * 5000])
def test_wrong_key_is_401(served: EndpointServer, sent: str) -> None:
    """A key that matches no digest (empty, blank, huge or just wrong) is 401."""
    r = served.request("/fx/sync", headers=[("X-Api-Key", sent)])
    assert r.status == 401, r.body


def test_hash_itself_is_not_a_key(served: EndpointServer) -> None:
    """Sending the stored digest (what config.json holds) does not open anything."""
    digest = served.config["httpServer"]["apiKeys"][0]["hash"]
    for sent in (digest, digest.removeprefix("sha256:")):
        assert served.request("/fx/sync", headers=[("X-Api-Key", sent)]).status == 401


def test_key_for_another_plugin_is_401(served: EndpointServer) -> None:
    """A key limited to one plugin opens that plugin's routes only, with the same answer as
    an unknown key."""
    assert served.request("/other", key="other").status == 200
    refused = served.request("/fx/sync", key="other")
    unknown = served.request("/fx/sync", headers=[("X-Api-Key", "nope")])
    assert refused.status == unknown.status == 401
    assert refused.json == unknown.json
    assert served.request("/other", key="fixture").status == 401


@pytest.mark.parametrize("name", ["apikey", "api_key", "API_KEY", "x-api-key", "key", "token"])
def test_key_in_query_string_is_refused(served: EndpointServer, name: str) -> None:
    """A key in the URL (which lands in access logs) is refused with 400, even when the
    header carries a good key, and the handler does not run."""
    before = _calls(served)
    good = served.keys["fixture"]
    r = served.request(f"/fx/sync?{name}={good}", key="fixture")
    assert r.status == 400
    assert "X-Api-Key header" in r.json["error"]["message"]
    assert served.request(f"/fx/sync?{name}={good}").status == 400
    assert _calls(served) == before


def test_preflight_from_allowed_origin_passes(served: EndpointServer) -> None:
    """OPTIONS from a listed origin for a method the route answers gets 204 and the CORS
    headers naming that origin and the key header; no key is needed for it."""
    r = served.request("/fx/sync", "OPTIONS", [("Origin", ALLOWED_ORIGIN),
                                               ("Access-Control-Request-Method", "GET"),
                                               ("Access-Control-Request-Headers", "x-api-key")])
    assert r.status == 204
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "GET" in r.headers["access-control-allow-methods"]
    assert "X-Api-Key" in r.headers["access-control-allow-headers"]
    r = served.request("/fx/sync", headers=[("Origin", ALLOWED_ORIGIN)], key="fixture")
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize("origin", ["http://evil.example", ALLOWED_ORIGIN + ".evil.example",
                                    "null", ALLOWED_ORIGIN.replace("http:", "https:")])
def test_other_origins_are_refused(served: EndpointServer, origin: str) -> None:
    """A preflight or a request from an origin not listed is 403 without CORS headers, and
    the handler does not run even with a good key."""
    before = _calls(served)
    r = served.request("/fx/sync", "OPTIONS", [("Origin", origin),
                                               ("Access-Control-Request-Method", "GET")])
    assert r.status == 403
    assert "access-control-allow-origin" not in r.headers
    r = served.request("/fx/sync", headers=[("Origin", origin)], key="fixture")
    assert r.status == 403
    assert "access-control-allow-origin" not in r.headers
    assert _calls(served) == before


def test_preflight_for_a_method_the_route_lacks_is_refused(served: EndpointServer) -> None:
    """An allowed origin asking to DELETE a GET-only route is refused."""
    r = served.request("/fx/sync", "OPTIONS", [("Origin", ALLOWED_ORIGIN),
                                               ("Access-Control-Request-Method", "DELETE")])
    assert r.status == 403


@pytest.mark.parametrize("method,target", [("GET", "/plugins"), ("POST", "/reload/all"),
                                           ("POST", "/reload/peek_plugin_sysinfo")])
def test_control_routes_need_a_control_key(served: EndpointServer, method: str,
                                           target: str) -> None:
    """The control routes refuse no key, a wrong key and a key without "control" (even
    one admitting every plugin), and nothing is reloaded."""
    log_before = served.server.log()
    assert served.request(target, method).status == 401
    assert served.request(target, method, [("X-Api-Key", "wrong")]).status == 401
    assert served.request(target, method, key="all").status == 401
    assert served.request(target, method, key="fixture").status == 401
    reloads = [line for line in served.server.log()[len(log_before):].splitlines()
               if "Control route" in line]
    assert reloads == []


def test_control_routes_answer_only_their_methods(served: EndpointServer) -> None:
    """GET on a reload route is 405, not a reload."""
    assert served.request("/reload/all", "GET", key="control").status == 405


@pytest.mark.parametrize("target", [
    "/fx/echo/..%2F..%2Fetc%2Fpasswd", "/fx/echo/%2E%2E", "/fx/echo/..", "/fx/echo/.",
    "/fx/echo/a%00b", "/fx/echo/a%5Cb", "/fx/echo/%2Fetc", "/fx/echo/%FF",
    "/fx/echo//items/1",
])
def test_path_parameters_cannot_escape(served: EndpointServer, target: str) -> None:
    """A path parameter is one plain segment: encoded slashes, backslashes, dot segments,
    NUL and undecodable bytes are 400 and never reach the handler."""
    before = _calls(served)
    r = served.request(target, key="fixture")
    assert r.status == 400, (target, r.status, r.body)
    assert r.json["error"]["status"] == 400
    assert _calls(served) == before


def test_extra_segments_do_not_match(served: EndpointServer) -> None:
    """A parameter takes exactly one segment: more segments are 404."""
    assert served.request("/fx/echo/a/b/c", key="fixture").status == 404


def test_huge_body_is_413(served: EndpointServer) -> None:
    """A body over httpServer.endpointMaxBodyBytes is 413 with the limit named, and the
    handler does not run; a body just under it is accepted."""
    before = _calls(served)
    limit = 64 * 1024
    r = served.request("/fx/coro", "POST", [("Content-Type", "application/json")],
                       b"[" + b"1," * limit + b"1]", key="fixture")
    assert r.status == 413
    assert str(limit) in r.json["error"]["message"]
    assert _calls(served) == before
    body = b'"' + b"a" * (limit - 10) + b'"'
    r = served.request("/fx/coro", "POST", [("Content-Type", "application/json")], body,
                       key="fixture")
    assert r.status == 201


def test_malformed_json_body_is_400(served: EndpointServer) -> None:
    """A body sent as JSON that does not parse is 400 saying so; the handler does not run."""
    r = served.request("/fx/coro", "POST", [("Content-Type", "application/json")],
                       b"{not json", key="fixture")
    assert r.status == 400 and "not valid JSON" in r.json["error"]["message"]


def test_keys_never_reach_the_log(served: EndpointServer) -> None:
    """Neither a good key nor its use leaves the key's text in the service log."""
    served.request("/fx/sync", key="fixture")
    served.request("/plugins", key="control")
    log = served.server.log()
    for key in served.keys.values():
        assert key not in log


def test_announced_huge_body_is_refused_before_it_is_sent(served: EndpointServer) -> None:
    """A request announcing a body over httpServer.maxRequestBodyBytes (any route, any
    site) is answered 413 naming the limit as soon as its headers are in: the client never
    sends a byte of the body, and the server keeps serving."""
    port = served.port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /fx/coro HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 10000000000\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"httpServer.maxRequestBodyBytes" in answer and b"67108864" in answer
    assert served.request("/fx/sync", key="fixture").status == 200

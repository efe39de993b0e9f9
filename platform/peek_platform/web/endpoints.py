"""JSON endpoint routes on a service's sites: routing, API keys, CORS and JSON errors.

A plugin's ``addJsonEndpoint("/name/{param}", handler, methods)`` puts a route under the
site root's child ``name``; that first segment belongs to one plugin (a second plugin
asking for it, or a name the site already serves such as ``vortexws``, is refused with a
ValueError naming the owner). Every request on such a route goes through, in order:

1. CORS: a request carrying an ``Origin`` not in ``httpServer.corsOrigins`` is refused
   (403); an ``OPTIONS`` preflight from a listed origin for a method the route answers
   gets 204 with the ``Access-Control-*`` headers, any other preflight 403.
2. The route: unknown path 404, method not answered 405; a path parameter is one decoded
   segment and may not be empty, ``.``, ``..`` or hold ``/``, ``\\`` or NUL (400).
3. The key: one sent in the query string is refused (400) even with a good header; then
   ``X-Api-Key`` must match an entry of ``httpServer.apiKeys`` admitting this site and
   plugin (control routes: an entry with ``"control": true``), else 401.
4. The body: over ``httpServer.endpointMaxBodyBytes`` 413; a JSON body that does not parse
   400.
5. The handler (sync, coroutine or Deferred): ``(status, data)`` or data, sent as JSON.
   :class:`~peek_plugin_base.endpoints.EndpointError` gives its status and message; any
   other exception, or data that is not JSON, gives 500 with an error id whose traceback
   is in the log (``error_reply`` style).
"""

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Optional
from urllib.parse import parse_qs

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from peek_platform.config import ServiceConfig, default_endpoint_site
from peek_platform.web.api_keys import ApiKeyChecker, ApiKeyEntry, parse_entries
from peek_platform.web.plugin_site import RETRY_AFTER_SECONDS, PluginSiteRoot
from peek_platform.web.site import KEY_LIKE_QUERY_NAMES
from peek_plugin_base.endpoints import (
    API_KEY_HEADER,
    EndpointError,
    EndpointHandler,
    EndpointRequest,
)
from peek_vortex import as_deferred
from peek_vortex.errors import INTERNAL_MESSAGE, new_error_id

logger = logging.getLogger(__name__)

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_PREFLIGHT_MAX_AGE = b"600"


@dataclass
class _Route:
    plugin: Optional[str]
    template: str
    #: Segments after the first: a literal, or None for a parameter (named in ``names``).
    segments: list[tuple[Optional[str], str]]
    handler: EndpointHandler
    methods: frozenset[str]
    require_key: bool

    def match(self, rest: list[str]) -> Optional[dict[str, str]]:
        if len(rest) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for (literal, name), part in zip(self.segments, rest, strict=True):
            if literal is None:
                params[name] = part
            elif literal != part:
                return None
        return params


def parse_template(template: str) -> tuple[str, list[tuple[Optional[str], str]]]:
    """The first segment and the rest of a route template; ValueError naming the problem."""
    if not isinstance(template, str) or not template.startswith("/"):
        raise ValueError(f"an endpoint path must be a string starting with '/', got {template!r}")
    parts = template.strip("/").split("/")
    if not parts or not parts[0] or parts[0].startswith("{"):
        raise ValueError(f"endpoint path {template!r} must start with a fixed name, "
                         "e.g. /sysinfo or /sysinfo/{iface}")
    segments: list[tuple[Optional[str], str]] = []
    names: set[str] = set()
    for part in parts[1:]:
        if part.startswith("{") and part.endswith("}") and part[1:-1].isidentifier():
            name = part[1:-1]
            if name in names:
                raise ValueError(f"endpoint path {template!r} names parameter {name} twice")
            names.add(name)
            segments.append((None, name))
        elif not part or any(c in part for c in "{}\\\x00") or part in (".", ".."):
            raise ValueError(f"endpoint path {template!r} has an unusable segment {part!r}")
        else:
            segments.append((part, part))
    return parts[0], segments


def encode_json(data: Any) -> bytes:
    """The response body for ``data``; TypeError/ValueError when it is not JSON-serialisable."""
    return json.dumps(data, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _json_error(request: Request, status: int, message: str,
                code: Optional[str] = None) -> bytes:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    body = {"error": {"status": status, "code": code or reason.replace(" ", ""),
                      "message": message}}
    return encode_json(body)


class EndpointHub:
    """The endpoint routes of one service: per-site branches, keys, CORS and body limit."""

    def __init__(self, config: ServiceConfig, sites: dict[str, PluginSiteRoot]) -> None:
        self._config = config
        self.sites = sites
        self._branches: dict[tuple[str, str], EndpointBranch] = {}
        self._keys_source: Any = None
        self._checker = ApiKeyChecker([])

    # ------------------------------------------------------------ settings
    # Read from the live config each time (SIGHUP replaces its data), parsed once per value.

    def checker(self) -> ApiKeyChecker:
        source = self._config["httpServer.apiKeys"]
        if source is not self._keys_source:
            self._checker = ApiKeyChecker(parse_entries(source))
            self._keys_source = source
        return self._checker

    def cors_origins(self) -> list[str]:
        return list(self._config["httpServer.corsOrigins"])

    def max_body(self) -> int:
        return int(self._config["httpServer.endpointMaxBodyBytes"])

    def site_for(self, plugin: str) -> str:
        """The site name ``plugin``'s endpoints go on."""
        chosen = self._config["httpServer.endpointSites"].get(plugin)
        site = chosen or default_endpoint_site(self._config.service)
        if site is None or site not in self.sites:
            raise NotImplementedError(f"the {self._config.service} service serves no endpoints")
        return str(site)

    # ------------------------------------------------------------ routes

    def add_route(self, site: str, plugin: Optional[str], template: str,
                  handler: EndpointHandler, methods: Sequence[str] = ("GET",),
                  require_key: bool = True) -> Callable[[], None]:
        """Serve ``handler`` at ``template`` on ``site``; returns the undo.

        ``plugin`` None is a platform control route (needs a key with ``control``).
        """
        if not callable(handler):
            raise ValueError(f"endpoint handler for {template!r} must be callable, got {handler!r}")
        wanted = frozenset(m.upper() for m in methods)
        if not wanted or not wanted <= HTTP_METHODS:
            raise ValueError(f"endpoint {template!r} methods must be some of "
                             f"{', '.join(sorted(HTTP_METHODS))}, got {list(methods)!r}")
        first, segments = parse_template(template)
        root = self.sites[site]
        branch = self._branches.get((site, first))
        if branch is None:
            existing = root.children.get(first.encode())
            if existing is not None:
                raise ValueError(f"endpoint path /{first} is already served on the {site} site "
                                 f"by something else ({type(existing).__name__})")
            branch = EndpointBranch(self, site, first, plugin)
            root.putChild(first.encode(), branch)
            self._branches[(site, first)] = branch
        elif branch.plugin != plugin and branch.routes:
            owner = branch.plugin or "the platform"
            raise ValueError(f"endpoint path /{first} on the {site} site belongs to {owner}")
        branch.plugin = plugin
        route = _Route(plugin, template, segments, handler, wanted, require_key)
        for other in branch.routes:
            if [s[0] for s in other.segments] == [s[0] for s in segments] and \
                    other.methods & wanted:
                both = ", ".join(sorted(other.methods & wanted))
                raise ValueError(f"endpoint {template!r} is already declared as "
                                 f"{other.template!r} for {both}")
        branch.routes.append(route)

        def undo() -> None:
            # The emptied branch stays: while its plugin reloads it answers 503, not 404,
            # and another plugin may take the name over once it is empty.
            if route in branch.routes:
                branch.routes.remove(route)

        logger.info("Endpoint %s %s on the %s site (%s)", ",".join(sorted(wanted)), template,
                    site, plugin or "platform control")
        return undo


class EndpointBranch(Resource):
    """Every route under one first path segment of a site, all from one owner."""

    isLeaf = True

    def __init__(self, hub: EndpointHub, site: str, first: str, plugin: Optional[str]) -> None:
        super().__init__()
        self.hub = hub
        self.site = site
        self.first = first
        self.plugin = plugin
        self.routes: list[_Route] = []

    def render(self, request: Request) -> Any:
        method = request.method.decode("ascii", "replace").upper()
        origin_raw = request.getHeader(b"origin")
        origin = origin_raw.decode("latin-1") if origin_raw is not None else None
        allowed_origin = origin is not None and origin in self.hub.cors_origins()
        if origin is not None and not allowed_origin:
            return _json_error(request, 403, f"origin {origin!r} is not allowed "
                                             "(httpServer.corsOrigins)")
        if allowed_origin:
            assert origin_raw is not None
            request.setHeader(b"access-control-allow-origin", origin_raw)
            request.setHeader(b"vary", b"Origin")

        gate = getattr(self.hub.sites[self.site], "gate", None)
        reason = gate.closed_reason(self.plugin) if gate and self.plugin else None
        if reason is not None:
            request.setHeader(b"retry-after", str(RETRY_AFTER_SECONDS).encode())
            return _json_error(request, 503, f"plugin {self.plugin} is {reason}; retry "
                                             "shortly", "PluginReloading")

        rest = [part.decode("utf-8", "replace") for part in request.postpath]
        if rest and rest[-1] == "":
            rest = rest[:-1]  # "/sysinfo/" is "/sysinfo"
        bad = next((p for p in rest if not p or p in (".", "..")
                    or any(c in p for c in "/\\\x00\ufffd")), None)
        if bad is not None:
            return _json_error(request, 400, f"path segment {bad!r} is not allowed "
                                             "(empty, '.', '..', a slash, backslash or NUL)")
        matches = [(route, params) for route in self.routes
                   if (params := route.match(rest)) is not None]
        if not matches:
            return _json_error(request, 404, "no such endpoint")
        allow = sorted(set().union(*(route.methods for route, _ in matches)))
        if method == "OPTIONS":
            return self._preflight(request, origin, allow)
        found = [(r, p) for r, p in matches if method in r.methods]
        if not found:
            request.setHeader(b"allow", ", ".join([*allow, "OPTIONS"]).encode())
            return _json_error(request, 405, f"{method} is not allowed here; use "
                                             f"{', '.join(allow)}")
        route, params = found[0]

        query = parse_qs(request.uri.partition(b"?")[2].decode("utf-8", "replace"),
                         keep_blank_values=True)
        key_like = sorted(n for n in query if n.lower() in KEY_LIKE_QUERY_NAMES)
        if key_like:
            return _json_error(request, 400, f"query argument {key_like[0]!r} refused: send "
                                             f"API keys in the {API_KEY_HEADER} header, never "
                                             "in the URL (URLs are logged)")
        key_name: Optional[str] = None
        if route.require_key:
            entry = self._authorise(request, route.plugin)
            if isinstance(entry, bytes):
                return entry
            key_name = entry.name

        max_body = self.hub.max_body()
        length = request.getHeader(b"content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            return _json_error(request, 413, f"request body of {int(length)} bytes is over the "
                                             f"limit of {max_body} bytes")
        request.content.seek(0)
        body = request.content.read(max_body + 1)
        if len(body) > max_body:
            return _json_error(request, 413, f"request body is over the limit of {max_body} "
                                             "bytes")
        try:
            endpoint_request = self._endpoint_request(request, method, params, query, body)
            endpoint_request.api_key_name = key_name
        except EndpointError as e:
            return _json_error(request, e.status, e.message, e.code)

        finished = [False]
        request.notifyFinish().addBoth(lambda _: finished.__setitem__(0, True))
        if gate is not None and route.plugin is not None:
            # Counted until answered, so a reload of the plugin drains it first.
            plugin = route.plugin
            gate.enter(plugin)
            request.notifyFinish().addBoth(lambda _: gate.leave(plugin))
        d = ensureDeferred(self._call(route, endpoint_request))
        d.addBoth(self._respond, request, route, finished)
        return NOT_DONE_YET

    def _preflight(self, request: Request, origin: Optional[str], allow: list[str]) -> bytes:
        request.setHeader(b"allow", ", ".join([*allow, "OPTIONS"]).encode())
        if origin is None:
            request.setResponseCode(204)
            return b""
        wanted = (request.getHeader(b"access-control-request-method") or b"").decode(
            "latin-1").upper()
        if wanted not in allow:
            return _json_error(request, 403, f"preflight for method {wanted!r} refused; this "
                                             f"route answers {', '.join(allow)}")
        request.setResponseCode(204)
        request.setHeader(b"access-control-allow-methods", ", ".join(allow).encode())
        request.setHeader(b"access-control-allow-headers",
                          f"{API_KEY_HEADER}, Content-Type".encode())
        request.setHeader(b"access-control-max-age", _PREFLIGHT_MAX_AGE)
        return b""

    def _authorise(self, request: Request, plugin: Optional[str]) -> "ApiKeyEntry | bytes":
        """The admitting key entry, or the 401 body to answer."""
        presented = request.getHeader(API_KEY_HEADER.encode())
        if presented is None:
            request.setHeader(b"www-authenticate", f'ApiKey header="{API_KEY_HEADER}"'.encode())
            return _json_error(request, 401, f"an API key is required in the {API_KEY_HEADER} "
                                             "header")
        entry: Optional[ApiKeyEntry] = self.hub.checker().match(
            presented.decode("latin-1"))
        if entry is None or not entry.admits(self.site, plugin):
            # One answer for an unknown key and a key for something else: a caller learns
            # nothing about which keys exist.
            request.setHeader(b"www-authenticate", f'ApiKey header="{API_KEY_HEADER}"'.encode())
            return _json_error(request, 401, "the API key is not valid for this endpoint")
        return entry

    @staticmethod
    def _endpoint_request(request: Request, method: str, params: dict[str, str],
                          query: dict[str, list[str]], body: bytes) -> EndpointRequest:
        headers = {
            name.decode("latin-1").lower(): values[-1].decode("latin-1")
            for name, values in request.requestHeaders.getAllRawHeaders()
            if name.lower() != API_KEY_HEADER.lower().encode()
        }
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        parsed_json: Any = None
        form: dict[str, Any] = {}
        if body and content_type == "application/json":
            try:
                parsed_json = json.loads(body)
            except ValueError as e:
                raise EndpointError(400, f"the body is not valid JSON: {e}") from None
        elif body and content_type == "application/x-www-form-urlencoded":
            form = _flatten(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        segments = request.prepath + request.postpath
        path = "/" + "/".join(p.decode("utf-8", "replace") for p in segments)
        return EndpointRequest(method=method, path=path, params=params,
                               query=_flatten(query), headers=headers, body=body,
                               json=parsed_json, form=form)

    @staticmethod
    async def _call(route: _Route, endpoint_request: EndpointRequest) -> Any:
        result = route.handler(endpoint_request)
        if isinstance(result, Deferred) or hasattr(result, "__await__"):
            # as_deferred: a coroutine handler runs as an asyncio Task (it may use asyncio).
            result = await as_deferred(result)
        return result

    def _respond(self, result: Any, request: Request, route: _Route,
                 finished: list[bool]) -> None:
        if finished[0]:
            return  # the caller went away; nothing to answer
        what = f"endpoint {request.method.decode('ascii', 'replace')} {route.template} " \
               f"({route.plugin or 'platform'})"
        if isinstance(result, Failure):
            if isinstance(result.value, EndpointError):
                error: EndpointError = result.value
                body = _json_error(request, error.status, error.message, error.code)
            else:
                body = self._internal(request, result, what)
        else:
            status = 200
            if isinstance(result, tuple) and len(result) == 2 and type(result[0]) is int:
                status, result = result
            try:
                if not 100 <= status <= 599:
                    raise ValueError(f"returned status {status}, not an HTTP status")
                body = encode_json(result)
                request.setResponseCode(status)
                request.setHeader(b"content-type", b"application/json")
                request.setHeader(b"cache-control", b"no-store")
            except (TypeError, ValueError) as e:
                body = self._internal(request, Failure(e), what)
        request.setHeader(b"content-length", str(len(body)).encode())
        request.write(body)
        request.finish()

    @staticmethod
    def _internal(request: Request, failure: Failure, what: str) -> bytes:
        error_id = new_error_id()
        logger.error("%s failed, error id %s: %s", what, error_id, failure.getTraceback())
        return _json_error(request, 500, INTERNAL_MESSAGE.format(id=error_id),
                           type(failure.value).__name__)


def _flatten(values: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in values.items()}

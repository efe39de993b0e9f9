"""Background and event plugins in the style of seed 003, as adapters over our lifecycle.

A seed-style plugin is a class built with ``app`` (:class:`PluginApp`); the platform
drives it through an ordinary entry hook made by :func:`entryHookFor`::

    class Teapot(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/teapot", TeapotHandler)
        async def start(self):
            self.task = asyncio.create_task(self.boil())
        async def close(self):
            self.task.cancel()

    def peekServerEntryHook():
        return entryHookFor(Teapot, PluginServerEntryHookABC)

Mapping onto the entry hook: ``load()`` constructs the plugin; ``start()`` awaits
``initialize()``, then subscribes ``handleEvent`` to ``eventName`` (event plugins) and
awaits the plugin's own ``start()`` (background plugins); ``stop()`` unsubscribes and
awaits ``close()``; ``unload()`` drops the plugin. Each of these may be ``async def`` and
use asyncio (see :mod:`peek_plugin_base.aio`) when the plugin declares ``"asyncio": true``
in its ``plugin_package.json``, so its services run the asyncio reactor.

Routes (:meth:`BaseBackgroundPlugin.addRoute`) are served below ``/<pluginName>/`` on the
server's platform site, or the client's mobile and desktop sites; a route cannot leave
that prefix. A handler is a function ``handler(request)`` or a
:class:`BaseBackgroundHandler` subclass with ``get``/``post``/... methods; it may be
``async def`` and returns a :func:`pluginHTTPResponse`, a dict or list (JSON), a str or
bytes. :class:`RouteRequestError` becomes ``400`` with its message; any other exception
``500`` with an error id, the traceback going only to the log.
"""

import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Optional, Union

from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from peek_vortex import as_deferred
from peek_vortex.errors import error_reply

logger = logging.getLogger(__name__)

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")

#: Request bodies larger than this are refused with 413 before a handler runs.
MAX_ROUTE_BODY_BYTES = 1024 * 1024

#: One path segment of a route: letters, digits and ``-._~`` (no ``.``/``..`` segments).
_SEGMENT = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$")


@dataclass
class PluginHTTPResponse:
    """What a route handler answers: status, body and headers."""

    statusCode: int = 200  # noqa: N815 - the seed's name
    body: Union[str, bytes, dict[str, Any], list[Any], None] = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        """The body as bytes and the headers, with a content type for JSON and text."""
        headers = dict(self.headers)
        names = {k.lower() for k in headers}
        body = self.body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            if "content-type" not in names:
                headers["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode()
            if "content-type" not in names:
                headers["Content-Type"] = "text/plain; charset=utf-8"
        elif body is None:
            data = b""
        else:
            data = bytes(body)
        return data, headers


def pluginHTTPResponse(  # noqa: N802 - the seed's name
    statusCode: int = 200,  # noqa: N803
    body: Union[str, bytes, dict[str, Any], list[Any], None] = None,
    headers: Optional[dict[str, str]] = None,
) -> PluginHTTPResponse:
    """Build a route handler's response (the seed's helper)."""
    return PluginHTTPResponse(statusCode, body, dict(headers or {}))


class RouteRequestError(ValueError):
    """Raise it in a route handler to answer ``400`` with its message (bad input)."""


@dataclass(frozen=True)
class PluginRequest:
    """The request a route handler gets."""

    method: str
    path: str
    #: Query parameters; a repeated name keeps its last value.
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    #: The route's path below the plugin prefix, e.g. ``/teapot/version``.
    route: str

    def json(self) -> Any:
        """The body parsed as JSON; RouteRequestError (400) with the reason if it is not."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as e:
            raise RouteRequestError(f"the request body is not JSON: {e}") from None


class BaseBackgroundHandler:
    """A class-based route handler: define ``get``, ``post``, ... (seed 003)."""

    def __init__(self, plugin: "BaseBackgroundPlugin") -> None:
        self.plugin = plugin

    def response(
        self,
        body: Union[str, bytes, dict[str, Any], list[Any], None] = None,
        headers: Optional[dict[str, str]] = None,
        statusCode: int = 200,  # noqa: N803
    ) -> PluginHTTPResponse:
        """Build this handler's response."""
        return pluginHTTPResponse(statusCode, body, headers)


class PluginApp:
    """What a seed-style plugin gets as ``app``: its platform hook, name and logger."""

    def __init__(self, entryHook: Any) -> None:  # noqa: N803
        self.entryHook = entryHook
        self.platform = entryHook.platform
        self.pluginName: str = entryHook.name
        self.logger = logging.getLogger(entryHook.name)
        #: ``app.ctx.logger`` as in the seed.
        self.ctx = SimpleNamespace(logger=self.logger)

    @property
    def parameters(self) -> dict[str, Any]:
        """The plugin's parameters (``platform.pluginParams``, from config.json's
        ``plugin.params.<pluginName>`` where the platform offers them); else empty."""
        params = getattr(self.platform, "pluginParams", None)
        return dict(params) if isinstance(params, Mapping) else {}


class BaseSeedPlugin:
    """The common part of background and event plugins."""

    def __init__(self, app: PluginApp) -> None:
        self.app = app

    async def initialize(self) -> None:
        """Prepare the plugin (sessions, routes); runs when the service starts it."""

    async def close(self) -> None:
        """Release what the plugin holds; runs when the service stops it."""


class BaseEventPlugin(BaseSeedPlugin):
    """Receives the platform events named :attr:`eventName` in batches."""

    #: The platform event to receive (see :mod:`peek_plugin_base.events`).
    eventName: str = ""
    #: Most events per :meth:`handleEvent` call; None: the service's ``events.maxBatch``.
    maxBatch: Optional[int] = None
    #: Events queued before new ones are dropped; None: ``events.maxQueuePerSubscriber``.
    maxQueue: Optional[int] = None

    async def handleEvent(self, events: list[Any], logger: logging.Logger) -> None:  # noqa: N802
        """Handle one batch of events, oldest first."""
        raise NotImplementedError(f"{type(self).__name__} must implement handleEvent")


class _Route:
    def __init__(self, handler: Any, methods: Optional[Iterable[str]]) -> None:
        self.handler = handler
        if inspect.isclass(handler) and issubclass(handler, BaseBackgroundHandler):
            defined = {m for m in HTTP_METHODS if callable(getattr(handler, m, None))}
        else:
            defined = {"get"}
        if methods is not None:
            wanted = {m.lower() for m in methods}
            unknown = wanted - set(HTTP_METHODS)
            if unknown:
                raise ValueError(f"unknown HTTP method(s) {sorted(unknown)}")
            defined = wanted
        self.methods = frozenset(defined)


class _RouteResource(Resource):
    """Serves a plugin's routes that start with one first segment."""

    isLeaf = True

    def __init__(self, plugin: "BaseBackgroundPlugin", first: str) -> None:
        super().__init__()
        self.plugin = plugin
        self.first = first
        self.routes: dict[tuple[str, ...], _Route] = {}

    def render(self, request: Request) -> Any:
        try:
            rest = tuple(s.decode("utf-8") for s in request.postpath if s != b"")
        except UnicodeDecodeError:
            rest = None
        route = self.routes.get(rest) if rest is not None else None
        if route is None:
            return _plain(request, 404, "no such route")
        method = request.method.decode("latin-1").lower()
        if method not in route.methods:
            request.setHeader(b"allow", ", ".join(sorted(route.methods)).upper().encode())
            return _plain(request, 405, f"method {method.upper()} not allowed here")
        body = request.content.read(MAX_ROUTE_BODY_BYTES + 1) if request.content else b""
        if len(body) > MAX_ROUTE_BODY_BYTES:
            return _plain(request, 413, f"request body over {MAX_ROUTE_BODY_BYTES} bytes")
        plugin_request = PluginRequest(
            method=method.upper(),
            path=request.path.decode("latin-1"),
            query={k.decode("latin-1"): v[-1].decode("latin-1")
                   for k, v in request.args.items() if v},
            headers={k.decode("latin-1").lower(): v[-1].decode("latin-1")
                     for k, v in request.requestHeaders.getAllRawHeaders()},
            body=body,
            route="/" + "/".join((self.first, *rest)),
        )
        try:
            result = as_deferred(self._call(route, method, plugin_request))
        except Exception:
            result = as_deferred(Failure())
        finished = request.notifyFinish()
        finished.addErrback(lambda _: None)  # the client went away; nothing to answer
        result.addCallbacks(
            lambda value: self._respond(request, value),
            lambda failure: self._error(request, failure, plugin_request.route),
        )
        return NOT_DONE_YET

    def _call(self, route: _Route, method: str, plugin_request: PluginRequest) -> Any:
        handler = route.handler
        if inspect.isclass(handler):
            return getattr(handler(self.plugin), method)(plugin_request)
        return handler(plugin_request)

    def _respond(self, request: Request, value: Any) -> None:
        if request.finished or request._disconnected:
            return
        if not isinstance(value, PluginHTTPResponse):
            value = PluginHTTPResponse(200, value)
        try:
            data, headers = value.encoded()
        except Exception:
            self._error(request, Failure(), request.path.decode("latin-1"))
            return
        request.setResponseCode(value.statusCode)
        for name, header_value in headers.items():
            request.setHeader(name.encode("latin-1"), header_value.encode("latin-1"))
        if request.method != b"HEAD":
            request.write(data)
        request.finish()

    def _error(self, request: Request, failure: Failure, route: str) -> None:
        if failure.check(RouteRequestError):
            status, message = 400, str(failure.value)
        else:
            status = 500
            _code, message = error_reply(
                failure, logger, f"plugin {self.plugin.app.pluginName} route {route}")
        if request.finished or request._disconnected:
            return
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        request.write(json.dumps({"error": message}).encode())
        request.finish()


def _plain(request: Request, status: int, text: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    return json.dumps({"error": text}).encode()


def parse_route_path(path: str) -> tuple[str, ...]:
    """The segments of a route path like ``/teapot/version``; ValueError naming the problem
    when it could leave the plugin's prefix or is not a plain path."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"a route path must be a string starting with '/', got {path!r}")
    segments = tuple(s for s in path.split("/")[1:])
    if segments and segments[-1] == "":
        segments = segments[:-1]
    if not segments:
        raise ValueError("a route path needs at least one segment below the plugin prefix")
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise ValueError(
                f"route path {path!r}: segment {segment!r} is not allowed (use letters, "
                "digits and -._~; no empty, '.' or '..' segments)")
    return segments


class BaseBackgroundPlugin(BaseSeedPlugin):
    """Runs background work from :meth:`start` to :meth:`close` and may add routes."""

    def __init__(self, app: PluginApp) -> None:
        super().__init__(app)
        self._route_resources: dict[str, _RouteResource] = {}

    async def start(self) -> None:
        """Start the background work without waiting for it to end (seed 003)."""

    def addRoute(  # noqa: N802 - the seed's name
        self,
        path: str,
        handler: Union[type[BaseBackgroundHandler], Callable[[PluginRequest], Any]],
        methods: Optional[Iterable[str]] = None,
    ) -> None:
        """Serve ``handler`` at ``/<pluginName><path>`` (see the module docstring)."""
        segments = parse_route_path(path)
        route = _Route(handler, methods)
        first, rest = segments[0], segments[1:]
        resource = self._route_resources.get(first)
        if resource is None:
            resource = _RouteResource(self, first)
            self._mount(first.encode(), resource)
            self._route_resources[first] = resource
        if rest in resource.routes:
            raise ValueError(f"route {path!r} is already added")
        resource.routes[rest] = route

    def _mount(self, first: bytes, resource: Resource) -> None:
        platform = self.app.platform
        mounted = False
        for adder in ("addServerResource", "addMobileResource", "addDesktopResource"):
            add = getattr(platform, adder, None)
            if add is not None:
                add(first, resource)
                mounted = True
        if not mounted:
            raise ValueError(
                f"plugin {self.app.pluginName}: this service has no HTTP site, so "
                "addRoute is not available here (routes exist on the server and client)")


def entryHookFor(pluginClass: type, entryHookABC: type) -> type:  # noqa: N802, N803
    """An entry hook class (for ``peek<Service>EntryHook()``) that runs ``pluginClass``."""
    if not (inspect.isclass(pluginClass) and issubclass(pluginClass, BaseSeedPlugin)):
        raise TypeError(f"{pluginClass!r} must subclass BaseEventPlugin or "
                        "BaseBackgroundPlugin")
    if issubclass(pluginClass, BaseEventPlugin) and not pluginClass.eventName:
        raise TypeError(f"{pluginClass.__name__} must set eventName")
    return type(f"{pluginClass.__name__}EntryHook", (_SeedEntryHook, entryHookABC),
                {"pluginClass": pluginClass})


class _SeedEntryHook:
    """Drives a seed-style plugin from our load/start/stop/unload."""

    pluginClass: type
    plugin: Optional[BaseSeedPlugin] = None
    _unsubscribe: Optional[Callable[[], None]] = None

    def load(self) -> None:
        self.plugin = self.pluginClass(PluginApp(self))

    async def start(self) -> None:
        plugin = self.plugin
        assert plugin is not None
        await as_deferred(plugin.initialize())
        if isinstance(plugin, BaseEventPlugin):
            self._unsubscribe = self.platform.subscribeToEvents(  # type: ignore[attr-defined]
                plugin.eventName, _event_handler(plugin), plugin.maxBatch, plugin.maxQueue)
        if isinstance(plugin, BaseBackgroundPlugin):
            await as_deferred(plugin.start())

    async def stop(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        if self.plugin is not None:
            await as_deferred(self.plugin.close())

    def unload(self) -> None:
        self.plugin = None


def _event_handler(plugin: BaseEventPlugin) -> Callable[[list[Any]], Any]:
    """The subscription's handler: async for an async ``handleEvent`` (runs on the loop),
    plain otherwise (the dispatcher runs it in a thread)."""
    plugin_logger = plugin.app.logger
    if inspect.iscoroutinefunction(plugin.handleEvent):
        async def handle(batch: list[Any]) -> Any:
            return await plugin.handleEvent(batch, plugin_logger)

        return handle

    def handle_blocking(batch: list[Any]) -> Any:
        return plugin.handleEvent(batch, plugin_logger)

    return handle_blocking

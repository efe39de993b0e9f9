"""JSON endpoint plugins: the request a handler gets, the error it raises, and ``BasePlugin``.

A plugin declares JSON routes through its platform hook (server: the platform site, 8011,
unless ``httpServer.endpointSites`` names another site; client: the mobile site)::

    def start(self):
        self.platform.addJsonEndpoint("/weather/{city}", self._weather, methods=("GET",))

    async def _weather(self, request: EndpointRequest):
        if request.params["city"] not in self._cities:
            raise EndpointError(404, f"no such city {request.params['city']!r}")
        return {"city": request.params["city"], "celsius": 21}   # or (201, {...})

A handler may be a plain function, a coroutine function or return a Deferred. It returns
the data (sent with 200) or ``(status, data)``; the data must be JSON-serialisable. An
:class:`EndpointError` becomes a JSON error with its status and message; any other exception
becomes ``500 {"error": {"code": "<Class>", "message": "internal error, id <id>"}}`` and the
traceback goes to the service log under that id.

:class:`BasePlugin` is an adapter for plugins ported from the plugincore server (seed 002):
``request_handler(**data)``, ``async initialize(**params)`` and ``terminate_plugin()``
mapped onto this platform's ``start()`` / ``stop()``.
"""

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["BasePlugin", "EndpointError", "EndpointHandler", "EndpointRequest"]

#: The header an API key travels in (never the query string: URLs end up in logs).
API_KEY_HEADER = "X-Api-Key"


class EndpointError(Exception):
    """Raise it in a handler to answer ``status`` with a JSON error carrying ``message``."""

    def __init__(self, status: int, message: str, code: Optional[str] = None) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"an EndpointError status must be 400 to 599, got {status!r}")
        super().__init__(message)
        self.status = status
        self.message = message
        #: A short machine-readable code; defaults to the HTTP reason ("NotFound", ...).
        self.code = code


@dataclass
class EndpointRequest:
    """What a handler gets: the request's data, already parsed and size-checked."""

    method: str
    #: The request path (decoded), e.g. ``/sysinfo/eth0``.
    path: str
    #: Path parameters from ``{name}`` segments of the route, each one decoded segment.
    params: dict[str, str] = field(default_factory=dict)
    #: Query arguments; a name given once maps to a string, given more often to a list.
    query: dict[str, Any] = field(default_factory=dict)
    #: Headers, names lower-cased (the API key header is removed before the handler runs).
    headers: dict[str, str] = field(default_factory=dict)
    #: The raw body.
    body: bytes = b""
    #: The parsed body when it was sent as ``application/json``, else None.
    json: Any = None
    #: The fields of an ``application/x-www-form-urlencoded`` body.
    form: dict[str, Any] = field(default_factory=dict)
    #: The name of the API key entry that admitted the request (None on open routes).
    api_key_name: Optional[str] = None

    @property
    def data(self) -> dict[str, Any]:
        """Everything in one dict, as the plugincore server passed it: query arguments, form
        fields or the members of a JSON object body, path parameters, and the headers
        under ``request_headers`` (later sources win on a repeated name)."""
        merged: dict[str, Any] = dict(self.query)
        merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update(self.json)
        merged.update(self.params)
        merged["request_headers"] = dict(self.headers)
        return merged


#: A route handler: gets the request, returns data, ``(status, data)``, a Deferred or a
#: coroutine of either.
EndpointHandler = Callable[[EndpointRequest], Any]


class BasePlugin:
    """The plugincore ``BasePlugin`` over this platform's lifecycle (a mixin).

    Put it before the service's entry hook ABC::

        class ServerEntryHook(BasePlugin, PluginServerEntryHookABC):
            async def initialize(self, **params): ...
            async def request_handler(self, **data): return (200, {"hello": "world"})

    ``start()`` awaits ``initialize(**params)`` (``params``: this plugin's
    ``plugin.params.<pluginName>`` object from config.json) and then serves
    ``request_handler`` at ``/<route>``: ``routePath`` if the class sets it, else the
    ``route_path`` parameter, else the class name lower-cased (as plugincore named
    endpoints). ``stop()`` calls ``terminate_plugin()``. Requests need an API key unless
    ``requireApiKey`` is False.
    """

    #: The route; None: the ``route_path`` parameter, else the class name lower-cased.
    routePath: Optional[str] = None
    #: HTTP methods the route answers.
    routeMethods: Sequence[str] = ("GET", "POST")
    #: Whether callers must send an API key (``X-Api-Key``) that admits this plugin.
    requireApiKey: bool = True

    platform: Any

    @property
    def params(self) -> Mapping[str, Any]:
        """This plugin's parameters from config.json (``plugin.params.<pluginName>``)."""
        return self.platform.pluginParams  # type: ignore[no-any-return]

    @property
    def route(self) -> str:
        """The path the request handler is served at."""
        chosen = self.routePath or self.params.get("route_path") or type(self).__name__.lower()
        return "/" + str(chosen).strip("/")

    def load(self) -> None:
        """Nothing to do: plugincore plugins set themselves up in ``initialize``."""

    async def start(self) -> None:
        """Run ``initialize(**params)``, then serve ``request_handler``."""
        result = self.initialize(**dict(self.params))
        if inspect.isawaitable(result):
            await result
        self.platform.addJsonEndpoint(
            self.route, self._handle, methods=tuple(self.routeMethods),
            requireApiKey=self.requireApiKey,
        )

    async def _handle(self, request: EndpointRequest) -> Any:
        result = self.request_handler(**request.data)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def stop(self) -> None:
        """Run ``terminate_plugin()`` (the route itself is removed by the platform)."""
        result = self.terminate_plugin()
        if inspect.isawaitable(result):
            await result

    def unload(self) -> None:
        """Nothing to do."""

    def initialize(self, **params: Any) -> Any:
        """Set up what needs the reactor (may be ``async def``); gets the plugin's params."""
        return None

    def request_handler(self, **data: Any) -> Any:
        """Answer one request: return ``(status, data)`` or data; may be ``async def``."""
        raise EndpointError(501, f"{type(self).__name__} does not define request_handler")

    def terminate_plugin(self) -> Any:
        """Release what ``initialize`` started (may be ``async def``)."""
        return None

"""The control routes of seed 004 on the server's platform site: list and reload plugins.

``GET /plugins`` lists every enabled plugin with its state; ``POST /reload/<plugin>`` and
``POST /reload/all`` reload through the plugin host's one reload path
(:meth:`~peek_platform.plugin.host.PluginHost.reload_plugin`). All three need an API key
whose entry has ``"control": true`` (see :mod:`peek_platform.web.api_keys`).

As in seed 004, a reload re-reads config.json first: the reloaded plugin gets its current
``plugin.params`` and ``httpServer.endpointSites``, and the key, CORS and body settings
change for every route. A config.json that no longer validates is answered 500 with its
problems, and nothing is reloaded.
"""

import logging
from typing import Any

from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigError, PluginError
from peek_platform.plugin.host import PluginHost
from peek_platform.web.endpoints import EndpointHub
from peek_plugin_base.endpoints import EndpointError, EndpointRequest

logger = logging.getLogger(__name__)


#: The settings a reload re-reads from config.json (the rest wait for SIGHUP or a restart).
RELOAD_READS = ("plugin.params", "httpServer.apiKeys", "httpServer.corsOrigins",
                "httpServer.endpointMaxBodyBytes", "httpServer.endpointSites")


def refresh_config(config: ServiceConfig) -> None:
    """Re-read :data:`RELOAD_READS` from config.json into the running config."""
    try:
        fresh = ServiceConfig.load(config.service, config.home, write_defaults=False,
                                   server_home=config.server_home)
    except ConfigError as e:
        raise EndpointError(500, f"config.json not re-read, nothing reloaded: {e}",
                            "ConfigError") from None
    for key in RELOAD_READS:
        *parents, last = key.split(".")
        node = config.data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = fresh[key]


def add_control_routes(hub: EndpointHub, site: str, host: PluginHost,
                       config: ServiceConfig) -> None:
    """Serve ``/plugins``, ``/reload/all`` and ``/reload/<plugin>`` on ``site``."""

    def list_plugins(request: EndpointRequest) -> dict[str, Any]:
        return {"service": host.spec.service, "plugins": host.states()}

    async def reload_one(name: str, request: EndpointRequest) -> dict[str, Any]:
        logger.info("Control route: reload of plugin %s requested (API key %r)", name,
                    request.api_key_name)
        try:
            await host.reload_plugin(name)
        except PluginError as e:
            raise EndpointError(500, e.reason, "PluginReloadFailed") from None
        record = host.records[name]
        logger.info("Control route: plugin %s reloaded, now %s", name, record.state.value)
        return record.as_dict()

    async def reload_plugin(request: EndpointRequest) -> Any:
        name = request.params["plugin"]
        if name not in host.records or host.records[name].elsewhere:
            raise EndpointError(404, f"plugin {name!r} is not enabled on the "
                                     f"{host.spec.service} service")
        refresh_config(config)
        return await reload_one(name, request)

    async def reload_all(request: EndpointRequest) -> Any:
        refresh_config(config)
        results: dict[str, Any] = {}
        failed = False
        for name in list(host.active_names):
            try:
                results[name] = await reload_one(name, request)
            except EndpointError as e:
                failed = True
                results[name] = {"name": name, "state": "failed", "reason": e.message}
        return (500 if failed else 200), {"plugins": results}

    hub.add_route(site, None, "/plugins", list_plugins, ("GET",))
    hub.add_route(site, None, "/reload/all", reload_all, ("POST",))
    hub.add_route(site, None, "/reload/{plugin}", reload_plugin, ("POST",))

"""The control routes of seed 004 on the server's platform site: list and reload plugins.

``GET /plugins`` lists every enabled plugin with its state; ``POST /reload/<plugin>`` and
``POST /reload/all`` reload through the plugin host's one reload path
(:meth:`~peek_platform.plugin.host.PluginHost.reload_plugin`). All three need an API key
whose entry has ``"control": true`` (see :mod:`peek_platform.web.api_keys`).
"""

import logging
from typing import Any

from peek_platform.errors import PluginError
from peek_platform.plugin.host import PluginHost
from peek_platform.web.endpoints import EndpointHub
from peek_plugin_base.endpoints import EndpointError, EndpointRequest

logger = logging.getLogger(__name__)


def add_control_routes(hub: EndpointHub, site: str, host: PluginHost) -> None:
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
        return await reload_one(name, request)

    async def reload_all(request: EndpointRequest) -> Any:
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

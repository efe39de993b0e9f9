"""The admin-only RPCs of the platform state; only ``peek-admin`` connections may call them.

Call them from the admin pages with the browser bus client, or from Python with
``AdminRpc.controlPlugin.callVia(router, serviceId, pluginName, operation)``:

* ``peek_platform.admin_state.rpc.AdminRpc.controlPlugin(serviceId, pluginName,
  operation)``: ``operation`` is ``enable``, ``disable`` or ``reload``; ``serviceId`` one
  ``ServiceStateTuple.serviceId`` or ``"*"`` for every live service. Returns a list of
  ``PluginControlResultTuple`` (one per service, ``ok``/``state``/``error``).
* ``peek_platform.admin_state.rpc.AdminRpc.updateSetting(pluginName, key, value)``: sets
  one of a server plugin's settings; returns the stored value.

Both filt ``{"plugin": "peek_platform_admin"}`` and listen on ``peek-server``.
"""

from typing import TYPE_CHECKING, Any

from peek_platform.admin_state.tuples import ADMIN_FILT
from peek_platform.errors import PlatformStateError
from peek_plugin_base import PeekVortexUtil
from peek_vortex.errors import RemoteError
from peek_vortex.handlers import RpcHandle, vortexRPC
from peek_vortex.routing import PayloadRouter

if TYPE_CHECKING:
    from peek_platform.admin_state.registry import StateRegistry

#: Plugin reloads can take a while (a plugin's stop() may wait for its work to drain).
_CONTROL_TIMEOUT = 150.0


class AdminRpc:
    """The RPCs; ``start_admin_rpcs`` serves them on the server with a registry."""

    def __init__(self, registry: "StateRegistry") -> None:
        self._registry = registry

    @vortexRPC(PeekVortexUtil.peekServerName, acceptOnlyFromVortex=PeekVortexUtil.peekAdminName,
               additionalFilt=ADMIN_FILT, timeoutSeconds=_CONTROL_TIMEOUT)
    async def controlPlugin(self, serviceId: str, pluginName: str, operation: str) -> Any:
        """Enable, disable or reload a plugin on one service or on all."""
        try:
            return await self._registry.control(str(serviceId), str(pluginName),
                                                str(operation))
        except PlatformStateError as e:
            # The admin needs the reason, not an "internal error" id.
            raise RemoteError(PlatformStateError.code, str(e)) from e

    @vortexRPC(PeekVortexUtil.peekServerName, acceptOnlyFromVortex=PeekVortexUtil.peekAdminName,
               additionalFilt=ADMIN_FILT)
    async def updateSetting(self, pluginName: str, key: str, value: Any) -> Any:
        """Set one of a server plugin's settings; returns the stored value."""
        try:
            return await self._registry.update_setting(str(pluginName), str(key), value)
        except PlatformStateError as e:
            raise RemoteError(PlatformStateError.code, str(e)) from e


def start_admin_rpcs(registry: "StateRegistry", router: PayloadRouter) -> list[RpcHandle]:
    """Serve the admin RPCs on the server's router; shut the handles down at stop."""
    rpc = AdminRpc(registry)
    return [
        AdminRpc.controlPlugin.start(funcSelf=rpc, router=router),
        AdminRpc.updateSetting.start(funcSelf=rpc, router=router),
    ]

"""The sysinfo plugin's server entry hook, written as a port of plugincore's Netinfo plugin.

It uses the :class:`~peek_plugin_base.endpoints.BasePlugin` adapter: ``initialize`` starts a
background sampler, ``request_handler`` answers ``GET /sysinfo`` (query ``iface`` narrows
it to one interface), ``terminate_plugin`` stops the sampler. ``GET /sysinfo/{iface}`` is a
second route showing a path parameter. Parameters (``plugin.params.peek_plugin_sysinfo``):
``intervalSeconds`` (0.1 to 3600, default 2.5) between samples.
"""

import logging
import socket
from typing import Any, Optional

from twisted.internet.task import LoopingCall

from peek_plugin_base.endpoints import BasePlugin, EndpointError, EndpointRequest
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_sysinfo._private.sampler import NetSampler

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 2.5
_PARAMS = {"intervalSeconds", "route_path"}


def interval_from(params: dict[str, Any]) -> float:
    """The sampling interval from the plugin's params; ValueError naming the bad key."""
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise ValueError(f"plugin.params.peek_plugin_sysinfo has unknown key(s) "
                         f"{', '.join(unknown)}; it knows {', '.join(sorted(_PARAMS))}")
    interval = params.get("intervalSeconds", DEFAULT_INTERVAL_SECONDS)
    if type(interval) not in (int, float) or not 0.1 <= interval <= 3600:
        raise ValueError("plugin.params.peek_plugin_sysinfo.intervalSeconds must be a number "
                         f"of seconds from 0.1 to 3600, got {interval!r}")
    return float(interval)


class ServerEntryHook(BasePlugin, PluginServerEntryHookABC):
    """Serves ``/sysinfo``: interfaces, addresses, counters and rates."""

    routePath = "sysinfo"
    routeMethods = ("GET",)

    _sampler: Optional[NetSampler] = None
    _loop: Optional[LoopingCall] = None

    def load(self) -> None:
        # Bad parameters fail the plugin at load, naming the key, before anything runs.
        self._interval = interval_from(dict(self.params))

    def initialize(self, **params: Any) -> None:
        self._sampler = NetSampler()
        self._loop = LoopingCall(self._sampler.sample)
        self._loop.start(self._interval, now=True)
        self.platform.addJsonEndpoint("/sysinfo/{iface}", self._one_interface)
        logger.info("sysinfo: sampling interfaces every %gs", self._interval)

    def terminate_plugin(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _report(self, names: list[str]) -> dict[str, Any]:
        assert self._sampler is not None
        return {
            "hostname": socket.gethostname(),
            "intervalSeconds": self._interval,
            "samples": self._sampler.samples,
            "interfaces": [self._sampler.describe(name) for name in names],
        }

    def request_handler(self, **data: Any) -> tuple[int, dict[str, Any]]:
        assert self._sampler is not None
        wanted = data.get("iface")
        names = sorted(self._sampler.interfaces)
        if wanted is not None:
            if wanted not in self._sampler.interfaces:
                return 404, {"error": {"status": 404, "code": "NotFound",
                                       "message": f"no interface {wanted!r}"}}
            names = [wanted]
        return 200, self._report(names)

    def _one_interface(self, request: EndpointRequest) -> dict[str, Any]:
        assert self._sampler is not None
        name = request.params["iface"]
        if name not in self._sampler.interfaces:
            raise EndpointError(404, f"no interface {name!r}")
        return self._report([name])

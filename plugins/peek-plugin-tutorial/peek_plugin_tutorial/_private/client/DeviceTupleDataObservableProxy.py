"""The client service's proxy of the tutorial observable, serving devices."""

from peek_plugin_base.PeekVortexUtil import peekServerName
from peek_plugin_base.vortex import TupleDataObservableProxyHandler
from peek_plugin_tutorial._private.PluginNames import tutorialFilt, tutorialObservableName


def makeDeviceTupleDataObservableProxy() -> TupleDataObservableProxyHandler:
    """Devices subscribe here; the proxy subscribes once per selector to the server."""
    return TupleDataObservableProxyHandler(
        observableName=tutorialObservableName,
        proxyToVortexName=peekServerName,
        additionalFilt=tutorialFilt,
    )

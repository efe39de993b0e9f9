"""The client service's proxy of the tutorial action processor, serving devices."""

from peek_plugin_base.PeekVortexUtil import peekServerName
from peek_plugin_base.vortex import TupleActionProcessorProxy
from peek_plugin_tutorial._private.PluginNames import tutorialActionProcessorName, tutorialFilt


def makeTupleActionProcessorProxy() -> TupleActionProcessorProxy:
    """Forwards each device action to the server and relays the server's answer."""
    return TupleActionProcessorProxy(
        tupleActionProcessorName=tutorialActionProcessorName,
        proxyToVortexName=peekServerName,
        additionalFilt=tutorialFilt,
    )

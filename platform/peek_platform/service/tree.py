"""One Twisted service tree per process, started in order and stopped in reverse, awaited."""

import logging
from collections.abc import Callable
from typing import Any, Optional

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource

from peek_platform.plugin.host import PluginHost
from peek_platform.web.guard import DEFAULT_HEADER_TIMEOUT_SECONDS, ConnectionGate, GuardedSite

logger = logging.getLogger(__name__)


class SequencedMultiService(MultiService):
    """Starts children one after another, waiting for each; stops them in reverse.

    The first child that fails to start stops the sequence and fails the returned
    Deferred; children that did start are still stopped at shutdown.
    """

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        Service.startService(self)
        return Deferred.fromCoroutine(self._start_children())

    async def _start_children(self) -> None:
        for child in list(self):
            await maybeDeferred(child.startService)

    def stopService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop_children())

    async def _stop_children(self) -> None:
        for child in reversed(list(self)):
            if not child.running:
                continue
            try:
                await maybeDeferred(child.stopService)
            except Exception:
                logger.exception("Stopping %s failed; continuing shutdown", child.name)


class PluginHostService(Service):
    """Loads and starts the enabled plugins; stops and unloads them at shutdown."""

    name = "plugins"

    def __init__(self, host: PluginHost, enabled: Callable[[], list[str]]) -> None:
        self.host = host
        self._enabled = enabled

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().startService()
        return Deferred.fromCoroutine(self.host.start_plugins(self._enabled()))

    def stopService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().stopService()
        return Deferred.fromCoroutine(self.host.stop_all())


class ListeningSite(Service):
    """A twisted.web site listening on one TCP port, behind the process's connection gate."""

    def __init__(
        self,
        name: str,
        root: Resource,
        port: int,
        interface: str,
        gate: Optional[ConnectionGate] = None,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
    ) -> None:
        self.name = name
        self.root = root
        self.port = port
        self.interface = interface
        self.gate = gate or ConnectionGate()
        self.header_timeout = header_timeout
        self._listening: Optional[IListeningPort] = None

    def startService(self) -> None:  # noqa: N802 - twisted API
        from twisted.internet import reactor

        super().startService()
        site = GuardedSite(self.root, self.gate, self.header_timeout)
        site.noisy = False
        # A root may bring its own request class (the admin site bounds request bodies).
        request_factory = getattr(self.root, "request_factory", None)
        if request_factory is not None:
            site.requestFactory = request_factory
        self._listening = reactor.listenTCP(self.port, site, interface=self.interface)
        logger.info("%s listening on http://%s:%d/", self.name, self.interface, self.port)

    def stopService(self) -> Any:  # noqa: N802 - twisted API
        super().stopService()
        listening, self._listening = self._listening, None
        if listening is not None:
            logger.info("%s closing port %d", self.name, self.port)
            return listening.stopListening()
        return None


class PeekServiceTree(SequencedMultiService):
    """The root service of a ``run_peek_*`` process.

    Children start in the order they are added, so services add what plugins need (the
    bus connection, the database) before the plugin host, and what exposes the plugins
    (listening ports) after it; shutdown runs the same list backwards.
    """

    def __init__(self, service: str, host: PluginHost) -> None:
        super().__init__()
        self.setName(f"peek-{service}")
        self.service = service
        self.host = host

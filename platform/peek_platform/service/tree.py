"""One Twisted service tree per process, started in order and stopped in reverse, awaited."""

import logging
from collections.abc import Callable
from typing import Any, Optional

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
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
    """A twisted.web site listening on one TCP port, behind the process's connection gate.

    With ``tls`` (Twisted CertificateOptions) ``port`` serves https (and wss); ``plain_port``
    (non-zero, TLS only) also serves the same site as plain http, for a migration.
    """

    def __init__(
        self,
        name: str,
        root: Resource,
        port: int,
        interface: str,
        gate: Optional[ConnectionGate] = None,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
        tls: Any = None,
        plain_port: int = 0,
        max_body_bytes: Optional[int] = None,
    ) -> None:
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.root = root
        self.port = port
        self.interface = interface
        self.gate = gate or ConnectionGate()
        self.header_timeout = header_timeout
        self.tls = tls
        self.plain_port = plain_port if tls is not None else 0
        self._listening: list[IListeningPort] = []

    def startService(self) -> None:  # noqa: N802 - twisted API
        from twisted.internet import reactor

        super().startService()
        site = GuardedSite(self.root, self.gate, self.header_timeout,
                           max_body_bytes=self.max_body_bytes)
        site.noisy = False
        site.site_name = self.name
        if self.tls is None:
            self._listening.append(reactor.listenTCP(self.port, site, interface=self.interface))
            logger.info("%s listening on http://%s:%d/", self.name, self.interface, self.port)
            return
        self._listening.append(
            reactor.listenSSL(self.port, site, self.tls, interface=self.interface))
        logger.info("%s listening on https://%s:%d/", self.name, self.interface, self.port)
        if self.plain_port:
            try:
                self._listening.append(
                    reactor.listenTCP(self.plain_port, site, interface=self.interface))
            except Exception:
                # startService raising leaves stopService uncalled: close the TLS port now.
                for port in self._listening:
                    port.stopListening()
                self._listening = []
                raise
            logger.warning("%s also listening on plain http://%s:%d/ (plainPort; traffic "
                           "there, the platform token included, is not encrypted)",
                           self.name, self.interface, self.plain_port)

    def stopService(self) -> Any:  # noqa: N802 - twisted API
        super().stopService()
        listening, self._listening = self._listening, []
        if not listening:
            return None
        logger.info("%s closing port %s", self.name,
                    " and ".join(str(p.getHost().port) for p in listening))
        return gatherResults([maybeDeferred(p.stopListening) for p in listening])


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

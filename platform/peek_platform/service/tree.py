"""One Twisted service tree per process: children declare what they require, the tree
orders them, starts them in that order, stops them in reverse, and reconfigures them.

Design
------
The model is Celery's bootsteps (``requires``) with Buildbot's reconfiguration
(``reconfigServiceWithConfig``), on Twisted's own ``MultiService``:

- **Names and requirements.** Every child of a :class:`PeekServiceTree` has a ``name``
  (Twisted's ``IService.name``) and a ``requires``: the names of the siblings that must be
  running before it starts (a class attribute where the need is the class's own, e.g.
  ``ActionOutcomeService.requires = ("storage",)``; set with :func:`declare_requires`
  where it depends on how a service is assembled, e.g. the server's bus hub requires the
  action outcome record). The builder makes the plugin host require everything a service
  adds "before plugins", and each listening site require the plugin host.
- **Order.** :func:`start_order` sorts the children topologically (Kahn's algorithm; ties
  keep the order the children were added, so the order is deterministic). A requirement
  that names no sibling, a child without a name and a cycle are a
  :class:`~peek_platform.errors.ServiceTreeError` naming them, raised when the tree is
  built (:meth:`PeekServiceTree.resolve_order`) rather than half-way through a start.
- **Start and stop.** Children start one after another, each awaited; the first failure
  stops the sequence and fails the start. Stop runs the same order backwards, awaits
  every child's stop and goes on past one that fails, so what a child requires is still
  running while it stops.
- **Reconfigure.** SIGHUP reloads config.json and calls
  :meth:`PeekServiceTree.reconfigure` with the fresh config: the tree applies the keys it
  owns (``logging.level``), then calls ``reconfigure(config)`` on each running child that
  has one, in start order, each awaited. A child lists the keys it applies in
  ``live_keys``; :attr:`PeekServiceTree.live_keys` is their union, and every other
  changed key is reported as needing a restart (:mod:`peek_platform.service.runner`).

The worker is not a Twisted tree: its lifecycle is Celery's blueprint, and the platform
joins it as one bootstep (:mod:`peek_worker.bootstep`).
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional, TypeVar

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource

from peek_platform.config import ServiceConfig
from peek_platform.errors import ServiceTreeError
from peek_platform.log_setup import set_level
from peek_platform.plugin.host import PluginHost
from peek_platform.web.guard import DEFAULT_HEADER_TIMEOUT_SECONDS, ConnectionGate, GuardedSite

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=IService)

#: Keys the endpoints behind a site read per request from the process's config, so a
#: reload applies them at once.
ENDPOINT_LIVE_KEYS = frozenset({"httpServer.apiKeys", "httpServer.corsOrigins",
                                "httpServer.endpointMaxBodyBytes"})


def declare_requires(service: S, *names: str) -> S:
    """Set the names of the siblings ``service`` needs running before it; returns it."""
    service.requires = tuple(names)  # type: ignore[attr-defined]
    return service


def requirements_of(tree: str, child: IService) -> tuple[str, ...]:
    """The names ``child`` requires (its ``requires``, empty when it declares none)."""
    declared = getattr(child, "requires", ())
    if isinstance(declared, str) or not isinstance(declared, Iterable):
        raise ServiceTreeError(
            tree, f"{child.name!r} declares requires={declared!r}; it must be a collection "
            "of sibling names, e.g. (\"storage\",)")
    return tuple(declared)


def start_order(tree: str, children: Sequence[IService]) -> list[IService]:
    """``children`` sorted so each comes after everything it requires.

    Ties keep the given order. Raises ServiceTreeError for a child without a name, two
    children with one name, a requirement no child has, and a cycle (named in order).
    """
    by_name: dict[str, IService] = {}
    for child in children:
        if not child.name:
            raise ServiceTreeError(tree, f"the child {child!r} has no name; name every "
                                   "service so others can require it")
        if child.name in by_name:
            raise ServiceTreeError(tree, f"two children are named {child.name!r}")
        by_name[child.name] = child
    needs = {child.name: requirements_of(tree, child) for child in children}
    for name, required in needs.items():
        for other in required:
            if other not in by_name:
                raise ServiceTreeError(
                    tree, f"{name!r} requires {other!r}, which is not in the tree "
                    f"(its children: {', '.join(sorted(by_name))})")
    ordered: list[IService] = []
    started: set[str] = set()
    while len(ordered) < len(children):
        ready = next((child for child in children if child.name not in started
                      and all(other in started for other in needs[child.name])), None)
        if ready is None:
            left = [child.name for child in children if child.name not in started]
            raise ServiceTreeError(tree, "requirements form a cycle: "
                                   + " -> ".join(_cycle(needs, left)))
        ordered.append(ready)
        started.add(ready.name)
    return ordered


def _cycle(needs: dict[str, tuple[str, ...]], left: list[str]) -> list[str]:
    """One cycle among the ``left`` names, as a path that ends where it began."""
    path: list[str] = []
    name = left[0]
    # Every name left waits on another name left, so following them must revisit one.
    while name not in path:
        path.append(name)
        name = next(other for other in needs[name] if other in left)
    return path[path.index(name):] + [name]


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
    """Loads and starts the enabled plugins; stops and unloads them at shutdown.

    On reconfigure it makes the running plugins match ``plugin.enabled`` (through the
    host's reload path: removed ones stop, added ones start, changed code reloads).
    ``plugin.params`` and ``httpServer.endpointSites`` are read when a plugin is next
    loaded, so they are live too.
    """

    name = "plugins"
    requires: tuple[str, ...] = ()
    live_keys = frozenset({"plugin.enabled", "plugin.params", "httpServer.endpointSites"})

    def __init__(self, host: PluginHost, enabled: Callable[[], list[str]]) -> None:
        self.host = host
        self._enabled = enabled

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().startService()
        return Deferred.fromCoroutine(self.host.start_plugins(self._enabled()))

    def stopService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        super().stopService()
        return Deferred.fromCoroutine(self.host.stop_all())

    def reconfigure(self, config: ServiceConfig) -> Deferred[None]:
        """Apply a reloaded ``plugin.enabled``."""
        return Deferred.fromCoroutine(self.host.apply_enabled(list(config["plugin.enabled"])))


class ListeningSite(Service):
    """A twisted.web site listening on one TCP port, behind the process's connection gate.

    With ``tls`` (Twisted CertificateOptions) ``port`` serves https (and wss); ``plain_port``
    (non-zero, TLS only) also serves the same site as plain http, for a migration.
    The endpoints it serves read their keys (``ENDPOINT_LIVE_KEYS``) per request, so a
    reload applies them without a call here.
    """

    requires: tuple[str, ...] = ()
    live_keys = ENDPOINT_LIVE_KEYS

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
    """The root service of a ``run_peek_*`` process (see the module's design notes).

    Children start in the order their ``requires`` give (:func:`start_order`) and stop in
    reverse; :meth:`reconfigure` hands a reloaded config to each child that applies keys.
    """

    #: The keys the tree applies itself on reconfigure.
    own_live_keys = frozenset({"logging.level"})

    def __init__(self, service: str, host: Optional[PluginHost]) -> None:
        super().__init__()
        self.setName(f"peek-{service}")
        self.service = service
        self.host = host

    def resolve_order(self) -> list[str]:
        """Put the children in start order; returns their names in it.

        Raises ServiceTreeError when they cannot be ordered (an unknown requirement, a
        cycle, a child without a name).
        """
        self.services = start_order(self.name, list(self.services))
        return [child.name for child in self.services]

    def startService(self) -> Deferred[None]:  # noqa: N802 - twisted API
        try:
            self.resolve_order()
        except ServiceTreeError as e:
            return Deferred.fromCoroutine(_raise(e))
        return super().startService()

    @property
    def live_keys(self) -> frozenset[str]:
        """Every key a reload applies in this process; other changed keys need a restart."""
        keys = set(self.own_live_keys)
        for child in self:
            keys |= getattr(child, "live_keys", frozenset())
        return frozenset(keys)

    def reconfigure(self, config: ServiceConfig) -> Deferred[list[str]]:
        """Apply a reloaded config: the log level, then each running child's
        ``reconfigure(config)`` in start order, each awaited.

        A child that fails is logged with its name and the others still run; the
        Deferred fires with the names of the children that failed.
        """
        return Deferred.fromCoroutine(self._reconfigure(config))

    async def _reconfigure(self, config: ServiceConfig) -> list[str]:
        set_level(config["logging.level"])
        failed: list[str] = []
        for child in list(self):
            apply: Optional[Callable[[ServiceConfig], Any]] = getattr(child, "reconfigure", None)
            if apply is None or not child.running:
                continue
            try:
                await maybeDeferred(apply, config)
            except Exception:
                logger.exception("Reconfiguring %s failed; it keeps its running settings",
                                 child.name)
                failed.append(child.name)
        return failed


async def _raise(error: Exception) -> None:
    raise error

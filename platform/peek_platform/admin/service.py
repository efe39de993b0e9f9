"""Wires the admin site's login into the server: the first account, the session sweep,
and the admin bus websocket (``/vortexws`` on the admin site, name ``peek-admin``).

What an admin bus connection may reach: it joins the server's router as a *device-like*
peer (see the device boundary of :mod:`peek_vortex.routing`). Its messages
may address only the server process itself (``peek-server``), never another service or
one connection; they are stamped with ``peek-admin`` and the connection's uuid as
originator, whatever they claim, so an admin never speaks as a service. It reaches the
server plugins' and the platform's endpoints that accept ``peek-admin`` (those without
``acceptOnlyFromVortex``, or listing it). A frame arriving after its session ended is
dropped and the socket closed.
"""

import logging
from collections.abc import Callable
from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from peek_platform.admin import accounts
from peek_platform.admin.sessions import SESSION_ENDED, LoginThrottle, SessionStore
from peek_platform.admin.site import AdminAuth, AdminSiteRoot, AdminVortexResource
from peek_platform.config import ServiceConfig
from peek_platform.storage.service import StorageService
from peek_platform.vortex.wiring import limits_from_config
from peek_plugin_base import PeekVortexUtil
from peek_vortex.transport import (
    AccessPolicy,
    CloseReason,
    VortexConnection,
    VortexHandler,
    VortexHubService,
    VortexServer,
)

logger = logging.getLogger(__name__)

#: How often ended sessions are swept and accounts' passwords compared.
SWEEP_SECONDS = 2.0


class AdminVortexSide:
    """The admin hub's handler: a live session's frames go on as a device's."""

    def __init__(self, inner: VortexHandler, sessions: SessionStore) -> None:
        self._inner = inner
        self._sessions = sessions

    def on_open(self, conn: VortexConnection) -> None:
        self._inner.on_open(conn)

    def on_frame(self, conn: VortexConnection, data: bytes) -> None:
        session_id = getattr(conn._protocol, "admin_session_id", None)
        # Each message counts as activity; one after the session ended is not delivered.
        if self._sessions.get(session_id) is None:
            conn.close(SESSION_ENDED, "admin session ended: log in again")
            return
        self._inner.on_frame(conn, data)

    def on_close(self, conn: VortexConnection, reason: CloseReason) -> None:
        self._inner.on_close(conn, reason)


class AdminAuthService(Service):
    """Creates the first admin when there is none, and sweeps sessions while it runs.

    Start it after the storage service (it needs the platform schema).
    """

    name = "admin-auth"
    # The sessions it ends at stop live on the admin bus hub (assembled in the server's
    # main, which adds that requirement).
    requires: tuple[str, ...] = ("storage",)

    def __init__(self, config: ServiceConfig, auth: AdminAuth, clock: IReactorTime) -> None:
        self._home = config.home
        self.auth = auth
        self._clock = clock
        self._sweeping: Optional[LoopingCall] = None

    def startService(self) -> "Deferred[None]":  # noqa: N802 - twisted API
        super().startService()
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        created = await self.auth.run_in_thread(
            accounts.ensure_first_admin, self.auth.db(), self._home)
        if created is not None:
            logger.warning(
                "created the first admin account %r; its password is in %s (mode 0600). "
                "Log in to the admin site with it, then set your own with "
                "run_peek_server --admin-password", accounts.FIRST_ADMIN, created)
        self._sweeping = LoopingCall(self._sweep)
        self._sweeping.clock = self._clock
        self._sweeping.start(SWEEP_SECONDS, now=False)

    def stopService(self) -> None:  # noqa: N802 - twisted API
        super().stopService()
        if self._sweeping is not None and self._sweeping.running:
            self._sweeping.stop()
        self.auth.sessions.end_all("the server is stopping")

    async def _sweep_async(self) -> None:
        try:
            generations = await self.auth.run_in_thread(
                accounts.password_generations, self.auth.db())
        except Exception as e:
            # Expiry still applies; accounts are compared again on the next sweep.
            logger.warning("could not read admin accounts: %s", e)
            generations = None
        self.auth.sessions.sweep(generations)

    def _sweep(self) -> "Deferred[None]":
        return Deferred.fromCoroutine(self._sweep_async())


def build_admin(
    config: ServiceConfig,
    storage: StorageService,
    plugins_root: Any,
    clock: Optional[IReactorTime] = None,
) -> tuple[AdminSiteRoot, VortexHubService, AdminAuthService, Callable[[VortexHandler], None]]:
    """The admin site root (the gate over ``plugins_root``), the admin bus hub, the auth
    service, and a function that puts the session check in front of the hub's handler
    (call it after ``attach_bus(..., device_hubs=[hub])`` gave the hub the device side)."""
    if clock is None:
        from twisted.internet import reactor as clock
    sessions = SessionStore(config["httpServer.admin.sessionIdleSeconds"],
                            config["httpServer.admin.sessionMaxSeconds"], clock)
    auth = AdminAuth(
        sessions, LoginThrottle(clock), lambda: storage.platform_db, storage.run_in_thread,
        AdminAuth.allowed_origins(config["httpServer.admin.sitePort"],
                                  config["httpServer.admin.bindAddress"],
                                  config["httpServer.admin.publicOrigins"]),
        tuple(config["httpServer.admin.publicOrigins"]),
    )
    endpoint = VortexServer(
        PeekVortexUtil.peekServerName,
        AccessPolicy(anonymous_names=frozenset({PeekVortexUtil.peekAdminName})),
        limits_from_config(config),
    )
    hub = VortexHubService("vortex-admin", endpoint)
    root = AdminSiteRoot(auth, plugins_root, AdminVortexResource(endpoint.factory, auth))

    def attach(device_handler: VortexHandler) -> None:
        endpoint.handler = AdminVortexSide(device_handler, sessions)

    return root, hub, AdminAuthService(config, auth, clock), attach


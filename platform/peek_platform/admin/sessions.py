"""Admin login sessions, kept in the server's memory, and the login throttle.

A session id is 32 random bytes (``secrets.token_urlsafe``) made by the server at login:
an id a client chose, or one the server never issued or already ended, opens nothing
(no session fixation). A session ends at logout, after ``httpServer.admin.
sessionIdleSeconds`` without a request or bus message, after ``sessionMaxSeconds`` in
all, when its account gets a new password or is deleted, and when the server stops
(sessions are not persisted: a restart logs every admin out). Ending a session closes
its admin bus connections.
"""

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Optional

from twisted.internet.interfaces import IReactorTime

from peek_vortex.transport import WrongTokenThrottle
from peek_vortex.wire import CloseCode

logger = logging.getLogger(__name__)

#: The close code of an admin bus connection whose session ended (as a refused hello).
SESSION_ENDED = int(CloseCode.UNAUTHORISED)
#: Failed logins for one account before it is refused for a while (doubling each time).
ACCOUNT_ATTEMPTS = 5
#: Failed logins from one address (any accounts) before it is refused for a while.
ADDRESS_ATTEMPTS = 20
FIRST_BLOCK_SECONDS = 2.0
MAX_BLOCK_SECONDS = 300.0


@dataclass
class Session:
    """One logged-in admin."""

    id: str
    user: str
    #: The account's ``passwordSetAt`` when the session opened.
    password_set_at: float
    #: The token every state-changing request of this session must carry.
    csrf_token: str
    created: float
    last_seen: float
    #: This session's admin bus sockets (protocols with ``close_with(code, reason)``),
    #: closed when the session ends.
    sockets: set[Any] = field(default_factory=set)


def _closed(socket: Any) -> bool:
    return bool(getattr(socket, "state", None) == getattr(socket, "STATE_CLOSED", object()))


class SessionStore:
    """The live sessions by id, with their idle and absolute limits."""

    def __init__(self, idle_seconds: float, max_seconds: float, clock: IReactorTime) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, user: str, password_set_at: float) -> Session:
        """A new session with fresh random id and CSRF token."""
        now = self._clock.seconds()
        session = Session(secrets.token_urlsafe(32), user, password_set_at,
                          secrets.token_urlsafe(32), now, now)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: Optional[str], touch: bool = True) -> Optional[Session]:
        """The live session with this id (its idle timer restarted), else None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock.seconds()
        if self._expired(session, now):
            self.end(session.id, "session expired")
            return None
        if touch:
            session.last_seen = now
        return session

    def end(self, session_id: str, why: str) -> bool:
        """End a session and close its bus connections; True when it was live."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        logger.info("admin session of %s ended: %s", session.user, why)
        for socket in list(session.sockets):
            try:
                socket.close_with(SESSION_ENDED, f"admin session ended: {why}")
            except Exception:
                logger.exception("closing an admin bus connection of %s failed", session.user)
        session.sockets.clear()
        return True

    def sweep(self, generations: Optional[dict[str, float]] = None) -> int:
        """End expired sessions, and (given each account's ``passwordSetAt``) those of
        deleted accounts or older passwords; returns how many ended."""
        now = self._clock.seconds()
        ended = 0
        for session in list(self._sessions.values()):
            session.sockets = {s for s in session.sockets if not _closed(s)}
            why = None
            if self._expired(session, now):
                why = "session expired"
            elif generations is not None and generations.get(session.user) != \
                    session.password_set_at:
                why = "the account's password changed or the account was removed"
            if why is not None and self.end(session.id, why):
                ended += 1
        return ended

    def end_all(self, why: str) -> None:
        """End every session (server shutdown)."""
        for session_id in list(self._sessions):
            self.end(session_id, why)

    def _expired(self, session: Session, now: float) -> bool:
        return (now - session.last_seen > self.idle_seconds
                or now - session.created > self.max_seconds)


class LoginThrottle:
    """Failed logins counted per account name and per source address.

    ``ACCOUNT_ATTEMPTS`` failures for one name, or ``ADDRESS_ATTEMPTS`` from one address,
    refuse further logins for that name (or from that address) for 2 s, doubling with each
    further failure up to 300 s, right password or not. A success clears the account's
    count, never the address's (one valid account must not reset a guesser's address).
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.accounts = WrongTokenThrottle(ACCOUNT_ATTEMPTS, FIRST_BLOCK_SECONDS,
                                           MAX_BLOCK_SECONDS, clock)
        self.addresses = WrongTokenThrottle(ADDRESS_ATTEMPTS, FIRST_BLOCK_SECONDS,
                                            MAX_BLOCK_SECONDS, clock)

    def refusal(self, user: str, address: str) -> Optional[str]:
        """Why a login for ``user`` from ``address`` is refused now, else None."""
        by_account = self.accounts.blocked_for(user)
        if by_account > 0:
            return (f"too many failed logins for this account; try again in "
                    f"{max(1, round(by_account))} s")
        by_address = self.addresses.blocked_for(address)
        if by_address > 0:
            return (f"too many failed logins from your address; try again in "
                    f"{max(1, round(by_address))} s")
        return None

    def failed(self, user: str, address: str) -> None:
        blocked = self.accounts.failed(user)
        if blocked:
            logger.warning("admin logins for %r refused for %g s: %d failures", user,
                           blocked, self.accounts.failures(user))
        blocked = self.addresses.failed(address)
        if blocked:
            logger.warning("admin logins from %s refused for %g s: %d failures", address,
                           blocked, self.addresses.failures(address))

    def succeeded(self, user: str) -> None:
        self.accounts.succeeded(user)

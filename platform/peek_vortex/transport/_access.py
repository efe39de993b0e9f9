"""Which names a connecting peer may claim, given the credentials in its hello."""

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from peek_vortex.errors import VortexHelloRefusedError
from peek_vortex.routing._names import (
    peekAgentName,
    peekClientName,
    peekDesktopName,
    peekMobileName,
    peekWorkerName,
)
from peek_vortex.wire._hello import CloseCode, Hello

#: Names a holder of the platform token may use on the server's bus websocket. The server's
#: own name is absent on purpose: only the server process is peek-server.
SERVICE_NAMES = frozenset({peekClientName, peekAgentName, peekWorkerName})
#: Names devices use on a client service's bus websocket.
DEVICE_NAMES = frozenset({peekMobileName, peekDesktopName})


@dataclass(frozen=True)
class AccessPolicy:
    """Binds the name a peer may claim to the credential it presents.

    ``token`` returns the secret that grants ``token_names`` (None: no token is accepted);
    ``anonymous_names`` need no credential. A name in neither set is refused whatever the
    credential, so a token holder can never claim the accepting side's own name.
    """

    token: Optional[Callable[[], Optional[str]]] = None
    token_names: frozenset[str] = frozenset()
    anonymous_names: frozenset[str] = frozenset()

    def authorise(self, hello: Hello) -> None:
        """Accept the hello, or raise VortexHelloRefusedError with the close code and the
        reason to send."""
        if hello.name in self.anonymous_names:
            return
        if hello.name not in self.token_names:
            allowed = sorted(self.token_names | self.anonymous_names)
            raise VortexHelloRefusedError(
                CloseCode.NAME_FORBIDDEN,
                f"the name {hello.name!r} may not connect here (allowed: {', '.join(allowed)})",
            )
        expected = self.token() if self.token is not None else None
        if not hello.token:
            raise VortexHelloRefusedError(CloseCode.UNAUTHORISED,
                                          f"{hello.name} must present the platform token")
        if not expected or not hmac.compare_digest(hello.token.encode(), expected.encode()):
            raise VortexHelloRefusedError(CloseCode.UNAUTHORISED, f"wrong token for {hello.name}")

    @classmethod
    def for_server(cls, token: Callable[[], Optional[str]]) -> "AccessPolicy":
        """The server's endpoint: services with the platform token, nobody anonymous."""
        return cls(token=token, token_names=SERVICE_NAMES)

    @classmethod
    def for_devices(cls, device_token: str = "") -> "AccessPolicy":
        """A client service's device websocket: anonymous devices unless a token is set."""
        if device_token:
            return cls(token=lambda: device_token, token_names=DEVICE_NAMES)
        return cls(anonymous_names=DEVICE_NAMES)

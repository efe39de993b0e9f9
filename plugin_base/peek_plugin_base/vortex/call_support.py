"""Helpers shared by the action and RPC handlers: sender checks, error replies, platform tuples."""

import weakref
from collections.abc import Callable
from typing import Optional, Union

from peek_plugin_base.vortex.errors import RoutingError
from peek_plugin_base.vortex.payload import PayloadEnvelope
from peek_plugin_base.vortex.router import PayloadRouter

#: What ``acceptOnlyFromVortex`` may be: None (everyone), one name or several.
AcceptNames = Union[None, str, list[str], tuple[str, ...], set[str], frozenset[str]]
#: The ``sendResponse`` callable an endpoint callback is given.
Responder = Callable[..., None]



def accept_set(acceptOnlyFromVortex: AcceptNames) -> Optional[frozenset[str]]:
    """The accepted sender names as a frozenset (None: everyone)."""
    if acceptOnlyFromVortex is None:
        return None
    if isinstance(acceptOnlyFromVortex, str):
        return frozenset((acceptOnlyFromVortex,))
    return frozenset(acceptOnlyFromVortex)


def error_envelope(code: str, message: str) -> PayloadEnvelope:
    """A reply carrying only an error (replies have an empty filt)."""
    return PayloadEnvelope(filt={}, error=(code, message))


# Which handler owns each filt key on each router: two owners would answer one call twice.
_claims: "weakref.WeakKeyDictionary[PayloadRouter, dict[str, object]]" = (
    weakref.WeakKeyDictionary()
)


def claim_key(router: PayloadRouter, key: str, owner: object) -> None:
    """Make ``owner`` the only action/RPC handler of filt ``key`` on ``router``."""
    claims = _claims.setdefault(router, {})
    existing = claims.get(key)
    if existing is not None and existing is not owner:
        raise RoutingError(
            f"{key!r} is already handled on this bus by {existing!r}; one handler per name "
            f"(each call must be answered once), cannot add {owner!r}"
        )
    claims[key] = owner


def release_key(router: PayloadRouter, key: str, owner: object) -> None:
    """Undo :func:`claim_key` (only if ``owner`` still holds the key)."""
    claims = _claims.get(router)
    if claims is not None and claims.get(key) is owner:
        del claims[key]

"""Who subscribed to which selector: the one table the observable and its proxy keep."""

from collections.abc import Callable
from typing import Any, Optional

#: How to send to one subscriber's connection (the endpoint's ``sendResponse``).
SendResponse = Callable[[Any], None]


class SubscriberTable:
    """Per selector key, each subscriber's send path; per subscriber (vortex uuid), its keys.

    The owner decides when a selector's entry exists: :meth:`open` creates it (or returns
    the one there) and :meth:`close` removes it. The dict :meth:`open` returns is the live
    entry, so the owner can keep it on its own per-selector state and deliver through it
    without a lookup per message. Removing subscribers never removes an entry: an owner
    may keep a selector with no subscribers (e.g. while polls wait on it).
    """

    __slots__ = ("_by_key", "_by_uuid")

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, SendResponse]] = {}
        self._by_uuid: dict[str, set[str]] = {}

    def open(self, key: str) -> dict[str, SendResponse]:
        """The subscribers of ``key`` (vortex uuid -> send path), created empty if new."""
        subscribers = self._by_key.get(key)
        if subscribers is None:
            subscribers = self._by_key[key] = {}
        return subscribers

    def close(self, key: str) -> None:
        """Forget ``key`` and every subscription to it."""
        for uuid in self._by_key.pop(key, {}):
            self._forget(uuid, key)

    def add(self, key: str, uuid: str, send: SendResponse) -> None:
        """Subscribe ``uuid`` to ``key`` (an open entry); a repeat replaces its send path."""
        self._by_key[key][uuid] = send
        self._by_uuid.setdefault(uuid, set()).add(key)

    def remove(self, key: str, uuid: str) -> None:
        """End ``uuid``'s subscription to ``key`` (if it has one)."""
        subscribers = self._by_key.get(key)
        if subscribers is not None:
            subscribers.pop(uuid, None)
        self._forget(uuid, key)

    def drop(self, uuid: str) -> set[str]:
        """End every subscription of ``uuid`` (its connection closed); the keys it held."""
        keys = self._by_uuid.pop(uuid, set())
        for key in keys:
            subscribers = self._by_key.get(key)
            if subscribers is not None:
                subscribers.pop(uuid, None)
        return keys

    def keys_of(self, uuid: str) -> Optional[set[str]]:
        """The keys ``uuid`` subscribes to (None: none)."""
        return self._by_uuid.get(uuid)

    def count(self, key: str) -> int:
        """How many subscribers ``key`` has."""
        return len(self._by_key.get(key, ()))

    def clear(self) -> None:
        """Forget everything."""
        self._by_key.clear()
        self._by_uuid.clear()

    def _forget(self, uuid: str, key: str) -> None:
        keys = self._by_uuid.get(uuid)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_uuid[uuid]

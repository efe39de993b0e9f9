"""Tracks what a plugin registers with the platform so it can be undone.

The plugin host opens a :class:`OwnershipScope` for a plugin around its import, ``load()``
and ``start()``; platform registries (HTTP mounts, tuple types, bus websockets, tasks) call
:func:`record_owned` with an undo callable. When the plugin fails or unloads, the
host rolls the log back in reverse order.
"""

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional

logger = logging.getLogger(__name__)

_current_log: contextvars.ContextVar[Optional["OwnershipScope"]] = contextvars.ContextVar(
    "peek_current_registration_log", default=None
)


class OwnershipScope:
    """The undo actions of everything one plugin registered, newest last."""

    def __init__(self, plugin_name: str) -> None:
        self.plugin_name = plugin_name
        self._entries: list[tuple[str, Callable[[], None]]] = []

    def add(self, description: str, undo: Callable[[], None]) -> None:
        """Remember that ``description`` was registered and how to undo it."""
        self._entries.append((description, undo))

    @property
    def descriptions(self) -> list[str]:
        """What is currently registered, oldest first."""
        return [description for description, _ in self._entries]

    def undo_owners(self) -> list[object]:
        """The objects whose bound methods undo the registrations (a bus websocket's
        ``shutdown`` gives the endpoint), oldest first; plain functions give nothing."""
        owners = (getattr(undo, "__self__", None) for _, undo in self._entries)
        return [owner for owner in owners if owner is not None]

    def rollback(self) -> None:
        """Undo every registration, newest first; a failing undo is logged, not raised."""
        while self._entries:
            description, undo = self._entries.pop()
            try:
                undo()
            except Exception:
                logger.exception(
                    "Plugin %s: could not undo registration of %s", self.plugin_name, description
                )


def record_owned(description: str, undo: Callable[[], None]) -> None:
    """Record a registration against the plugin currently being imported, loaded or started.

    Outside any plugin (platform code, tests) there is nothing to record against, and the
    call does nothing.
    """
    log = _current_log.get()
    if log is not None:
        log.add(description, undo)


@contextmanager
def owned_by(log: OwnershipScope) -> Iterator[OwnershipScope]:
    """Attribute registrations made inside the block (and coroutines started in it) to ``log``."""
    token = _current_log.set(log)
    try:
        yield log
    finally:
        _current_log.reset(token)

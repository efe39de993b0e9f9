"""Mixin for a server entry hook whose plugin queues tasks on the worker service."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery


class PluginServerWorkerEntryHookABC:
    """Marks a server-side plugin that queues worker tasks.

    Inherit it next to ``PluginServerEntryHookABC``. The server configures the process's
    one Celery app (the same one the worker runs) before any plugin loads, so tasks imported
    from the plugin's worker modules can be queued with ``deferTask`` from ``start()`` on.
    """

    @property
    def celeryApp(self) -> "Celery":
        """The process's Celery app, configured by the server for queueing tasks."""
        from peek_plugin_base.worker.CeleryApp import celeryApp

        return celeryApp

"""Platform events: the process's dispatcher and the sources that feed it.

Plugins subscribe through their platform hook (``subscribeToEvents``, see
:mod:`peek_plugin_base.events`); platform code may subscribe and emit directly with
:func:`default_dispatcher`.
"""

from peek_platform.events.dispatcher import EventDispatcher, Subscription, default_dispatcher

__all__ = ["EventDispatcher", "Subscription", "default_dispatcher"]

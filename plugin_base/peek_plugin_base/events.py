"""Platform events a plugin can subscribe to: their names, their values, and the hook.

Each service process has one in-process event dispatcher. A plugin subscribes by event
name through its platform hook (:class:`PeekPlatformEventHookABC`, implemented by every
service's platform hook) and receives events in batches (lists), in the order they
happened. Every subscription has its own bounded queue: a slow or failing handler never
delays the platform or other subscribers; when its queue is full, new events for it are
dropped, counted and logged once. Subscriptions end when the plugin unloads.

Events the platform emits:

========================  ==========================================================
``plugin_state``          :class:`PlatformEvent`; data ``plugin``, ``state``
                          (prepared/loaded/running/stopped/failed/skipped), ``reason``
``connection``            :class:`PlatformEvent`; data ``state`` (connected /
                          disconnected), ``kind`` (service / device), ``vortexName``,
                          ``vortexUuid``
``monitoring_event``      :class:`MonitoringPoint`; series ``http_request`` (every HTTP
                          request on every site) or ``rpc`` (every RPC this process
                          answers)
========================  ==========================================================
"""

import time
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: A plugin changed state (PlatformEvent).
PLUGIN_STATE_EVENT = "plugin_state"
#: A service or device connection opened or closed (PlatformEvent).
CONNECTION_EVENT = "connection"
#: A monitoring point: an HTTP request or an RPC finished (MonitoringPoint); seed name.
MONITORING_EVENT = "monitoring_event"

#: Every event name the platform emits.
PLATFORM_EVENT_NAMES = (PLUGIN_STATE_EVENT, CONNECTION_EVENT, MONITORING_EVENT)


@dataclass(frozen=True)
class PlatformEvent:
    """Something that happened in this service process."""

    name: str
    data: dict[str, Any]
    #: Seconds since the epoch when it happened.
    eventTime: float = field(default_factory=time.time)

    def toJsonDict(self) -> dict[str, Any]:  # noqa: N802 - the contract's naming
        """A JSON-ready dict of the event."""
        return {"name": self.name, "eventTime": self.eventTime, "data": dict(self.data)}


@dataclass(frozen=True)
class MonitoringPoint:
    """One measurement: a series name, tags (what it was) and fields (the numbers)."""

    series: str
    tags: dict[str, Any]
    fields: dict[str, Any]
    #: Seconds since the epoch when the measured work finished.
    eventTime: float = field(default_factory=time.time)

    def toJsonDict(self) -> dict[str, Any]:  # noqa: N802 - the contract's naming
        """A JSON-ready dict of the point."""
        return {
            "series": self.series,
            "eventTime": self.eventTime,
            "tags": dict(self.tags),
            "fields": dict(self.fields),
        }


#: What a subscriber is given: a list of events (or points); it may return a Deferred or
#: be ``async def``.
EventHandler = Callable[[list[Any]], Any]


class PeekPlatformEventHookABC(metaclass=ABCMeta):
    """The platform hook's part for platform events (every service's hook has it)."""

    @abstractmethod
    def subscribeToEvents(  # noqa: N802 - the contract's naming
        self,
        eventName: str,  # noqa: N803
        handler: EventHandler,
        maxBatch: int | None = None,  # noqa: N803
        maxQueue: int | None = None,  # noqa: N803
    ) -> Callable[[], None]:
        """Call ``handler(batch)`` with lists of events named ``eventName``.

        ``handler`` may be ``async def`` (run on the event loop; it may use asyncio) or
        return a Deferred; a plain function runs in a thread, so a blocking handler never
        stalls the service. One batch is handled at a time per subscription.
        ``maxBatch``/``maxQueue`` default to ``events.maxBatch`` and
        ``events.maxQueuePerSubscriber``. Returns a callable that unsubscribes; the
        platform also unsubscribes when the plugin unloads.
        """

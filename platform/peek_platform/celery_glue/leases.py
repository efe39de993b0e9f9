"""Leases on reserved task messages: a dead worker's messages come back within one lease.

On Redis and on the embedded broker a message a worker takes stays reserved until it is
acknowledged, and it is handed out again once its reservation is older than the visibility
timeout (``celery.visibilityTimeoutSeconds``). A fixed timeout forces a choice between
redelivering the tasks of a worker that died an hour late and redelivering long tasks
while their worker still runs them. So the timeout is a *lease*: while a worker lives,
:class:`LeaseKeeper` renews the reservation of every message it holds every quarter of
the lease, and only the messages of a worker that stopped renewing (killed, frozen, cut
off) are redelivered, one lease after its last renewal.

The keeper is a thread, not a timer in Celery's event loop, because the solo pool runs a
task inside that loop and would stop renewing for as long as the task runs. RabbitMQ
needs no lease: it requeues a connection's unacknowledged messages when the connection
drops.
"""

import logging
import threading
import time
from typing import Any, Optional

from celery import bootsteps
from kombu.transport.redis import Channel as RedisChannel

from peek_platform.celery_glue.sqlite_transport import Channel as SqliteChannel

logger = logging.getLogger(__name__)

#: Renewals per lease: a renewal may come this many times late before the lease ends.
RENEWALS_PER_LEASE = 4


def lease_renew_seconds(lease_seconds: float) -> float:
    """How often a lease of ``lease_seconds`` is renewed (and looked at for expiry)."""
    return lease_seconds / RENEWALS_PER_LEASE


def held_delivery_tags(channel: Any) -> list[str]:
    """The delivery tags of the messages ``channel`` holds unacknowledged."""
    # The consumer thread changes this dict; list() copies it in one step under the GIL.
    return list(channel.qos._delivered)


def renew_redis_leases(channel: RedisChannel) -> int:
    """Mark the messages ``channel`` holds as reserved now; the number renewed.

    kombu's Redis transport scores each unacknowledged message in ``unacked_index`` with
    the time it was delivered, and any worker restores the ones scored more than
    ``visibility_timeout`` ago; renewing sets the score to now (``XX``: only for messages
    still unacknowledged).
    """
    tags = held_delivery_tags(channel)
    if not tags:
        return 0
    now = time.time()
    with channel.conn_or_acquire() as client:
        return int(client.zadd(channel.unacked_index_key, dict.fromkeys(tags, now), xx=True,
                               ch=True))


def renew_leases(channel: Any, lease_seconds: float) -> int:
    """Renew the lease on every message ``channel`` holds; the number renewed."""
    if isinstance(channel, SqliteChannel):
        return channel.renew_reservations(lease_seconds)
    if isinstance(channel, RedisChannel):
        return renew_redis_leases(channel)
    return 0


class LeaseKeeper(bootsteps.StartStopStep):
    """A worker consumer step: renews the lease on the task messages the worker holds."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._stopping: Optional[threading.Event] = None
        self._thread: Optional[threading.Thread] = None

    def start(self, parent: Any) -> None:
        lease = parent.app.conf.broker_transport_options.get("visibility_timeout")
        if not lease or self._thread is not None:
            return
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(parent, float(lease), self._stopping),
            name="peek-lease-keeper", daemon=True,
        )
        self._thread.start()

    def stop(self, parent: Any) -> None:
        thread, stopping = self._thread, self._stopping
        self._thread = self._stopping = None
        if thread is not None and stopping is not None:
            stopping.set()
            thread.join(5)

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)

    @staticmethod
    def _run(parent: Any, lease: float, stopping: threading.Event) -> None:
        failing = False
        while not stopping.wait(lease_renew_seconds(lease)):
            consumer = getattr(parent, "task_consumer", None)
            channel = getattr(consumer, "channel", None)
            if channel is None:
                continue
            try:
                renew_leases(channel, lease)
            except Exception as e:  # noqa: BLE001 - the broker may be away for a while
                if not failing:
                    logger.warning("Could not renew the lease on reserved tasks (they are "
                                   "redelivered if this lasts %gs): %s", lease, e)
                failing = True
                continue
            if failing:
                logger.info("Renewing the lease on reserved tasks again")
                failing = False

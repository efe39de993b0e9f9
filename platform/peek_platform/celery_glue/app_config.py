"""Configures the process's one Celery app from :class:`CelerySettings`.

The same function configures the server (which queues tasks) and the worker (which runs
them), so both always agree on the broker, the result backend, the queue, the lease on
reserved messages (:mod:`~peek_platform.celery_glue.leases`), the queue of each plugin's
tasks (:mod:`~peek_platform.celery_glue.routing`) and the wire format: JSON
only, for task messages, results and events; a message in any other content type
(pickle above all) is refused by the worker without being decoded. Bus tuples may be
task arguments and results: they travel as tagged JSON (:class:`TupleJsonType`).
"""

import logging
import math
from typing import Any
from urllib.parse import urlsplit

import kombu.transport
from celery import Celery
from celery.app import backends as celery_backends

from peek_platform.celery_glue.leases import LeaseKeeper, lease_renew_seconds
from peek_platform.celery_glue.routing import PluginRouter
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.celery_glue.tuple_json import TupleJsonType
from peek_plugin_base.worker.CeleryApp import REVOKE_VIA_BACKEND

#: App config key: the caller's default timeout for a task's result, in seconds.
TASK_TIMEOUT = "peek_task_timeout_seconds"

SQLITE_TRANSPORT = "peek_platform.celery_glue.sqlite_transport:Transport"
SQLITE_BACKEND = "peek_platform.celery_glue.backends:SqliteResultBackend"
REDIS_BACKEND = "peek_platform.celery_glue.backends:PeekRedisBackend"
CONSUMER = "peek_platform.celery_glue.consumer:PeekConsumer"

#: Seconds between polls of the embedded broker's empty queues.
EMBEDDED_POLL_SECONDS = 0.01


def register_aliases() -> None:
    """Make ``peeksqlite://`` name the embedded broker transport and result backend."""
    kombu.transport.TRANSPORT_ALIASES["peeksqlite"] = SQLITE_TRANSPORT
    celery_backends.BACKEND_ALIASES["peeksqlite"] = SQLITE_BACKEND


def celery_conf(settings: CelerySettings) -> dict[str, Any]:
    """The Celery settings for ``settings`` (worker-only ones are harmless on the server)."""
    register_aliases()
    transport_options: dict[str, Any] = {}
    if settings.broker_embedded:
        settings.embedded_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        broker_url = "peeksqlite://localhost/"
        transport_options.update(
            sqlite_path=str(settings.broker_path), polling_interval=EMBEDDED_POLL_SECONDS,
            visibility_timeout=settings.visibility_timeout_seconds,
        )
    else:
        broker_url = settings.broker_url
        if urlsplit(broker_url).scheme in ("redis", "rediss"):
            lease = settings.visibility_timeout_seconds
            transport_options.update(
                visibility_timeout=lease,
                # Every live worker looks for expired leases (a dead worker's messages)
                # several times per lease, not every 100 s (kombu's 10 s x 10 calls) ...
                unacked_restore_interval=lease_renew_seconds(lease),
                unacked_restore_throttle=1,
                # ... and a worker killed while it held the restore lock blocks the others
                # for one lease, not 5 minutes.
                unacked_mutex_expire=max(1, math.ceil(lease)),
            )
    if settings.result_embedded:
        settings.embedded_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        result_backend = f"peeksqlite://{settings.results_path.as_posix()}"
    else:
        result_backend = f"{REDIS_BACKEND}+{settings.result_url}"

    conf: dict[str, Any] = dict(
        broker_url=broker_url,
        broker_transport_options=transport_options,
        result_backend=result_backend,
        # JSON only, everywhere: a broker message can never make us unpickle.
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=settings.task_queue,
        task_default_exchange=settings.task_queue,
        task_default_routing_key=settings.task_queue,
        # Each plugin's tasks go to its own queue, consumed only by workers running it.
        task_routes=(PluginRouter(settings.task_queue),),
        enable_utc=True,
        timezone="UTC",
        result_expires=settings.result_expires_seconds,
        # A failed publish is reported to the caller at once; queueing is never retried
        # behind its back (a retried publish can queue a task twice).
        task_publish_retry=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=4.0,
        # Opt-in late-ack tasks go back on the queue when their pool process dies.
        task_reject_on_worker_lost=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        # A task message the worker cannot decode fails that task (Celery only logs it).
        worker_consumer=CONSUMER,
        worker_concurrency=settings.effective_concurrency,
        worker_pool=settings.pool,
        worker_prefetch_multiplier=settings.prefetch_multiplier,
        worker_max_tasks_per_child=settings.max_tasks_per_child or None,
        task_soft_time_limit=settings.soft_time_limit_seconds or None,
        task_time_limit=settings.hard_time_limit_seconds or None,
        worker_send_task_events=settings.task_events,
        # Flower sees tasks and workers from worker events; "sent" events would cost the
        # server a second publish per task.
        task_send_sent_event=False,
    )
    # A solo-pool worker reads control messages (revoke) only between tasks, possibly after
    # it has started a prefetched, revoked task. On the embedded broker a task also checks
    # the result backend for a revocation before it runs (one local SQLite read).
    conf[REVOKE_VIA_BACKEND] = settings.broker_embedded
    conf[TASK_TIMEOUT] = settings.task_timeout_seconds
    for key, value in settings.extra.items():
        if isinstance(value, dict) and isinstance(conf.get(key), dict):
            conf[key] = {**conf[key], **value}
        else:
            conf[key] = value
    return conf


def configure_app(app: Celery, settings: CelerySettings) -> None:
    """Apply ``settings`` to ``app`` (before it connects, consumes or sends anything)."""
    # At DEBUG this logger prints the generated source of every task signature.
    logging.getLogger("celery.utils.functional").setLevel(logging.INFO)
    app.conf.update(celery_conf(settings))
    # A worker keeps renewing its lease on the messages it holds (Redis, embedded broker).
    app.steps["consumer"].add(LeaseKeeper)
    TupleJsonType.register()
    bad = [c for c in app.conf.accept_content if c not in ("json", "application/json")]
    if bad:
        raise ValueError(f"only JSON content is accepted, not {bad}")

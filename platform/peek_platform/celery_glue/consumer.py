"""The worker's Celery consumer: a task message it cannot decode fails that task."""

import logging
from typing import Any

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


class PeekConsumer(Consumer):
    """Celery's consumer, storing a FAILURE result for a message whose body cannot be decoded.

    Celery logs such a message and acknowledges it, so its caller would wait forever. The
    body is what failed (for example a bus tuple whose type no worker plugin registered);
    the headers, holding the task id, are still readable, so the caller's Deferred fails
    with the decode error instead.
    """

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        super().on_decode_error(message, exc)
        headers = getattr(message, "headers", None) or {}
        task_id = headers.get("id") if isinstance(headers, dict) else None
        if not isinstance(task_id, str):
            return
        try:
            self.app.backend.mark_as_failure(task_id, exc)
        except Exception:  # noqa: BLE001 - the message is acknowledged either way
            logger.exception("Could not store the failure of undecodable task %s", task_id)

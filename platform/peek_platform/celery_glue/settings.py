"""The Celery settings of one service, read from its config.json and resolved to URLs."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError

EMBEDDED = "embedded"
BROKER_FILE = "broker.sqlite"
RESULTS_FILE = "results.sqlite"


@dataclass(frozen=True)
class CelerySettings:
    """Everything the platform needs to configure the process's Celery app."""

    broker_url: str
    result_url: str
    embedded_dir: Path
    task_queue: str = "peek"
    result_expires_seconds: int = 3600
    visibility_timeout_seconds: float = 30.0
    # Server only (the caller's default bound on waiting for a result).
    task_timeout_seconds: float = 300.0
    # Worker only (the server ignores them).
    node_name: str = "peek-worker@%h"
    concurrency: int = 0
    pool: str = "prefork"
    prefetch_multiplier: int = 4
    soft_time_limit_seconds: float = 0.0
    hard_time_limit_seconds: float = 0.0
    max_tasks_per_child: int = 0
    task_events: bool = True
    #: Extra Celery settings (tests and benchmarks tune polling with these).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def broker_embedded(self) -> bool:
        """True when tasks travel through the embedded SQLite broker."""
        return self.broker_url == EMBEDDED

    @property
    def result_embedded(self) -> bool:
        """True when results are kept in the embedded SQLite backend."""
        return self.result_url == EMBEDDED

    @property
    def broker_path(self) -> Path:
        """The embedded broker's database file."""
        return self.embedded_dir / BROKER_FILE

    @property
    def results_path(self) -> Path:
        """The embedded result backend's database file."""
        return self.embedded_dir / RESULTS_FILE

    @property
    def effective_concurrency(self) -> int:
        """The pool size: the configured one, or one per CPU when it is 0."""
        return self.concurrency or os.cpu_count() or 1

    def describe(self) -> str:
        """A one-line summary for the log (no passwords)."""
        return (
            f"broker {_redact(self.broker_url)}, results {_redact(self.result_url)}"
            + (f" (embedded in {self.embedded_dir})"
               if self.broker_embedded or self.result_embedded else "")
        )

    @classmethod
    def from_config(cls, config: ServiceConfig) -> "CelerySettings":
        """Read the ``celery.*`` keys of a server or worker config (already validated)."""
        worker = config.service == "worker"
        server = config.service == "server"

        def get(key: str, default: Any) -> Any:
            return config[key] if worker else default

        settings = cls(
            broker_url=config["celery.brokerUrl"],
            result_url=config["celery.resultUrl"],
            embedded_dir=config.embedded_dir,
            task_queue=config["celery.taskQueue"],
            result_expires_seconds=config["celery.resultExpiresSeconds"],
            visibility_timeout_seconds=config["celery.visibilityTimeoutSeconds"],
            task_timeout_seconds=(config["celery.taskTimeoutSeconds"] if server
                                  else cls.task_timeout_seconds),
            node_name=get("celery.worker.nodeName", "peek-worker@%h"),
            concurrency=get("celery.worker.concurrency", 0),
            pool=get("celery.worker.pool", "prefork"),
            prefetch_multiplier=get("celery.worker.prefetchMultiplier", 4),
            soft_time_limit_seconds=get("celery.worker.softTimeLimitSeconds", 0),
            hard_time_limit_seconds=get("celery.worker.hardTimeLimitSeconds", 0),
            max_tasks_per_child=get("celery.worker.maxTasksPerChild", 0),
            task_events=get("celery.worker.taskEvents", True),
        )
        problem = settings.problem()
        if problem:
            raise ConfigValidationError(config.path, [problem])
        return settings

    def problem(self) -> Optional[str]:
        """A problem spanning several keys, or None."""
        soft, hard = self.soft_time_limit_seconds, self.hard_time_limit_seconds
        if soft and hard and soft >= hard:
            return (
                f"celery.worker.softTimeLimitSeconds ({soft}) must be below "
                f"celery.worker.hardTimeLimitSeconds ({hard}) so the task can clean up"
            )
        return None


def _redact(url: str) -> str:
    """``amqp://user:secret@host//`` -> ``amqp://user:***@host//``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"

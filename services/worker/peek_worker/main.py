"""``run_peek_worker``: a Celery worker running the enabled plugins' tasks."""

import sys
from typing import Optional

from peek_worker.worker_process import run_worker


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point of ``run_peek_worker``."""
    sys.exit(run_worker(argv))

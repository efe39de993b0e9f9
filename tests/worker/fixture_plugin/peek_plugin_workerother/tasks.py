"""The second test plugin's one task."""

import os

from peek_plugin_base.worker.CeleryApp import peekTask


@peekTask
def pid() -> int:
    return os.getpid()

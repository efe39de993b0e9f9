"""Service logging: a rotating file in the home, stdout when interactive, Twisted routed in."""

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

from twisted.logger import STDLibLogObserver, globalLogBeginner

from peek_plugin_base.private_files import ensure_private_file

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_handlers: list[logging.Handler] = []


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose file (and so each rotation, renamed from it) is mode 0600."""

    def _open(self) -> Any:
        ensure_private_file(self.baseFilename)
        return super()._open()


def setup_logging(
    service: str,
    home: Path,
    level: str,
    rotate_size_mb: int,
    rotations_to_keep: int,
    to_stdout: bool,
) -> Path:
    """Log to ``home/peek-<service>.log`` (rotating, mode 0600) and optionally stdout;
    returns the file."""
    root = logging.getLogger()
    for handler in _handlers:
        root.removeHandler(handler)
        handler.close()
    _handlers.clear()

    log_file = home / f"peek-{service}.log"
    file_handler = PrivateRotatingFileHandler(
        log_file,
        maxBytes=rotate_size_mb * 1024 * 1024,
        backupCount=rotations_to_keep,
        encoding="utf-8",
    )
    _handlers.append(file_handler)
    if to_stdout or sys.stdout.isatty():
        _handlers.append(logging.StreamHandler(sys.stdout))
    formatter = logging.Formatter(LOG_FORMAT)
    for handler in _handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    set_level(level)

    # Twisted's own messages (listening ports, unhandled Deferred errors) join the same log.
    globalLogBeginner.beginLoggingTo(
        [STDLibLogObserver(name="twisted")], redirectStandardIO=False, discardBuffer=True
    )
    return log_file


def set_level(level: str) -> None:
    """Change the root log level (used at start and on SIGHUP)."""
    logging.getLogger().setLevel(level.upper())

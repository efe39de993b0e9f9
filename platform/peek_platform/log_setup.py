"""Service logging: a rotating file in the home, stdout when interactive, Twisted routed in."""

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any, Optional

from twisted.logger import STDLibLogObserver, globalLogBeginner

from peek_plugin_base.private_files import ensure_private_file


def log_format(service: str) -> str:
    """Each line names the service and its pid, so merged or forwarded logs stay readable."""
    return f"%(asctime)s peek-{service}[%(process)d] %(levelname)s %(name)s: %(message)s"


def log_file_path(service: str, home: Path) -> Path:
    """The service's log file in its home."""
    return home / f"peek-{service}.log"


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

    log_file = log_file_path(service, home)
    file_handler = PrivateRotatingFileHandler(
        log_file,
        maxBytes=rotate_size_mb * 1024 * 1024,
        backupCount=rotations_to_keep,
        encoding="utf-8",
    )
    _handlers.append(file_handler)
    if to_stdout or sys.stdout.isatty():
        _handlers.append(logging.StreamHandler(sys.stdout))
    else:
        # Under a supervisor or a pipe nobody reads the file first: a failure to start
        # (logged CRITICAL) must still reach stderr.
        stderr_handler = logging.StreamHandler(sys.stderr)
        stderr_handler.setLevel(logging.CRITICAL)
        _handlers.append(stderr_handler)
    formatter = logging.Formatter(log_format(service))
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


def log_before_setup(service: str, home: Path, message: str) -> Optional[Path]:
    """Append one ERROR line to the service log before logging is set up (a config error);
    returns the file, or None when the home does not exist or is not writable."""
    if not home.is_dir():
        # Never create a home just to complain in it.
        return None
    log_file = log_file_path(service, home)
    try:
        handler = PrivateRotatingFileHandler(log_file, encoding="utf-8")
    except OSError:
        return None
    try:
        handler.setFormatter(logging.Formatter(log_format(service)))
        record = logging.LogRecord(
            __name__, logging.ERROR, __file__, 0, "%s", (message,), None
        )
        handler.handle(record)
    finally:
        handler.close()
    return log_file

"""Files only their owner may read: databases and logs hold data and secrets."""

import logging
import os
import stat
from pathlib import Path
from typing import Union

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600


def ensure_private_file(path: Union[str, Path]) -> None:
    """Create ``path`` empty with mode 0600 if it is absent; tighten it to 0600 if others
    may read or write it (with a warning naming the old mode).

    Creating the file first matters for SQLite: it gives its journal, WAL and shared-memory
    files the database file's mode, whatever the process umask.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_MODE)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            logger.warning("%s was open to other users (mode %o); setting it to 0600", path, mode)
            os.fchmod(fd, PRIVATE_MODE)
    finally:
        os.close(fd)

"""``run_peek_server --admin-password [--admin-user NAME]``: set a password, then exit.

The password is read from the terminal (asked twice), or from the first line of stdin when
stdin is not a terminal (for scripts: ``printf '%s\\n' "$PW" | run_peek_server
--admin-password``); it is never taken from the command line, where other users could
see it in the process list.
"""

import argparse
import getpass
import logging
import sys
from typing import Optional

from peek_platform.admin import accounts
from peek_platform.config import ServiceConfig
from peek_platform.errors import PeekError
from peek_platform.storage.service import StorageService

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1


def _read_password(user: str) -> Optional[str]:
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for admin {user}: ")
        if getpass.getpass("Again: ") != first:
            print("run_peek_server: the two passwords differ; nothing changed",
                  file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def set_admin_password(args: argparse.Namespace, config: ServiceConfig) -> Optional[int]:
    """The one-shot of ``run_peek_server``: None (start the server) unless
    ``--admin-password`` was given; then the exit code."""
    if not getattr(args, "admin_password", False):
        return None
    user = args.admin_user
    try:
        accounts.check_user_name(user)
        password = _read_password(user)
        if password is None:
            return EXIT_FAILED
        storage = StorageService(config)
        db = storage.open_platform_blocking()
        try:
            created = accounts.set_password(db, user, password)
        finally:
            storage.close_blocking()
    except PeekError as e:
        print(f"run_peek_server: {e}", file=sys.stderr)
        logger.error("%s", e)
        return EXIT_FAILED
    accounts.forget_first_password(config.home, user)
    what = "created with this password" if created else "given the new password"
    logger.info("admin account %r %s (--admin-password)", user, what)
    print(f"admin account {user!r} {what}; a running server ends its older sessions "
          "within seconds")
    return EXIT_OK

"""Admin accounts in the platform schema (table ``peek_platform.AdminAccount``).

Every function here blocks (database and scrypt): the server runs them in the storage
service's threads, ``run_peek_server --admin-password`` calls them directly.
There is no default password: the first start creates the account ``admin`` with a random
password written to ``admin-password.txt`` (mode 0600) in the server's home.
"""

import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Optional

from sqlalchemy import delete, func, insert, select, update

from peek_platform.admin.passwords import (
    MIN_PASSWORD_CHARS,
    dummy_hash,
    hash_password,
    verify_password,
)
from peek_platform.errors import AdminAccountError
from peek_platform.storage.tables import AdminAccount
from peek_plugin_base.storage.DbConnection import DbConnection

logger = logging.getLogger(__name__)

#: The first account's name.
FIRST_ADMIN = "admin"
#: Where the first account's random password is written, in the server's home.
FIRST_PASSWORD_FILE = "admin-password.txt"

_USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_table = AdminAccount.__table__


def check_user_name(name: str) -> None:
    """Raise AdminAccountError unless ``name`` is 1-64 letters, digits or ``._@-``."""
    if not _USER_NAME.fullmatch(name):
        raise AdminAccountError(name, "a user name is 1 to 64 letters, digits or . _ @ -")


def set_password(db: DbConnection, name: str, password: str) -> bool:
    """Create account ``name`` or replace its password; True when it was created.

    Sessions opened under the old password end (their ``passwordSetAt`` no longer matches).
    """
    check_user_name(name)
    if len(password) < MIN_PASSWORD_CHARS:
        raise AdminAccountError(name, f"a password needs at least {MIN_PASSWORD_CHARS} "
                                f"characters, this one has {len(password)}")
    hashed = hash_password(password)
    now = time.time()
    with db.dbEngine.begin() as connection:
        changed = connection.execute(update(_table).where(_table.c.userName == name).values(
            passwordHash=hashed, passwordSetAt=now)).rowcount
        if not changed:
            connection.execute(insert(_table).values(
                userName=name, passwordHash=hashed, passwordSetAt=now, createdAt=now))
    return not changed


def delete_account(db: DbConnection, name: str) -> bool:
    """Remove account ``name``; True when it existed."""
    with db.dbEngine.begin() as connection:
        return bool(connection.execute(delete(_table).where(_table.c.userName == name)).rowcount)


def check_password(db: DbConnection, name: str, password: str) -> Optional[float]:
    """The account's ``passwordSetAt`` when ``password`` is its password, else None.

    An unknown name costs the same scrypt work as a wrong password.
    """
    with db.dbEngine.connect() as connection:
        row = connection.execute(select(_table.c.passwordHash, _table.c.passwordSetAt)
                                 .where(_table.c.userName == name)).first()
    if row is None:
        verify_password(password, dummy_hash())
        return None
    return float(row.passwordSetAt) if verify_password(password, row.passwordHash) else None


def password_generations(db: DbConnection) -> dict[str, float]:
    """Every account's ``passwordSetAt`` by name (sessions of other values are stale)."""
    with db.dbEngine.connect() as connection:
        rows = connection.execute(select(_table.c.userName, _table.c.passwordSetAt)).all()
    return {row.userName: float(row.passwordSetAt) for row in rows}


def ensure_first_admin(db: DbConnection, home: Path) -> Optional[Path]:
    """With no account at all, create ``admin`` with a random password written (0600) to
    ``home/admin-password.txt``; returns that path, or None when accounts exist."""
    with db.dbEngine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(_table)).scalar_one()
    if count:
        return None
    password = secrets.token_urlsafe(18)
    path = home / FIRST_PASSWORD_FILE
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Written beside and renamed over: the file never exists with looser permissions or
    # half written, and a stale file from an earlier database is replaced.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(password + "\n")
        set_password(db, FIRST_ADMIN, password)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def forget_first_password(home: Path, name: str) -> None:
    """Delete the first password's file once ``admin`` has another password."""
    if name == FIRST_ADMIN:
        (home / FIRST_PASSWORD_FILE).unlink(missing_ok=True)

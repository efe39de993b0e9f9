"""The platform token: created by the server in its home, found by the other services."""

import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Optional

from peek_platform.config import ServiceConfig
from peek_platform.errors import VortexTokenError

logger = logging.getLogger(__name__)

TOKEN_FILE_NAME = "platform.token"


def ensure_server_token(home: Path) -> str:
    """The server's token from ``home/platform.token``, created (mode 0600) on first start.

    An existing file readable by others is tightened to 0600 with a warning.
    """
    path = home / TOKEN_FILE_NAME
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: two servers starting at once on one home never overwrite each other.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("%s was readable by others (mode %o); setting it to 0600", path, mode)
            os.chmod(path, 0o600)
        return _read_token(path)
    except OSError as e:
        raise VortexTokenError(f"cannot create the platform token {path}: {e}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    logger.info("created the platform token %s (remote services need it as "
                "peekServer.token or peekServer.tokenFile)", path)
    return _read_token(path)


def token_file_for(config: ServiceConfig) -> Path:
    """Where a client, agent or worker looks for the token when none is configured inline."""
    configured = config["peekServer.tokenFile"]
    if configured:
        return Path(configured).expanduser()
    return config.server_home / TOKEN_FILE_NAME


def find_service_token(config: ServiceConfig) -> str:
    """The token a client, agent or worker presents: ``peekServer.token`` or the token file.

    Raises VortexTokenError naming what was tried when neither yields a token.
    """
    inline: Optional[str] = config["peekServer.token"]
    if inline:
        return inline
    return _read_token(token_file_for(config))


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise VortexTokenError(
            f"no platform token: {path} does not exist (start peek-server once on this"
            " machine; when its home is not beside this service's, name it with"
            " PEEK_SERVER_HOME or --server-home; or set peekServer.token /"
            " peekServer.tokenFile)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise VortexTokenError(f"cannot read the platform token {path}: {e}") from None
    if len(token) < 16:
        raise VortexTokenError(f"the platform token in {path} is too short (< 16 characters)")
    return token

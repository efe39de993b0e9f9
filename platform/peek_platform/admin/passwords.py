"""Admin password hashes: scrypt (memory-hard), a salt per password, parameters kept with it.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``, so the cost can be raised
later without breaking existing hashes: each is checked with the parameters it was made with.
"""

import base64
import functools
import hashlib
import hmac
import secrets

#: CPU/memory cost (2**15 with r=8 takes 32 MiB and tens of milliseconds per check).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32
_SALT_BYTES = 16
#: Bound on the parameters a stored hash may ask for, so a tampered row cannot exhaust memory.
_MAX_MEMORY = 256 * 1024 * 1024

#: The shortest password ``--admin-password`` accepts.
MIN_PASSWORD_CHARS = 10


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_MAX_MEMORY, dklen=_KEY_BYTES)


def hash_password(password: str) -> str:
    """The storable hash of ``password`` with a fresh random salt (blocking: run in a thread)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare; a malformed hash
    matches nothing). Blocking: run it in a thread."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, checked when the account does not exist, so a wrong
    user name costs as long as a wrong password (no account enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(16))

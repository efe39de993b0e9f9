"""Column types that behave the same on every supported database."""

from typing import Any, Optional

from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class PeekLargeBinary(TypeDecorator[bytes]):
    """A binary column (``bytea`` on PostgreSQL, ``BLOB`` on SQLite).

    Values come back as ``bytes`` whatever the driver returns (``memoryview`` included);
    ``str`` values are stored UTF-8 encoded.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Optional[bytes]:
        if value is None:
            return None
        if isinstance(value, str):
            return value.encode("utf-8")
        return bytes(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Optional[bytes]:
        if value is None:
            return None
        return bytes(value)

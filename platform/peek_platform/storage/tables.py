"""The platform's own tables (schema ``peek_platform``)."""

from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, Float, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from peek_platform.storage.schema_names import PLATFORM_SCHEMA

metadata = MetaData(schema=PLATFORM_SCHEMA)


class PlatformDeclarativeBase(DeclarativeBase):
    """The base of the platform's tables."""

    metadata = metadata


class SchemaMigrationLog(PlatformDeclarativeBase):
    """One migration the server ran (or that failed): what changed, when and why not.

    Starting the server on an up-to-date database adds no row.
    """

    __tablename__ = "SchemaMigrationLog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The plugin package, or ``peek_platform`` for the platform's own schema.
    owner: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    schemaName: Mapped[str] = mapped_column(String(63), nullable=False)
    #: "created", "upgraded" or "failed".
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    fromRevisions: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    toRevisions: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    reason: Mapped[Optional[str]] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ActionOutcome(PlatformDeclarativeBase):
    """The final outcome of one action, kept so a retry of its id is answered, not re-run.

    Written by action processors on the server before they answer (success, or a final
    refusal); rows whose ``expiresAt`` has passed are ignored and purged periodically.
    """

    __tablename__ = "ActionOutcome"

    processorName: Mapped[str] = mapped_column(String(255), primary_key=True)
    actionId: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: The encoded result tuples (empty for a refusal).
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    compression: Mapped[Optional[str]] = mapped_column(String(16))
    inflatedSize: Mapped[Optional[int]] = mapped_column(Integer)
    #: The refusal's code and message (NULL for a success).
    errorCode: Mapped[Optional[str]] = mapped_column(Text)
    errorMessage: Mapped[Optional[str]] = mapped_column(Text)
    #: Seconds since the epoch (UTC).
    recordedAt: Mapped[float] = mapped_column(Float, nullable=False)
    expiresAt: Mapped[float] = mapped_column(Float, nullable=False, index=True)


class AdminAccount(PlatformDeclarativeBase):
    """An account that may log in to the admin site.

    ``passwordSetAt`` changes with every new password: sessions opened under an older one
    end (see :mod:`peek_platform.admin.sessions`).
    """

    __tablename__ = "AdminAccount"

    userName: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``scrypt$n$r$p$salt$key`` (see :mod:`peek_platform.admin.passwords`).
    passwordHash: Mapped[str] = mapped_column(Text, nullable=False)
    #: Seconds since the epoch (UTC).
    passwordSetAt: Mapped[float] = mapped_column(Float, nullable=False)
    createdAt: Mapped[float] = mapped_column(Float, nullable=False)

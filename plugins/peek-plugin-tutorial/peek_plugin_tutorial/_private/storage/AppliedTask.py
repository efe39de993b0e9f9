"""The AppliedTask table: ids of the worker tasks whose effect is applied (idempotency)."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from peek_plugin_tutorial._private.storage.DeclarativeBase import DeclarativeBase


def _now() -> datetime:
    return datetime.now(UTC)


class AppliedTask(DeclarativeBase):
    """One row per at-least-once task call whose effect is applied, keyed by the task id.

    A task inserts its id here in the same transaction as its effect; a redelivery of the
    same call finds the id and skips the effect. Old rows may be deleted once no
    redelivery can come any more (well after the task's timeout).
    """

    __tablename__ = "AppliedTask"

    taskId: Mapped[str] = mapped_column(String(64), primary_key=True)
    appliedDate: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

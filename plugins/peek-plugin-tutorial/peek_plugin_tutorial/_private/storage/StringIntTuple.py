"""The StringInt table: a string and an integer per row (the tutorial's first table)."""

from typing import Optional

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from peek_plugin_tutorial._private.storage.DeclarativeBase import DeclarativeBase


class StringIntTuple(DeclarativeBase):
    """One row of pl_tutorial.StringIntTuple.

    The Tuple chapter of the bus makes this class a vortex tuple as well, so rows can be
    sent to the admin page and to devices.
    """

    __tablename__ = "StringIntTuple"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    string1: Mapped[Optional[str]] = mapped_column(String(50))
    int1: Mapped[Optional[int]] = mapped_column(Integer)

"""The StringInt table: a string and an integer per row (the tutorial's first table)."""

from typing import Optional

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from peek_plugin_base.vortex import Tuple, addTupleType
from peek_plugin_tutorial._private.PluginNames import tutorialTuplePrefix
from peek_plugin_tutorial._private.storage.DeclarativeBase import DeclarativeBase


@addTupleType
class StringIntTuple(Tuple, DeclarativeBase):
    """One row of pl_tutorial.StringIntTuple, and a bus tuple (its columns are the fields).

    Rows travel to the admin tuple loader and, through the observable, to devices.
    """

    __tupleType__ = tutorialTuplePrefix + "StringIntTuple"
    __tablename__ = "StringIntTuple"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    string1: Mapped[Optional[str]] = mapped_column(String(50))
    int1: Mapped[Optional[int]] = mapped_column(Integer)

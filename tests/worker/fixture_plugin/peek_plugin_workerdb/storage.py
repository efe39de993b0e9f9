"""The DB test plugin's table (schema pl_workerdb) and its bus tuple."""

from typing import Optional

from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from peek_plugin_base.vortex import Tuple, TupleField, addTupleType

metadata = MetaData(schema="pl_workerdb")


class Base(DeclarativeBase):
    """Every table of the plugin lands in schema pl_workerdb."""

    metadata = metadata


class Item(Base):
    """A row with an id workers may prefetch (shared across processes on SQLite too)."""

    __tablename__ = "item"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[Optional[str]] = mapped_column(String(50))


@addTupleType
class ItemTuple(Tuple):
    """A bus tuple passed to and returned from tasks."""

    __tupleType__ = "peek_plugin_workerdb.ItemTuple"

    label = TupleField()
    when = TupleField()
    blob = TupleField()
    inner = TupleField()
    items = TupleField(defaultValue=list)

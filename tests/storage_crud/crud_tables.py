"""The tables the OrmCrudHandler tests edit (schema pl_crudtest), registered as bus tuples."""

import tempfile
from typing import Optional

from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from peek_plugin_base.storage import DbConnection
from peek_plugin_base.vortex import Tuple, TupleField, addTupleType

metadata = MetaData(schema="pl_crudtest")


class Base(DeclarativeBase):
    """The tests' declarative base."""

    metadata = metadata


@addTupleType
class CrudRow(Tuple, Base):
    """The table under test: names are unique, so a duplicate makes the database refuse."""

    __tupleType__ = "tests.storage_crud.CrudRow"
    __tablename__ = "CrudRow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    count: Mapped[Optional[int]] = mapped_column(Integer)
    kind: Mapped[Optional[str]] = mapped_column(String(10))


@addTupleType
class OtherRow(Tuple, Base):
    """Another table of the same schema: its rows must not get through CrudRow's handler."""

    __tupleType__ = "tests.storage_crud.OtherRow"
    __tablename__ = "OtherRow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[Optional[str]] = mapped_column(String(30))


@addTupleType
class NotARow(Tuple):
    """A plain tuple (no table)."""

    __tupleType__ = "tests.storage_crud.NotARow"

    name = TupleField()


class UnregisteredRow(Tuple, Base):
    """A mapped tuple class nobody registered with @addTupleType."""

    __tablename__ = "UnregisteredRow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


def create_tables(url: str) -> DbConnection:
    """A DbConnection to ``url`` with the schema and its tables created."""
    connection = DbConnection(url, metadata, tempfile.gettempdir())
    with connection.dbEngine.begin() as conn:
        if connection.dbEngine.dialect.name == "postgresql":
            conn.exec_driver_sql("CREATE SCHEMA pl_crudtest")
        metadata.create_all(conn)
    return connection

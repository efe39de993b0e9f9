"""Conditions for "column IN (many values)" that stay fast for long value lists."""

from collections.abc import Sequence
from typing import Any, Union

from sqlalchemy import ColumnElement, Engine, column, false, select, values
from sqlalchemy.orm import Session


def _values_condition(
    dialect_name: str, column_: Any, values_: Sequence[Union[int, str]]
) -> ColumnElement[bool]:
    if not values_:
        return false()
    if dialect_name != "postgresql":
        # SQLite cannot name the columns of a VALUES list in FROM; a plain IN is its
        # fastest form anyway.
        return column_.in_(list(values_))
    # PostgreSQL plans "IN (SELECT ... FROM (VALUES ...))" as a join, much faster than a
    # long IN list.
    value_column = column("value", column_.type)
    table = values(value_column, name="peek_values").data([(v,) for v in values_])
    return column_.in_(select(table.c.value))


def makeCoreValuesSubqueryCondition(
    engine: Engine, column: Any, values: Sequence[Union[int, str]]
) -> ColumnElement[bool]:
    """``column IN (values)`` for a Core query, e.g. ``Table.__table__.c.name``."""
    return _values_condition(engine.dialect.name, column, values)


def makeOrmValuesSubqueryCondition(
    ormSession: Session, column: Any, values: Sequence[Union[int, str]]
) -> ColumnElement[bool]:
    """``column IN (values)`` for an ORM query, e.g. ``Declarative.name``."""
    return _values_condition(ormSession.get_bind().dialect.name, column, values)

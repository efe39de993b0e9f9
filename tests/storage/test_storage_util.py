"""StorageUtil value conditions, PeekLargeBinary and the foreign-key index check."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, select
from sqlalchemy.orm import declarative_base

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.StorageUtil import (
    makeCoreValuesSubqueryCondition,
    makeOrmValuesSubqueryCondition,
)
from peek_plugin_base.storage.TypeDecorators import PeekLargeBinary

metadata = MetaData(schema="pl_util")
Base = declarative_base(metadata=metadata)


class Thing(Base):
    """Rows to select by name and id, with a binary payload."""

    __tablename__ = "Thing"
    id = Column(Integer, primary_key=True)
    name = Column(String(20))
    blob = Column(PeekLargeBinary)


class Part(Base):
    """One foreign key with an index, one without."""

    __tablename__ = "Part"
    id = Column(Integer, primary_key=True)
    thingId = Column(Integer, ForeignKey(Thing.id), index=True)
    otherThingId = Column(Integer, ForeignKey(Thing.id))


@pytest.fixture
def connection(db_url: str, tmp_path: Path) -> Iterator[DbConnection]:
    """Both tables, with ten things."""
    conn = DbConnection(db_url, metadata, str(tmp_path))
    with conn.dbEngine.begin() as c:
        if conn.dbEngine.dialect.name == "postgresql":
            c.exec_driver_sql("CREATE SCHEMA pl_util")
        metadata.create_all(c)
        c.execute(
            Thing.__table__.insert(),
            [{"id": i, "name": f"n{i}", "blob": bytes([i]) * 3} for i in range(10)],
        )
    yield conn
    conn.closeAllSessions()


def test_values_conditions_select_exactly_the_values(connection: DbConnection) -> None:
    """Core and ORM conditions match the listed ints or strings, and nothing for []."""
    table = Thing.__table__
    with connection.dbEngine.connect() as c:
        ids = (
            c.execute(
                select(table.c.id)
                .where(makeCoreValuesSubqueryCondition(connection.dbEngine, table.c.id, [2, 5, 42]))
                .order_by(table.c.id)
            )
            .scalars()
            .all()
        )
        none = c.execute(
            select(table.c.id).where(
                makeCoreValuesSubqueryCondition(connection.dbEngine, table.c.id, [])
            )
        ).all()
    assert ids == [2, 5] and none == []
    session = connection.ormSessionCreator()
    names = session.scalars(
        select(Thing.name)
        .where(makeOrmValuesSubqueryCondition(session, Thing.name, ["n1", "n9", "zz"]))
        .order_by(Thing.name)
    ).all()
    session.close()
    assert names == ["n1", "n9"]


def test_large_binary_round_trips_as_bytes(connection: DbConnection) -> None:
    """Bytes come back as bytes on every driver; str values are stored UTF-8 encoded."""
    session = connection.ormSessionCreator()
    session.add(Thing(id=100, name="text", blob="héllo"))
    session.commit()
    session.expire_all()
    assert session.get(Thing, 3).blob == b"\x03\x03\x03"
    assert session.get(Thing, 100).blob == "héllo".encode()
    session.close()


def test_foreign_keys_without_index_are_reported(
    connection: DbConnection, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the unindexed foreign key is reported (and logged)."""
    with caplog.at_level(logging.WARNING):
        problems = connection.checkForeignKeys(connection.dbEngine)
    assert len(problems) == 1 and "otherThingId" in problems[0]
    assert "otherThingId" in caplog.text

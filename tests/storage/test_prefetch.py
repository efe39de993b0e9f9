"""prefetchDeclarativeIds: reserved ids are distinct, unused by others, and insertable."""

import threading

import pytest
from sqlalchemy import Column, Integer, MetaData, String, func, select
from sqlalchemy.orm import declarative_base

from peek_plugin_base.storage.DbConnection import DbConnection

metadata = MetaData(schema="pl_prefetch")
Base = declarative_base(metadata=metadata)


class Plain(Base):
    """An ordinary autoincrement id (SERIAL on PostgreSQL)."""

    __tablename__ = "Plain"
    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(20))


class Counted(Base):
    """SQLite AUTOINCREMENT: ids are reserved in sqlite_sequence."""

    __tablename__ = "Counted"
    __table_args__ = {"sqlite_autoincrement": True}
    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(20))


@pytest.fixture
def connection(db_url: str, tmp_path):  # noqa: ANN001, ANN201
    """A DbConnection whose schema holds both tables."""
    conn = DbConnection(db_url, metadata, str(tmp_path))
    with conn.dbEngine.begin() as c:
        if conn.dbEngine.dialect.name == "postgresql":
            c.exec_driver_sql("CREATE SCHEMA pl_prefetch")
        metadata.create_all(c)
    yield conn
    conn.closeAllSessions()


@pytest.mark.parametrize("table", [Plain, Counted])
def test_reserved_ids_do_not_collide(connection: DbConnection, table: type) -> None:
    """Two reservations and a normal insert never share an id; reserved ids insert fine.

    On SQLite this holds for AUTOINCREMENT tables; other SQLite tables number new rows
    from their highest id, so there only reservations are kept apart (next test).
    """
    if connection.dbEngine.dialect.name == "sqlite" and table is Plain:
        table = Counted
    first = list(connection.prefetchDeclarativeIds(table, 100))
    second = list(connection.prefetchDeclarativeIds(table, 50))
    assert len(set(first)) == 100 and len(set(second)) == 50
    assert not set(first) & set(second)

    session = connection.ormSessionCreator()
    session.add(table(name="automatic"))
    session.flush()
    automatic = session.scalars(select(table.id).where(table.name == "automatic")).one()
    assert automatic not in set(first) | set(second)
    session.add_all([table(id=i, name="prefetched") for i in first + second])
    session.commit()
    assert session.scalar(select(func.count()).select_from(table)) == 151
    session.close()


@pytest.mark.parametrize("table", [Plain, Counted])
def test_reservations_from_threads_are_disjoint(connection: DbConnection, table: type) -> None:
    """Concurrent reservations (as from worker threads) hand out each id once."""
    results: list[list[int]] = []
    lock = threading.Lock()

    def reserve() -> None:
        ids = list(connection.prefetchDeclarativeIds(table, 200))
        with lock:
            results.append(ids)

    threads = [threading.Thread(target=reserve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    every = [i for ids in results for i in ids]
    assert len(results) == 4 and len(every) == len(set(every)) == 800


def test_zero_count_reserves_nothing(connection: DbConnection) -> None:
    """A count of zero returns an empty iterable without touching the database."""
    assert list(connection.prefetchDeclarativeIds(Plain, 0)) == []

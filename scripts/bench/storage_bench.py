"""Storage helpers vs plain SQLAlchemy: 10,000 rows inserted and read, SQLite and PostgreSQL.

For each database, RUNS rounds alternate the two paths on a fresh table each time:

* helpers: ``DbConnection`` (schema ``pl_bench``; on SQLite an attached file) and its
  ``ormSessionCreator`` session (reactor-thread check, explicit BEGIN);
* plain:   ``create_engine`` + ``Session`` on a table in the default schema.

Each path adds 10,000 ORM objects, commits, then reads them all back. The medians are
compared; one line per database: ``overhead = helpers / plain`` (target <= 1.10).
PostgreSQL: a throw-away database on ``PEEK_BENCH_POSTGRES_URL`` (default the local
server); skipped with a note if unreachable.
"""

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, Integer, MetaData, String, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from peek_plugin_base.storage.DbConnection import DbConnection

N = 10_000
RUNS = 5
TARGET = 1.10
PG_URL = os.environ.get("PEEK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

helper_metadata = MetaData(schema="pl_bench")
plain_metadata = MetaData()


class HelperBase(DeclarativeBase):
    metadata = helper_metadata


class PlainBase(DeclarativeBase):
    metadata = plain_metadata


class HelperItem(HelperBase):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(Integer)


class PlainItem(PlainBase):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(Integer)


def insert_and_read(make_session: Callable[[], Session], item: type) -> float:
    start = time.perf_counter()
    session = make_session()
    try:
        session.add_all([item(name=f"item-{i}", value=i) for i in range(N)])
        session.commit()
        session.expunge_all()
        rows = session.scalars(select(item)).all()
        assert len(rows) == N
    finally:
        session.close()
    return time.perf_counter() - start


def reset(engine: Engine, metadata: MetaData) -> None:
    with engine.begin() as connection:
        if metadata.schema and engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {metadata.schema}")
        metadata.drop_all(connection)
        metadata.create_all(connection)


def compare(label: str, helper_url: str, plain_url: str) -> None:
    with tempfile.TemporaryDirectory() as alembic_dir:
        connection = DbConnection(helper_url, helper_metadata, alembic_dir)
        plain_engine = create_engine(plain_url)
        helper_times: list[float] = []
        plain_times: list[float] = []
        try:
            for _ in range(RUNS):
                reset(connection.dbEngine, helper_metadata)
                creator = connection.ormSessionCreator
                helper_times.append(insert_and_read(creator, HelperItem))
                creator.remove()
                reset(plain_engine, plain_metadata)
                plain_times.append(insert_and_read(lambda: Session(plain_engine), PlainItem))
        finally:
            connection.closeAllSessions()
            plain_engine.dispose()
    helpers, plain = statistics.median(helper_times), statistics.median(plain_times)
    ratio = helpers / plain
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(
        f"storage_bench {label}: {N} rows insert+read, helpers {helpers * 1000:.0f} ms, "
        f"plain SQLAlchemy {plain * 1000:.0f} ms, overhead {ratio:.2f}x "
        f"(target <= {TARGET:.2f}, {verdict}, median of {RUNS})"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="peek-storage-bench-") as tmp:
        helper_file = Path(tmp) / "helpers.sqlite"
        compare("sqlite", f"sqlite:///{helper_file}", f"sqlite:///{Path(tmp) / 'plain.sqlite'}")

    admin_url = make_url(PG_URL).set(drivername="postgresql", database="postgres")
    name = f"peek_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as e:
        print(f"storage_bench postgresql: skipped, {PG_URL} unreachable ({e})")
        return 0
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
            plain = make_url(url).set(drivername="postgresql+psycopg")
            compare("postgresql", url, plain.render_as_string(hide_password=False))
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

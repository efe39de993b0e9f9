"""SQLAlchemy declarative classes as tuples: fields from columns, wire round trip, ORM use."""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Session, declarative_base

from peek_plugin_base.vortex import Payload, Tuple, TupleField
from peek_vortex.errors import UndeclaredFieldError


class Base(DeclarativeBase):
    metadata = MetaData()


class StringIntTuple(Tuple, Base):
    """The seed tutorial's table, in SQLAlchemy 2.x style."""

    __tupleType__ = "test.declarative.StringIntTuple"
    __tablename__ = "StringIntTuple"

    id = Column(Integer, primary_key=True, autoincrement=True)
    string1 = Column(String(50))
    int1 = Column(Integer)
    note = TupleField(defaultValue="")  # a non-column field travels too


LegacyBase = declarative_base(metadata=MetaData())


class LegacyTuple(Tuple, LegacyBase):
    """The seed's ``declarative_base(metadata=...)`` style."""

    __tupleType__ = "test.declarative.LegacyTuple"
    __tablename__ = "LegacyTuple"

    id = Column(Integer, primary_key=True)
    name = Column("name_col", String(20))  # attribute name differs from column name


@pytest.fixture
def session(tmp_path, register):
    register(StringIntTuple)
    register(LegacyTuple)
    engine = create_engine(f"sqlite:///{tmp_path / 'tuples.sqlite'}")
    Base.metadata.create_all(engine)
    LegacyBase.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_columns_are_the_fields(session):
    """Mapped column attributes (by attribute name) and TupleFields are the fields."""
    assert StringIntTuple.tupleFieldNames() == ("note", "id", "string1", "int1")
    assert LegacyTuple.tupleFieldNames() == ("id", "name")
    assert StringIntTuple.tupleName() == "test.declarative.StringIntTuple"


def test_rows_travel_and_merge_back(session):
    """Rows loaded from the database encode, decode into mapped instances (with ORM state)
    that compare equal, and can be merged into a session to update the table."""
    session.add_all([StringIntTuple(string1="a", int1=1), StringIntTuple(string1="b", int1=2),
                     LegacyTuple(id=7, name="seven")])
    session.commit()
    rows = list(session.scalars(select(StringIntTuple).order_by(StringIntTuple.id)))
    rows.append(session.get(LegacyTuple, 7))
    received = Payload.fromVortexMsg(Payload({"key": "k"}, rows).toVortexMsg()).tuples
    assert received == rows
    assert all(r is not s for r, s in zip(received, rows, strict=True))
    assert received[2].name == "seven"

    received[0].int1 = 100
    session.merge(received[0])
    session.commit()
    session.expire_all()
    assert session.get(StringIntTuple, 1).int1 == 100


def test_decoded_declarative_rejects_undeclared_fields(session):
    """Column-backed types also refuse wire fields they do not declare."""
    msg = (
        b'{"v":1,"f":{"key":"k"}}\n'
        b'{"T":[["test.declarative.LegacyTuple",["id","name_col"]]],"R":[[0,[1,"x"]]]}'
    )
    with pytest.raises(UndeclaredFieldError, match="'name_col'"):
        Payload.fromVortexMsg(msg)


def test_new_instance_constructor(session):
    """Constructing a declarative tuple sets given columns and TupleField defaults."""
    row = StringIntTuple(string1="x")
    assert (row.string1, row.int1, row.note) == ("x", None, "")
    session.add(row)
    session.commit()
    assert row.id is not None

"""Per-plugin schemas: create/upgrade, version tables, independence, rollback, newer schemas."""

import pytest
from sqlalchemy import inspect, select, text

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.engine_factory import make_engine
from peek_plugin_base.storage.schema_migration import MigrationAction, migrate_schema
from peek_plugin_base.storage.StorageErrors import (
    MigrationFailedError,
    SchemaNameError,
    SchemaNewerThanCodeError,
)
from tests.storage.plugin_factory import CREATE_ITEM, PluginFactory, Revision

FIRST = Revision("0001_item", None, CREATE_ITEM, 'op.drop_table("Item", schema=SCHEMA)')
#: Inserts a marker row: present only when the scripts ran (not after create_all).
SECOND = Revision(
    "0002_seed",
    "0001_item",
    "op.execute(f'INSERT INTO {SCHEMA}.\"Item\" (name) VALUES (\\'seeded\\')')",
)


def versions(url: str, schema: str) -> list[str]:
    """The revisions in ``schema``'s own version table."""
    engine = make_engine(url, [schema])
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def tables(url: str, schema: str) -> set[str]:
    """The tables in ``schema``."""
    engine = make_engine(url, [schema])
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names(schema=schema))
    finally:
        engine.dispose()


def item_names(url: str, schema: str) -> list[str]:
    """The names in ``schema``.Item."""
    engine = make_engine(url, [schema])
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f'SELECT name FROM "{schema}"."Item"'))
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def test_upgrade_runs_scripts_into_the_plugins_schema(db_url: str, plugins: PluginFactory) -> None:
    """Without create_all, an empty schema runs every script; the version table is inside."""
    alembic_dir = plugins.write("peek_plugin_alpha", [FIRST, SECOND])
    connection = DbConnection(
        db_url, plugins.metadata("peek_plugin_alpha"), str(alembic_dir), enableCreateAll=False
    )
    try:
        result = connection.migrate()
    finally:
        connection.closeAllSessions()
    assert result.action is MigrationAction.UPGRADED
    assert result.to_revisions == ("0002_seed",)
    assert tables(db_url, "pl_alpha") == {"Item", "alembic_version"}
    assert versions(db_url, "pl_alpha") == ["0002_seed"]
    assert item_names(db_url, "pl_alpha") == ["seeded"]


def test_empty_schema_uses_create_all_and_stamps_head(db_url: str, plugins: PluginFactory) -> None:
    """With create_all allowed, an empty schema is built from metadata and stamped at head."""
    alembic_dir = plugins.write("peek_plugin_alpha", [FIRST, SECOND])
    connection = DbConnection(db_url, plugins.metadata("peek_plugin_alpha"), str(alembic_dir))
    try:
        result = connection.migrate()
        again = connection.migrate()
    finally:
        connection.closeAllSessions()
    assert result.action is MigrationAction.CREATED
    assert again.action is MigrationAction.UNCHANGED
    assert versions(db_url, "pl_alpha") == ["0002_seed"]
    assert item_names(db_url, "pl_alpha") == []  # the scripts did not run


def test_two_plugins_migrate_independently(db_url: str, plugins: PluginFactory) -> None:
    """Each plugin has its own history and version table; upgrading one leaves the other."""
    alpha_dir = plugins.write("peek_plugin_alpha", [FIRST, SECOND])
    beta_dir = plugins.write("peek_plugin_beta", [FIRST])
    for name, directory in (("peek_plugin_alpha", alpha_dir), ("peek_plugin_beta", beta_dir)):
        engine = make_engine(db_url, ["pl_" + name[12:]])
        try:
            migrate_schema(engine, directory, "pl_" + name[12:], allow_create_all=False)
        finally:
            engine.dispose()
    assert versions(db_url, "pl_alpha") == ["0002_seed"]
    assert versions(db_url, "pl_beta") == ["0001_item"]

    beta_dir = plugins.write("peek_plugin_beta", [FIRST, SECOND])
    engine = make_engine(db_url, ["pl_beta"])
    try:
        result = migrate_schema(engine, beta_dir, "pl_beta", allow_create_all=False)
    finally:
        engine.dispose()
    assert result.from_revisions == ("0001_item",)
    assert versions(db_url, "pl_beta") == ["0002_seed"]
    assert versions(db_url, "pl_alpha") == ["0002_seed"]
    assert item_names(db_url, "pl_alpha") == ["seeded"]


def test_failing_migration_rolls_back_everything(db_url: str, plugins: PluginFactory) -> None:
    """A script that fails after DDL leaves the schema exactly at its previous revision."""
    alembic_dir = plugins.write("peek_plugin_alpha", [FIRST])
    engine = make_engine(db_url, ["pl_alpha"])
    try:
        migrate_schema(engine, alembic_dir, "pl_alpha", allow_create_all=False)
        broken = Revision(
            "0002_broken",
            "0001_item",
            """
            op.create_table("Extra", sa.Column("id", sa.Integer(), primary_key=True),
                            schema=SCHEMA)
            op.execute(f'INSERT INTO {SCHEMA}."Item" (name) VALUES (\\'half done\\')')
            raise RuntimeError("boom in 0002")
            """,
        )
        alembic_dir = plugins.write("peek_plugin_alpha", [FIRST, broken])
        with pytest.raises(MigrationFailedError, match="boom in 0002"):
            migrate_schema(engine, alembic_dir, "pl_alpha", allow_create_all=False)
    finally:
        engine.dispose()
    assert tables(db_url, "pl_alpha") == {"Item", "alembic_version"}
    assert versions(db_url, "pl_alpha") == ["0001_item"]
    assert item_names(db_url, "pl_alpha") == []


def test_failing_first_migration_leaves_nothing(db_url: str, plugins: PluginFactory) -> None:
    """A failure on an empty schema rolls back the tables and the version table too."""
    broken = Revision("0001_broken", None, CREATE_ITEM + '\nraise RuntimeError("no")')
    alembic_dir = plugins.write("peek_plugin_alpha", [broken])
    engine = make_engine(db_url, ["pl_alpha"])
    try:
        with pytest.raises(MigrationFailedError):
            migrate_schema(engine, alembic_dir, "pl_alpha", allow_create_all=False)
    finally:
        engine.dispose()
    assert tables(db_url, "pl_alpha") == set()


def test_schema_newer_than_code_is_refused(db_url: str, plugins: PluginFactory) -> None:
    """Code that does not know the database's revision refuses, naming both, changing nothing."""
    alembic_dir = plugins.write("peek_plugin_alpha", [FIRST, SECOND])
    engine = make_engine(db_url, ["pl_alpha"])
    try:
        migrate_schema(engine, alembic_dir, "pl_alpha", allow_create_all=False)
        older_dir = plugins.write("peek_plugin_alpha", [FIRST])
        with pytest.raises(SchemaNewerThanCodeError) as raised:
            migrate_schema(engine, older_dir, "pl_alpha", allow_create_all=False)
    finally:
        engine.dispose()
    message = str(raised.value)
    assert "0002_seed" in message and "0001_item" in message and "newer" in message
    assert versions(db_url, "pl_alpha") == ["0002_seed"]


def test_metadata_in_the_wrong_schema_is_refused(sqlite_url: str, plugins: PluginFactory) -> None:
    """A plugin whose metadata names another schema cannot migrate into it."""
    alembic_dir = plugins.write("peek_plugin_alpha", [FIRST], schema="pl_other")
    engine = make_engine(sqlite_url, ["pl_alpha"])
    try:
        with pytest.raises(SchemaNameError, match="pl_alpha"):
            migrate_schema(engine, alembic_dir, "pl_alpha")
    finally:
        engine.dispose()


def test_sessions_query_the_plugins_schema(db_url: str, plugins: PluginFactory) -> None:
    """After migrating, ORM sessions of the DbConnection read and write the plugin's tables."""
    alembic_dir = plugins.write("peek_plugin_alpha", [FIRST])
    module = plugins.module("peek_plugin_alpha")
    connection = DbConnection(db_url, module.metadata, str(alembic_dir))
    try:
        connection.migrate()
        session = connection.ormSessionCreator()
        session.add_all([module.Item(name="a"), module.Item(name="b")])
        session.commit()
        names = session.scalars(select(module.Item.name).order_by(module.Item.name)).all()
        session.close()
    finally:
        connection.closeAllSessions()
    assert names == ["a", "b"]

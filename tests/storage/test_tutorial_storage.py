"""The tutorial plugin's own migrations run unchanged on SQLite and PostgreSQL."""

from pathlib import Path

import peek_plugin_tutorial
from peek_plugin_tutorial._private.storage import DeclarativeBase
from peek_plugin_tutorial._private.storage.Setting import PROPERTY1, PROPERTY2, globalSetting
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from sqlalchemy import select

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.schema_migration import MigrationAction

ALEMBIC_DIR = Path(peek_plugin_tutorial.__file__).parent / "_private" / "alembic"


def test_scripts_upgrade_then_tables_work(db_url: str) -> None:
    """Running the tutorial's scripts (no create_all) gives working StringInt and settings."""
    DeclarativeBase.loadStorageTuples()
    connection = DbConnection(
        db_url, DeclarativeBase.metadata, str(ALEMBIC_DIR), enableCreateAll=False
    )
    try:
        result = connection.migrate()
        assert result.action is MigrationAction.UPGRADED
        assert result.to_revisions == ("0003_added_applied_task_table",)
        session = connection.ormSessionCreator()
        session.add(StringIntTuple(string1="one", int1=1))
        globalSetting(session, key=PROPERTY1, value="new value 1")
        session.commit()
        assert session.scalars(select(StringIntTuple.string1)).all() == ["one"]
        assert globalSetting(session, key=PROPERTY1) == "new value 1"
        assert globalSetting(session, key=PROPERTY2) == 0
        session.close()
    finally:
        connection.closeAllSessions()


def test_create_all_matches_the_scripts(db_url: str) -> None:
    """create_all + stamp and the scripts agree: autogenerate would find nothing to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    DeclarativeBase.loadStorageTuples()
    connection = DbConnection(
        db_url, DeclarativeBase.metadata, str(ALEMBIC_DIR), enableCreateAll=False
    )
    try:
        connection.migrate()
        with connection.dbEngine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, type_, _parent: (
                        type_ != "schema" or name == "pl_tutorial"
                    ),
                    "version_table_schema": "pl_tutorial",
                },
            )
            differences = compare_metadata(context, DeclarativeBase.metadata)
    finally:
        connection.closeAllSessions()
    assert differences == []

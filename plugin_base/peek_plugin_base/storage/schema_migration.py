"""Runs one schema's Alembic migrations inside a single transaction, without an ini file.

The migration scripts' own ``env.py`` (three lines around :class:`AlembicEnvBase`) runs on
a connection we pass in ``Config.attributes``, so the engine, the SQLite attachments and
the transaction are ours: a failing script rolls back everything, including the version
table and (on PostgreSQL) the ``CREATE SCHEMA``.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Optional

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect

from peek_plugin_base.storage.StorageErrors import (
    MigrationFailedError,
    SchemaNewerThanCodeError,
    StorageError,
)

logger = logging.getLogger(__name__)

#: Config.attributes keys shared with AlembicEnvBase.
CONNECTION_KEY = "peek_connection"
METADATA_KEY = "peek_metadata"
EXPECTED_SCHEMA_KEY = "peek_expected_schema"
URL_KEY = "peek_url"
VERSION_TABLE = "alembic_version"


class MigrationAction(StrEnum):
    """What a migration did to the schema."""

    CREATED = "created"  # create_all on an empty schema, then stamped at head
    UPGRADED = "upgraded"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class MigrationResult:
    """The outcome of migrating one schema."""

    schema: Optional[str]
    action: MigrationAction
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    #: The MetaData the scripts' env.py declared.
    metadata: MetaData


def alembic_config(alembic_dir: str | Path, expected_schema: Optional[str] = None) -> Config:
    """An Alembic config for ``alembic_dir`` built in memory (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(alembic_dir))
    # Files are named after the readable revision id, e.g. 0002_added_setting_table.py.
    config.set_main_option("file_template", "%%(rev)s")
    if expected_schema is not None:
        config.attributes[EXPECTED_SCHEMA_KEY] = expected_schema
    return config


def schema_tables(connection: Connection, schema: Optional[str]) -> list[str]:
    """The tables in ``schema`` other than the version table."""
    names = inspect(connection).get_table_names(schema=schema)
    return [name for name in names if name != VERSION_TABLE]


def migrate_schema(
    engine: Engine,
    alembic_dir: str | Path,
    expected_schema: Optional[str] = None,
    allow_create_all: bool = True,
) -> MigrationResult:
    """Bring one schema to the scripts' head in one transaction; blocking.

    An empty schema (no tables, no version) is built with ``create_all`` and stamped at
    head when ``allow_create_all``; otherwise the scripts are run. A database revision the
    scripts do not know raises SchemaNewerThanCodeError; a failing script raises
    MigrationFailedError. Either way nothing is changed.
    """
    alembic_dir = Path(alembic_dir)
    if not (alembic_dir / "env.py").is_file():
        raise StorageError(expected_schema, f"{alembic_dir} has no env.py")
    config = alembic_config(alembic_dir, expected_schema)
    script = ScriptDirectory.from_config(config)
    outcome: dict[str, Any] = {}

    def plan(heads: tuple[str, ...], context: Any) -> Any:
        heads = tuple(heads)
        metadata: MetaData = context.opts["target_metadata"]
        schema = metadata.schema
        code_heads = list(script.get_heads())
        for head in heads:
            try:
                known = script.get_revision(head)
            except Exception:
                known = None
            if known is None:
                raise SchemaNewerThanCodeError(schema, head, code_heads)
        outcome["from"] = heads
        outcome["to"] = tuple(code_heads)
        if not heads and allow_create_all and not schema_tables(context.connection, schema):
            metadata.create_all(context.connection)
            outcome["action"] = MigrationAction.CREATED
            return script._stamp_revs(tuple(code_heads), heads)
        upgraded = set(heads) != set(code_heads)
        outcome["action"] = MigrationAction.UPGRADED if upgraded else MigrationAction.UNCHANGED
        return script._upgrade_revs("heads", heads)

    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            config.attributes[CONNECTION_KEY] = connection
            with EnvironmentContext(config, script, fn=plan):
                script.run_env()
            transaction.commit()
        except StorageError:
            transaction.rollback()
            raise
        except Exception as e:
            transaction.rollback()
            raise MigrationFailedError(
                expected_schema, f"migration failed and was rolled back: {e!r}"
            ) from e
    metadata = config.attributes[METADATA_KEY]
    result = MigrationResult(
        schema=metadata.schema,
        action=outcome["action"],
        from_revisions=outcome["from"],
        to_revisions=outcome["to"],
        metadata=metadata,
    )
    if result.action is not MigrationAction.UNCHANGED:
        logger.info(
            "Schema %s %s: %s -> %s",
            result.schema,
            result.action.value,
            ", ".join(result.from_revisions) or "empty",
            ", ".join(result.to_revisions) or "empty",
        )
    return result

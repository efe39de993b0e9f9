"""The body of every plugin's Alembic ``env.py``: ``AlembicEnvBase(metadata).run()``."""

from typing import Any, Optional

from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.schema import CreateSchema

from peek_plugin_base.storage.engine_factory import is_sqlite, make_engine
from peek_plugin_base.storage.schema_migration import (
    CONNECTION_KEY,
    EXPECTED_SCHEMA_KEY,
    METADATA_KEY,
    URL_KEY,
)
from peek_plugin_base.storage.StorageErrors import SchemaNameError, StorageError


class AlembicEnvBase:
    """Runs the plugin's migrations inside its own schema.

    The version table lives in the schema too, so every plugin has its own independent
    history. Autogenerate only compares the plugin's schema and renders batch operations,
    so a revision generated on one database runs unchanged on SQLite and PostgreSQL.
    """

    def __init__(self, metadata: MetaData) -> None:
        self._metadata = metadata

    @property
    def schema(self) -> Optional[str]:
        """The schema the migrations live in (the metadata's)."""
        return self._metadata.schema

    def run(self) -> None:
        """Called by Alembic when it loads ``env.py``."""
        from alembic import context

        if context.is_offline_mode():
            raise StorageError(self.schema, "offline (--sql) migrations are not supported")
        config = context.config
        expected = config.attributes.get(EXPECTED_SCHEMA_KEY)
        if expected is not None and self.schema != expected:
            raise SchemaNameError(
                self.schema,
                f"the migrations' metadata must use schema {expected!r}, "
                f"not {self.schema!r}",
            )
        config.attributes[METADATA_KEY] = self._metadata

        connection: Optional[Connection] = config.attributes.get(CONNECTION_KEY)
        if connection is not None:
            self._runOn(context, connection)
            return
        url = config.attributes.get(URL_KEY) or config.get_main_option("sqlalchemy.url")
        if not url:
            raise StorageError(self.schema, "no database connection or URL was given")
        schemas = [self.schema] if self.schema else []
        engine = make_engine(url, schemas, {"poolclass": pool.NullPool})
        try:
            with engine.connect() as connection, connection.begin():
                self._runOn(context, connection)
        finally:
            engine.dispose()

    def _runOn(self, context: Any, connection: Connection) -> None:
        schema = self.schema
        if schema and not is_sqlite(connection.engine.url):
            connection.execute(CreateSchema(schema, if_not_exists=True))

        def includeName(name: Optional[str], type_: str, parent: Any) -> bool:
            # Autogenerate looks at this plugin's schema only, never at other plugins'.
            if type_ == "schema":
                return name == schema
            return True

        context.configure(
            connection=connection,
            target_metadata=self._metadata,
            version_table_schema=schema,
            include_schemas=bool(schema),
            include_name=includeName,
            render_as_batch=True,
            transactional_ddl=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

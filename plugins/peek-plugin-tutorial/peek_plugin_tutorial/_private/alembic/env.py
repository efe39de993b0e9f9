"""Alembic environment of the tutorial plugin's schema (pl_tutorial)."""

from peek_plugin_tutorial._private.storage import DeclarativeBase

from peek_plugin_base.storage.AlembicEnvBase import AlembicEnvBase

DeclarativeBase.loadStorageTuples()
AlembicEnvBase(DeclarativeBase.metadata).run()

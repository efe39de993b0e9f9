"""Alembic environment of the platform's schema."""

from peek_platform.storage.tables import metadata
from peek_plugin_base.storage.AlembicEnvBase import AlembicEnvBase

AlembicEnvBase(metadata).run()

"""Plugin storage: migrations per schema, sessions in threads, settings and SQL helpers.

The modules keep the original contract's paths (``peek_plugin_base.storage.DbConnection``
holds ``DbConnection`` and so on); the names are also re-exported here.
"""

from peek_plugin_base.storage.AlembicEnvBase import AlembicEnvBase
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.PluginSettings import (
    PropertyKey,
    SettingTables,
    declareSettingTables,
)
from peek_plugin_base.storage.StorageErrors import (
    MigrationFailedError,
    SchemaNameError,
    SchemaNewerThanCodeError,
    SettingError,
    StorageError,
)
from peek_plugin_base.storage.TypeDecorators import PeekLargeBinary
from peek_plugin_base.vortex.threads import deferToThreadWrap, deferToThreadWrapWithLogger

__all__ = [
    "AlembicEnvBase",
    "DbConnection",
    "MigrationFailedError",
    "PeekLargeBinary",
    "PropertyKey",
    "SchemaNameError",
    "SchemaNewerThanCodeError",
    "SettingError",
    "SettingTables",
    "StorageError",
    "declareSettingTables",
    "deferToThreadWrap",
    "deferToThreadWrapWithLogger",
]

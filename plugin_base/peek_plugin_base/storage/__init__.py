"""Plugin storage: migrations per schema, sessions in threads, settings and SQL helpers.

The modules keep the original contract's paths (``peek_plugin_base.storage.DbConnection``
holds ``DbConnection`` and so on); the names are also re-exported here.
"""

from peek_plugin_base.storage.AlembicEnvBase import AlembicEnvBase
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.OrmCrudHandler import OrmCrudHandler, OrmCrudHandlerExtension
from peek_plugin_base.storage.PluginSettings import (
    PropertyKey,
    SettingTables,
    declareSettingTables,
)
from peek_plugin_base.storage.StorageErrors import (
    CrudError,
    CrudRequestError,
    CrudRowNotFoundError,
    CrudTupleTypeError,
    MigrationFailedError,
    SchemaNameError,
    SchemaNewerThanCodeError,
    SettingError,
    StorageError,
)
from peek_plugin_base.storage.TupleLoaderClient import TupleLoaderClient
from peek_plugin_base.storage.TypeDecorators import PeekLargeBinary
from peek_vortex.routing import deferToThreadWrap, deferToThreadWrapWithLogger

__all__ = [
    "AlembicEnvBase",
    "CrudError",
    "CrudRequestError",
    "CrudRowNotFoundError",
    "CrudTupleTypeError",
    "DbConnection",
    "MigrationFailedError",
    "OrmCrudHandler",
    "OrmCrudHandlerExtension",
    "PeekLargeBinary",
    "PropertyKey",
    "SchemaNameError",
    "SchemaNewerThanCodeError",
    "SettingError",
    "SettingTables",
    "StorageError",
    "TupleLoaderClient",
    "declareSettingTables",
    "deferToThreadWrap",
    "deferToThreadWrapWithLogger",
]

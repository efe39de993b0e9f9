"""The mixin a server entry hook adds when its plugin keeps tables in the database."""

from abc import ABCMeta, abstractmethod
from typing import Any

from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import scoped_session

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.StorageErrors import StorageError


class PluginServerStorageEntryHookABC(metaclass=ABCMeta):
    """Storage for a server entry hook: ``class ServerEntryHook(PluginServerEntryHookABC,
    PluginServerStorageEntryHookABC)``.

    The plugin's ``plugin_package.json`` names its migrations (``storage.alembicDir``); the
    server migrates the plugin's schema (``pl_<name>``) before constructing the hook, then
    hands out the engine and sessions here.
    """

    @property
    @abstractmethod
    def dbMetadata(self) -> MetaData:
        """The plugin's ``MetaData(schema="pl_<name>")``."""

    @property
    def dbConnection(self) -> DbConnection:
        """The plugin's migrated DbConnection, from the server's platform hook."""
        platform: Any = getattr(self, "platform", None)
        connection = getattr(platform, "dbConnection", None)
        if connection is None:
            raise StorageError(
                self.dbMetadata.schema,
                "the server has no database connection for this plugin "
                '(is "storage.alembicDir" set in plugin_package.json?)',
            )
        return connection

    @property
    def dbEngine(self) -> Engine:
        """The engine; prefer :attr:`dbSessionCreator` sessions, used in threads."""
        return self.dbConnection.dbEngine

    @property
    def dbSessionCreator(self) -> scoped_session[Any]:
        """Creates thread-scoped ORM sessions; use them in threads, never on the reactor."""
        return self.dbConnection.ormSessionCreator

"""The server service's per-plugin platform hook."""

from abc import abstractmethod
from typing import Optional

from peek_plugin_base.PeekPlatformCommonHookABC import PeekPlatformCommonHookABC
from peek_plugin_base.PeekPlatformFileStorageHookABC import PeekPlatformFileStorageHookABC
from peek_plugin_base.server.PeekPlatformAdminHttpHookABC import PeekPlatformAdminHttpHookABC
from peek_plugin_base.server.PeekPlatformServerHttpHookABC import (
    PeekPlatformServerHttpHookABC,
)
from peek_plugin_base.storage.DbConnection import DbConnection


class PeekServerPlatformHookABC(
    PeekPlatformCommonHookABC,
    PeekPlatformAdminHttpHookABC,
    PeekPlatformServerHttpHookABC,
    PeekPlatformFileStorageHookABC,
):
    """What the server offers each plugin: other APIs, HTTP mounts, files, the database."""

    @property
    @abstractmethod
    def dbConnectString(self) -> str:
        """The SQLAlchemy URL of the platform database (``sqlalchemy.connectUrl``)."""

    @property
    def dbConnection(self) -> Optional[DbConnection]:
        """This plugin's migrated storage; None when the plugin declares no storage."""
        return None

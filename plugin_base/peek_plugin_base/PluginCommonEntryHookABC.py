"""The base of every plugin entry hook, whatever the service."""

from abc import ABCMeta, abstractmethod
from typing import Any, Generic, TypeVar

from peek_plugin_base.PluginPackageFileConfig import PluginPackageFileConfig


class PluginCommonEntryHookABC(metaclass=ABCMeta):
    """A plugin's presence in one service process.

    The service constructs it, then calls :meth:`load` and :meth:`start`; at shutdown it
    calls :meth:`stop` then :meth:`unload`. ``start`` and ``stop`` may return a value, a
    Deferred or a coroutine; the platform waits for them.
    """

    def __init__(self, pluginName: str, pluginRootDir: str) -> None:
        self._pluginName = pluginName
        self._pluginRootDir = pluginRootDir
        self._packageCfg = PluginPackageFileConfig(pluginRootDir)

    @property
    def name(self) -> str:
        """The plugin's package name."""
        return self._pluginName

    @property
    def rootDir(self) -> str:
        """The directory of the plugin's root package (where plugin_package.json is)."""
        return self._pluginRootDir

    @property
    def packageCfg(self) -> PluginPackageFileConfig:
        """The plugin's parsed ``plugin_package.json``."""
        return self._packageCfg

    @property
    def title(self) -> str:
        """The human title from ``plugin_package.json`` (``plugin.title``)."""
        plugin = self._packageCfg.config.get("plugin", {})
        return str(plugin.get("title", self._pluginName))

    @abstractmethod
    def load(self) -> None:
        """Prepare the plugin; called once, before any plugin is started."""

    @abstractmethod
    def start(self) -> Any:
        """Start the plugin's work: handlers, controllers, timers."""

    @abstractmethod
    def stop(self) -> Any:
        """Stop everything :meth:`start` began."""

    @abstractmethod
    def unload(self) -> None:
        """Release what :meth:`load` acquired; the last call the plugin receives."""


PlatformT = TypeVar("PlatformT")


class PluginPlatformEntryHookBase(PluginCommonEntryHookABC, Generic[PlatformT]):
    """Common constructor of the per-service entry hooks: keeps the platform hook."""

    def __init__(self, pluginName: str, pluginRootDir: str, platform: PlatformT) -> None:
        super().__init__(pluginName, pluginRootDir)
        self._platform = platform

    @property
    def platform(self) -> PlatformT:
        """This plugin's handle on the hosting service."""
        return self._platform

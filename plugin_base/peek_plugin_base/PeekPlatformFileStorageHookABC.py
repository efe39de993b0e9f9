"""Per-plugin persistent file storage."""

from abc import ABCMeta, abstractmethod
from pathlib import Path


class PeekPlatformFileStorageHookABC(metaclass=ABCMeta):
    """Gives each plugin a folder of its own in the service home."""

    @property
    @abstractmethod
    def fileStorageDirectory(self) -> Path:
        """The plugin's own directory for persistent files; it exists when returned."""

"""Read-only access to a plugin's ``plugin_package.json``."""

import json
from pathlib import Path
from typing import Any


class PluginPackageFileError(Exception):
    """``plugin_package.json`` is missing or is not a JSON object; names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class PluginPackageFileConfig:
    """Loads ``plugin_package.json`` from a plugin's root directory.

    The file belongs to the plugin's author: it is read, never created or rewritten.
    """

    FILE_NAME = "plugin_package.json"

    def __init__(self, pluginRootDir: str) -> None:
        self._path = Path(pluginRootDir) / self.FILE_NAME
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PluginPackageFileError(self._path, "file not found") from None
        except OSError as e:
            raise PluginPackageFileError(self._path, f"cannot be read: {e}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise PluginPackageFileError(
                self._path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
            ) from None
        if not isinstance(data, dict):
            raise PluginPackageFileError(self._path, "the top level must be a JSON object")
        self._config: dict[str, Any] = data

    @property
    def path(self) -> Path:
        """The absolute path of the file."""
        return self._path

    @property
    def config(self) -> dict[str, Any]:
        """The parsed file as a plain dict."""
        return self._config

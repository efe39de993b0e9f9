"""Which schema each storage plugin owns."""

from peek_platform.errors import PluginStorageError
from peek_plugin_base.storage.engine_factory import SCHEMA_NAME_PATTERN

#: The platform's own schema.
PLATFORM_SCHEMA = "peek_platform"

#: Package prefix -> schema prefix.
_PREFIXES = (("peek_plugin_", "pl_"), ("peek_core_", "core_"))


def plugin_schema_name(plugin_name: str) -> str:
    """``pl_<name>`` for ``peek_plugin_<name>``, ``core_<name>`` for ``peek_core_<name>``."""
    for package_prefix, schema_prefix in _PREFIXES:
        if plugin_name.startswith(package_prefix) and len(plugin_name) > len(package_prefix):
            schema = schema_prefix + plugin_name[len(package_prefix):]
            if SCHEMA_NAME_PATTERN.match(schema):
                return schema
    raise PluginStorageError(
        plugin_name,
        "a storage plugin's package must be named peek_plugin_<name> (schema pl_<name>) "
        "or peek_core_<name> (schema core_<name>), with <name> in lower case letters, "
        "digits and underscores",
    )

"""The sysinfo example plugin: a JSON endpoint with the server's network interfaces and rates."""

__version__ = "0.1.0"


def peekServerEntryHook() -> type:
    from peek_plugin_sysinfo._private.ServerEntryHook import ServerEntryHook

    return ServerEntryHook

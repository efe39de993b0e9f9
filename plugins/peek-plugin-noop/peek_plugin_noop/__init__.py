"""The noop example plugin: one entry hook per service, each logging its lifecycle."""

__version__ = "0.1.0"


def peekServerEntryHook() -> type:
    from peek_plugin_noop._private.entry_hooks import ServerEntryHook

    return ServerEntryHook


def peekClientEntryHook() -> type:
    from peek_plugin_noop._private.entry_hooks import ClientEntryHook

    return ClientEntryHook


def peekAgentEntryHook() -> type:
    from peek_plugin_noop._private.entry_hooks import AgentEntryHook

    return AgentEntryHook


def peekWorkerEntryHook() -> type:
    from peek_plugin_noop._private.entry_hooks import WorkerEntryHook

    return WorkerEntryHook

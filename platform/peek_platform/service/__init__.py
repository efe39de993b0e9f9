"""The per-process Twisted service tree and the shared ``run_peek_*`` runner."""

from peek_platform.service.tree import (
    ListeningSite,
    PeekServiceTree,
    PluginHostService,
    SequencedMultiService,
    declare_requires,
    start_order,
)

__all__ = ["ListeningSite", "PeekServiceTree", "PluginHostService", "SequencedMultiService",
           "declare_requires", "start_order"]

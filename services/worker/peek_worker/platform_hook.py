"""The worker service's per-plugin platform hook."""

from peek_platform.plugin.platform_hook import PlatformHookBase, ServerInfoHookMixin
from peek_plugin_base.worker.PeekWorkerPlatformHookABC import PeekWorkerPlatformHookABC


class WorkerPlatformHook(PlatformHookBase, ServerInfoHookMixin, PeekWorkerPlatformHookABC):
    """Other plugins' APIs, the server's address and file storage for worker-side plugins."""

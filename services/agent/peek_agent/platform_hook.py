"""The agent service's per-plugin platform hook."""

from peek_platform.plugin.platform_hook import PlatformHookBase, ServerInfoHookMixin
from peek_plugin_base.agent.PeekAgentPlatformHookABC import PeekAgentPlatformHookABC


class AgentPlatformHook(PlatformHookBase, ServerInfoHookMixin, PeekAgentPlatformHookABC):
    """Other plugins' APIs, the server's address and file storage for agent-side plugins."""

"""The server service's per-plugin platform hook (defined with the others in peek_platform)."""

from peek_platform.plugin.service_hooks import ServerPlatformHook

__all__ = ["ServerPlatformHook"]

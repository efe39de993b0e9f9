"""The API the noop plugin publishes to other server-side plugins."""

from abc import ABCMeta, abstractmethod


class NoopApiABC(metaclass=ABCMeta):
    """What another plugin gets from ``getOtherPluginApi("peek_plugin_noop")``."""

    @abstractmethod
    def ping(self, text: str) -> str:
        """Return ``"pong: <text>"``, proving the call reached the noop plugin."""

"""Shared fixtures: an in-memory bus whose routers all run on one task.Clock."""

import pytest
from twisted.internet.task import Clock

from peek_plugin_base.testing import MemoryVortex


@pytest.fixture
def clock() -> Clock:
    """The time source every router on the bus uses."""
    return Clock()


@pytest.fixture
def bus(clock: Clock) -> MemoryVortex:
    """An in-memory bus whose reply timeouts and caches run on ``clock``."""
    return MemoryVortex(clock)


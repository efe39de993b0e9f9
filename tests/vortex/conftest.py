"""Fixtures for bus tests: registering tuple types under a log that is rolled back after."""

from collections.abc import Callable, Iterator

import pytest

from peek_plugin_base.vortex import addTupleType
from peek_vortex import OwnershipScope, owned_by


@pytest.fixture
def register() -> Iterator[Callable[[type], type]]:
    """Register tuple classes for one test; every registration is undone afterwards."""
    log = OwnershipScope("test")

    def _register(cls: type) -> type:
        with owned_by(log):
            return addTupleType(cls)

    yield _register
    log.rollback()

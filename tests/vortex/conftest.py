"""Fixtures for bus tests: registering tuple types under a log that is rolled back after."""

from collections.abc import Callable, Iterator

import pytest

from peek_plugin_base.registrations import RegistrationLog, registering_for
from peek_plugin_base.vortex import addTupleType


@pytest.fixture
def register() -> Iterator[Callable[[type], type]]:
    """Register tuple classes for one test; every registration is undone afterwards."""
    log = RegistrationLog("test")

    def _register(cls: type) -> type:
        with registering_for(log):
            return addTupleType(cls)

    yield _register
    log.rollback()

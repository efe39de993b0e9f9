"""The tutorial's worker tasks: plain functions the server queues and awaits."""

from peek_plugin_base.worker.CeleryApp import peekTask


@peekTask
def addNumbers(x: int, y: int) -> int:
    """Add two numbers on the worker (the "hello world" of worker tasks)."""
    return x + y


@peekTask
def totalList(values: list[float]) -> float:
    """Total a list; a list that holds something other than numbers fails remotely."""
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"totalList takes numbers only, got {value!r}")
    return sum(values)

"""The one object of a kind a process serves (its worker database, its task caller)."""

from collections.abc import Callable
from typing import Generic, Optional, TypeVar

T = TypeVar("T")


class ServedSlot(Generic[T]):
    """Holds the object a process serves; serving another one stacks on top of it, and
    stopping that brings the one served before back."""

    def __init__(self) -> None:
        self.current: Optional[T] = None

    def serve(self, value: T) -> Callable[[], None]:
        """Serve ``value``; returns the callable that stops serving it."""
        previous, self.current = self.current, value

        def stopServing() -> None:
            # Only if still served: a later one stopped out of order keeps its place.
            if self.current is value:
                self.current = previous

        return stopServing

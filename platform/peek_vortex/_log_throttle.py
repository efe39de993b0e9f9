"""Log lines that an attacker or a stuck peer could repeat thousands of times, without flooding.

:class:`LogThrottle` logs the first event of each key (an address, a kind of failure) at
once; later events of that key within the interval are only counted, and the first event
after the interval has ended logs one summary line per key with its count. So a key costs
at most two lines per interval however fast its events come, and distinct keys beyond
``max_keys`` in one interval share one summary line. No timer is kept (an idle throttle
leaves nothing on the reactor); :meth:`LogThrottle.flush` logs the counts at once.
"""

import logging
from collections.abc import Hashable
from typing import Any, Optional

from twisted.internet.interfaces import IReactorTime

#: Seconds one summary covers unless told otherwise.
DEFAULT_INTERVAL_SECONDS = 60.0
#: Distinct keys logged individually per interval; the rest are only counted.
DEFAULT_MAX_KEYS = 100


class LogThrottle:
    """Logs each key's first event per interval; counts the rest and logs their total once.

    Use it from the reactor thread only.
    """

    def __init__(
        self,
        logger: logging.Logger,
        level: int = logging.WARNING,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Optional[IReactorTime] = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        self._logger = logger
        self._level = level
        self.interval = interval
        self._clock = clock
        self._max_keys = max_keys
        # key -> (events not logged this interval, description of the key)
        self._suppressed: dict[Hashable, list[Any]] = {}
        self._other_events = 0
        self._window_start: Optional[float] = None

    @property
    def clock(self) -> IReactorTime:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor  # type: ignore[assignment]
        return self._clock  # type: ignore[return-value]

    def log(self, key: Hashable, summary: str, msg: str, *args: Any) -> None:
        """Log ``msg % args`` if ``key`` has not logged this interval, else count it.

        ``summary`` names the kind of event in the count line ("wrong tokens from
        10.0.0.7"), which reads "<summary>: N more in the last <interval> s".
        """
        now = self.clock.seconds()
        if self._window_start is None or now - self._window_start >= self.interval:
            self.flush()
            self._window_start = now
        state = self._suppressed.get(key)
        if state is not None:
            state[0] += 1
            return
        if len(self._suppressed) >= self._max_keys:
            self._other_events += 1
            return
        self._suppressed[key] = [0, summary]
        self._logger.log(self._level, msg, *args)

    def flush(self) -> None:
        """Log the counts gathered so far and start a new interval."""
        if self._window_start is None:
            return
        seconds = self.clock.seconds() - self._window_start
        suppressed, self._suppressed = self._suppressed, {}
        for count, summary in suppressed.values():
            if count:
                self._logger.log(self._level, "%s: %d more in the last %.0f s", summary, count,
                                 seconds)
        if self._other_events:
            self._logger.log(self._level, "%d more such events from other sources in the"
                             " last %.0f s", self._other_events, seconds)
        self._other_events = 0
        self._window_start = None

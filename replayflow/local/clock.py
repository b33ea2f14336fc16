"""Clocks for the local durable service: a virtual clock that jumps to the next timer, and the real one.

The service reads the time only through a :class:`Clock`. Every timer it arms (a wait's end, a step's
next attempt, a callback's timeout, the execution timeout, an invocation retry) is an absolute time on
that clock. With :class:`VirtualClock` the service's driver moves time forward itself: when nothing can
run until the next timer, the clock *jumps* to it (like trio's ``MockClock`` with autojump), so a two-hour
wait costs nothing. With :class:`RealClock` the driver sleeps until the timer is due.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

from .errors import ConfigurationError

__all__ = ["Clock", "RealClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """What the service needs from a clock. ``now()`` is epoch seconds."""

    #: ``True`` when the service may move this clock forward itself (see :class:`VirtualClock`).
    virtual: bool

    def now(self) -> float:
        """The current time, epoch seconds."""
        ...

    def real_delay(self, seconds: float) -> float:
        """How long to really sleep to see ``seconds`` of this clock's time go by."""
        ...


class RealClock:
    """Wall-clock time: timers fire when they are really due."""

    virtual = False

    def now(self) -> float:
        return time.time()

    def real_delay(self, seconds: float) -> float:
        return max(seconds, 0.0)


class VirtualClock:
    """Virtual time, starting at ``start`` (default: the real time now).

    ``autojump=True`` (the default) lets the service jump to the next timer as soon as nothing else can
    happen (no invocation running, nothing ready). ``autojump_threshold`` (real seconds) makes it wait that
    long for outside events (a callback sent from another thread) before jumping. With ``autojump=False``
    time only moves through :meth:`advance` (for harnesses that model time themselves).
    """

    virtual = True

    def __init__(self, start: float | None = None, *, autojump: bool = True, autojump_threshold: float = 0.0) -> None:
        # whole milliseconds, so that times computed from epoch-ms timestamps compare exactly
        self._ms = round((time.time() if start is None else float(start)) * 1000)
        self._lock = threading.Lock()
        self.autojump = autojump
        self.autojump_threshold = autojump_threshold

    def now(self) -> float:
        return self._ms / 1000

    def real_delay(self, seconds: float) -> float:
        return 0.0

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (negative values are refused).

        Time has millisecond resolution (like the service's timestamps). Prefer
        :meth:`LocalDurableService.advance`, which also fires the timers that fall due on the way.
        """
        if seconds < 0:
            raise ConfigurationError("a clock cannot go backwards")
        with self._lock:
            self._ms += round(seconds * 1000)

    def jump_to(self, when: float) -> None:
        """Set the time to ``when`` if that is later than now (never backwards)."""
        target = round(when * 1000)
        with self._lock:
            self._ms = max(self._ms, target)

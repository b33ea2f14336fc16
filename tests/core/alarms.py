"""A stand-in for ``replayflow._alarms.ALARMS`` whose delays pass only when a test says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ManualAlarms"]


class ManualAlarms:
    """``schedule(delay, action)`` returns its cancel, as ``Alarms.schedule`` does; :meth:`fire` runs every
    action armed and not cancelled (their delays have passed), once."""

    def __init__(self) -> None:
        self.armed: list[list[Any]] = []  # [action, done]
        self.fired = 0

    def schedule(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        entry: list[Any] = [action, False]
        self.armed.append(entry)
        return lambda: entry.__setitem__(1, True)

    def pending(self) -> int:
        """Alarms armed and neither cancelled nor fired."""
        return sum(not done for _, done in self.armed)

    def fire(self) -> None:
        for entry in self.armed:
            if not entry[1]:
                entry[1] = True
                self.fired += 1
                entry[0]()

"""Durations as the service counts them: whole seconds."""

from __future__ import annotations

import datetime as _dt
import math

from ._errors import ValidationError
from ._frozen import Record, init
from ._wire import MAX_WAIT_SECONDS

__all__ = ["Duration", "to_seconds"]


class Duration(Record):
    """A span of time; the service rounds it *up* to whole seconds.

    ``Duration(minutes=5)``, ``Duration(seconds=1.5)`` (sent as 2 s) or ``Duration.of(timedelta)``.
    """

    __slots__ = ("days", "hours", "minutes", "seconds")
    seconds: float
    minutes: float
    hours: float
    days: float

    def __init__(self, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        init(self, "seconds", seconds)
        init(self, "minutes", minutes)
        init(self, "hours", hours)
        init(self, "days", days)

    @property
    def total_seconds(self) -> float:
        return self.seconds + 60 * self.minutes + 3600 * self.hours + 86400 * self.days

    @classmethod
    def of(cls, value: Duration | _dt.timedelta | float) -> Duration:
        """Accept a Duration, a ``timedelta`` or a number of seconds."""
        if isinstance(value, Duration):
            return value
        if isinstance(value, _dt.timedelta):
            return cls(seconds=value.total_seconds())
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"expected a Duration, a timedelta or seconds, got {value!r}")
        return cls(seconds=value)


def to_seconds(
    value: Duration | _dt.timedelta | float | None,
    *,
    what: str,
    minimum: int = 1,
    maximum: int = MAX_WAIT_SECONDS,
    allow_zero: bool = False,
) -> int:
    """Whole seconds (rounded up) within ``[minimum, maximum]``; ``ValidationError`` naming ``what`` otherwise.

    With ``allow_zero`` a zero/``None`` value means "not set" and returns 0.
    """
    if value is None:
        if allow_zero:
            return 0
        raise ValidationError(f"{what} is required")
    total = Duration.of(value).total_seconds
    if math.isnan(total) or math.isinf(total):
        raise ValidationError(f"{what} must be a finite duration, got {total}")
    if allow_zero and total == 0:
        return 0
    if total < 0:
        raise ValidationError(f"{what} must not be negative, got {total} s")
    if 0 < total < minimum:
        raise ValidationError(
            f"{what} must be at least {minimum} s, got {total:g} s: the service counts whole seconds "
            f"(a fraction above {minimum} s is rounded up)"
        )
    if total < minimum or total > maximum:
        raise ValidationError(f"{what} must be between {minimum} s and {maximum} s (366 days), got {total:g} s")
    return math.ceil(total)

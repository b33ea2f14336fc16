"""Retry strategies for steps (and wait_for_callback submitters).

A retry strategy is any callable ``(error, attempt) -> delay`` where ``attempt`` counts the attempts made
so far (1 after the first failure) and ``delay`` is the wait before the next attempt (seconds, a
``timedelta`` or a ``Duration``), or ``None`` to stop retrying. Retries go through the service: the step
checkpoints RETRY, the invocation suspends, and the service re-invokes when the delay has passed, so
delays are whole seconds, at least 1.

:class:`RetryPolicy` covers exponential, linear and fixed backoff with jitter and error filters;
:class:`RetryPresets` holds the common ones (the same as the official SDK's).
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from ._duration import Duration
from ._errors import ValidationError
from ._frozen import Record, init

__all__ = ["Jitter", "RetryPolicy", "RetryPresets", "RetryStrategy", "delay_seconds"]

#: ``(error, attempts_made) -> delay or None``
RetryStrategy = Callable[[BaseException, int], "float | int | Duration | _dt.timedelta | None"]


class Jitter(enum.Enum):
    """How much randomness to apply to a computed delay."""

    NONE = "NONE"  #: exactly the computed delay
    FULL = "FULL"  #: uniformly between 0 and the delay
    HALF = "HALF"  #: uniformly between half the delay and the delay


def _positive(name: str, value: float) -> None:
    if not value > 0 or math.isinf(value):
        raise ValidationError(f"{name} must be a positive number of seconds, got {value!r}")


class RetryPolicy(Record, kw_only=True):
    """Backoff with jitter and filters; call it as a retry strategy.

    The delay before attempt ``n + 1`` (after ``n`` failures) is
    ``min(initial_delay * backoff_rate ** (n - 1) + increment * (n - 1), max_delay)``, jittered, then
    rounded up to whole seconds (at least 1). ``max_attempts`` counts every attempt, the first included.
    With ``retry_on`` / ``retry_on_message`` set, only matching errors are retried (either filter matching
    is enough; messages are regular expressions searched in ``str(error)``).
    """

    __slots__ = (
        "backoff_rate",
        "increment",
        "initial_delay",
        "jitter",
        "max_attempts",
        "max_delay",
        "retry_on",
        "retry_on_message",
    )
    max_attempts: int
    initial_delay: float
    max_delay: float
    backoff_rate: float
    increment: float
    jitter: Jitter
    retry_on: tuple[type[BaseException], ...]
    retry_on_message: tuple[re.Pattern[str], ...]

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        initial_delay: float = 5.0,
        max_delay: float = 300.0,
        backoff_rate: float = 2.0,
        increment: float = 0.0,
        jitter: Jitter = Jitter.FULL,
        retry_on: Iterable[type[BaseException]] | None = (),
        retry_on_message: Iterable[str | re.Pattern[str]] | None = (),
    ) -> None:
        init(self, "max_attempts", max_attempts)
        init(self, "initial_delay", initial_delay)
        init(self, "max_delay", max_delay)
        init(self, "backoff_rate", backoff_rate)
        init(self, "increment", increment)
        init(self, "jitter", jitter)
        init(self, "retry_on", tuple(retry_on or ()))
        patterns = tuple(v if isinstance(v, re.Pattern) else re.compile(v) for v in retry_on_message or ())
        init(self, "retry_on_message", patterns)
        _positive("initial_delay", initial_delay)
        _positive("max_delay", max_delay)
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ValidationError(f"max_attempts must be an int, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValidationError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.initial_delay > self.max_delay:
            raise ValidationError(
                f"initial_delay ({self.initial_delay} s) must not exceed max_delay ({self.max_delay} s)"
            )
        if not self.backoff_rate >= 1.0 or math.isinf(self.backoff_rate):
            raise ValidationError(f"backoff_rate must be at least 1.0, got {self.backoff_rate!r}")
        if not self.increment >= 0 or math.isinf(self.increment):
            raise ValidationError(f"increment must be a non-negative number, got {self.increment!r}")

    def should_retry(self, error: BaseException) -> bool:
        """Whether ``error`` passes the filters (no filters: every error is retryable)."""
        if not self.retry_on and not self.retry_on_message:
            return True
        if self.retry_on and isinstance(error, self.retry_on):
            return True
        text = str(error)
        return any(p.search(text) for p in self.retry_on_message)

    def delay(self, attempt: int) -> int:
        """The jittered delay in whole seconds after ``attempt`` failed attempts."""
        n = max(attempt, 1) - 1
        try:
            base = self.initial_delay * self.backoff_rate**n + self.increment * n
        except OverflowError:
            base = self.max_delay
        capped = min(base, self.max_delay)
        if self.jitter is Jitter.FULL:
            capped *= _random()
        elif self.jitter is Jitter.HALF:
            capped *= 0.5 + 0.5 * _random()
        return max(1, math.ceil(capped))

    def __call__(self, error: BaseException, attempt: int) -> int | None:
        if attempt >= self.max_attempts or not self.should_retry(error):
            return None
        return self.delay(attempt)


class RetryPresets:
    """Ready-made strategies (the same numbers as the official SDK's presets)."""

    @staticmethod
    def default() -> RetryPolicy:
        """6 attempts, 5 s initial delay, x2, at most 60 s, full jitter (the default for steps)."""
        return RetryPolicy(max_attempts=6, initial_delay=5, max_delay=60, backoff_rate=2, jitter=Jitter.FULL)

    @staticmethod
    def transient() -> RetryPolicy:
        """3 attempts, 1 s initial delay, x2, at most 5 s, half jitter: for blips."""
        return RetryPolicy(max_attempts=3, initial_delay=1, max_delay=5, backoff_rate=2, jitter=Jitter.HALF)

    @staticmethod
    def resource_availability() -> RetryPolicy:
        """5 attempts, 5 s initial delay, x2, at most 5 minutes."""
        return RetryPolicy(max_attempts=5, initial_delay=5, max_delay=300, backoff_rate=2)

    @staticmethod
    def critical() -> RetryPolicy:
        """10 attempts, 1 s initial delay, x1.5, at most 60 s, no jitter."""
        return RetryPolicy(max_attempts=10, initial_delay=1, max_delay=60, backoff_rate=1.5, jitter=Jitter.NONE)

    @staticmethod
    def none() -> RetryPolicy:
        """No retries: the first failure is final."""
        return RetryPolicy(max_attempts=1)

    @staticmethod
    def exponential(
        max_attempts: int = 3,
        initial_delay: float = 5,
        max_delay: float = 300,
        backoff_rate: float = 2.0,
        jitter: Jitter = Jitter.FULL,
        retry_on: tuple[type[BaseException], ...] = (),
        retry_on_message: tuple[str, ...] = (),
    ) -> RetryPolicy:
        """Exponential backoff."""
        return RetryPolicy(**locals())  # the parameters are the policy's own fields

    @staticmethod
    def linear(
        max_attempts: int = 6,
        initial_delay: float = 1,
        increment: float = 1,
        max_delay: float = 300,
        jitter: Jitter = Jitter.NONE,
        retry_on: tuple[type[BaseException], ...] = (),
        retry_on_message: tuple[str, ...] = (),
    ) -> RetryPolicy:
        """Linear backoff: ``initial_delay + increment * (n - 1)``."""
        fields = locals()  # the parameters are the policy's own fields
        return RetryPolicy(**{**fields, "max_delay": max(max_delay, initial_delay), "backoff_rate": 1.0})

    @staticmethod
    def fixed(
        delay: float = 5,
        max_attempts: int = 3,
        retry_on: tuple[type[BaseException], ...] = (),
        retry_on_message: tuple[str, ...] = (),
    ) -> RetryPolicy:
        """The same delay before every retry."""
        return RetryPolicy(
            max_attempts=max_attempts,
            initial_delay=delay,
            max_delay=delay,
            backoff_rate=1.0,
            jitter=Jitter.NONE,
            retry_on=retry_on,
            retry_on_message=retry_on_message,
        )


def delay_seconds(decision: Any) -> int | None:
    """Normalise what a retry strategy returned into whole seconds (at least 1), or ``None``."""
    if decision is None or decision is False:
        return None
    if isinstance(decision, Duration | _dt.timedelta):
        seconds = Duration.of(decision).total_seconds
    elif isinstance(decision, int | float) and not isinstance(decision, bool):
        seconds = float(decision)
    else:
        raise ValidationError(
            f"a retry strategy must return seconds, a timedelta, a Duration or None; got {decision!r}"
        )
    if math.isnan(seconds):
        raise ValidationError("a retry strategy returned NaN")
    return max(1, math.ceil(seconds))


def _random() -> float:
    """``random.random()``, importing :mod:`random` (and what it imports) only when a jittered delay needs it."""
    import random

    return random.random()

"""The service's timers: one heap of :class:`Timer` entries, and what each kind of timer is armed for.

Entries are never removed when they become moot (a callback completed before its timeout, a heartbeat
re-armed the deadline): when an entry comes up, :func:`still_armed` checks that what it was armed for
still holds (``stamp`` is the deadline in epoch ms it was armed with), and the entry is dropped otherwise.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Literal, NamedTuple

from .records import RUNNING, Execution

__all__ = ["Timer", "TimerKind", "Timers", "still_armed"]

#: What a timer is for: the execution's timeout, a failed invocation's retry, a WAIT, a STEP's next
#: attempt, a CALLBACK's timeout or heartbeat timeout.
TimerKind = Literal["execution_timeout", "reinvoke", "wait", "retry", "callback_timeout", "callback_heartbeat"]


class Timer(NamedTuple):
    """One armed timer: due at ``due`` (epoch s), for ``kind`` of execution ``arn`` (operation ``key``)."""

    due: float
    seq: int
    kind: TimerKind
    arn: str
    key: str
    stamp: int


class Timers:
    """A min-heap of timers by due time (epoch seconds), FIFO among equal due times."""

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def arm(self, kind: TimerKind, arn: str, key: str, stamp_ms: int) -> None:
        heapq.heappush(self._heap, Timer(stamp_ms / 1000.0, next(self._seq), kind, arn, key, stamp_ms))

    def next_due(self, valid: Callable[[Timer], bool]) -> float | None:
        """The due time of the earliest timer that is still ``valid`` (moot ones are dropped)."""
        heap = self._heap
        while heap:
            if valid(heap[0]):
                return heap[0].due
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest timer due at ``now`` or before, removed; ``None`` if there is none."""
        heap = self._heap
        if heap and heap[0].due <= now:
            return heapq.heappop(heap)
        return None

    def __len__(self) -> int:
        return len(self._heap)


def still_armed(ex: Execution | None, timer: Timer) -> bool:
    """Whether ``timer`` still stands for something in running execution ``ex`` (else it is moot)."""
    if ex is None or ex.status != RUNNING:
        return False
    return _ARMED[timer.kind](ex, timer.key, timer.stamp)


def _execution_timeout(ex: Execution, key: str, stamp: int) -> bool:
    return True


def _reinvoke(ex: Execution, key: str, stamp: int) -> bool:
    return ex.retry_due == stamp


def _wait(ex: Execution, key: str, stamp: int) -> bool:
    op = ex.ops.get(key)
    return op is not None and op["Status"] == "STARTED" and op["WaitDetails"]["ScheduledEndTimestamp"] == stamp


def _retry(ex: Execution, key: str, stamp: int) -> bool:
    op = ex.ops.get(key)
    return op is not None and op["Status"] == "PENDING" and op["StepDetails"].get("NextAttemptTimestamp") == stamp


def _callback_timeout(ex: Execution, key: str, stamp: int) -> bool:
    deadlines = ex.callbacks.get(key)
    return deadlines is not None and _open(ex, key) and deadlines.timeout_due == stamp


def _callback_heartbeat(ex: Execution, key: str, stamp: int) -> bool:
    deadlines = ex.callbacks.get(key)
    return deadlines is not None and _open(ex, key) and deadlines.heartbeat_due == stamp


def _open(ex: Execution, key: str) -> bool:
    op = ex.ops.get(key)
    return op is not None and op["Status"] == "STARTED"


_ARMED: dict[TimerKind, Callable[[Execution, str, int], bool]] = {
    "execution_timeout": _execution_timeout,
    "reinvoke": _reinvoke,
    "wait": _wait,
    "retry": _retry,
    "callback_timeout": _callback_timeout,
    "callback_heartbeat": _callback_heartbeat,
}

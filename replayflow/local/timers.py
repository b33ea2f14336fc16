"""The service's timers: one heap of ``(due, seq, kind, arn, key, stamp)`` entries.

Entries are never removed when they become moot (a callback completed before its timeout, a heartbeat
re-armed the deadline): the service checks, when an entry comes up, that what it was armed for still
holds (``stamp`` is the deadline in epoch ms it was armed with), and drops it otherwise.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

__all__ = ["Timer", "Timers"]

Timer = tuple[float, int, str, str, str, int]


class Timers:
    """A min-heap of timers by due time (epoch seconds), FIFO among equal due times."""

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def arm(self, kind: str, arn: str, key: str, stamp_ms: int) -> None:
        heapq.heappush(self._heap, (stamp_ms / 1000.0, next(self._seq), kind, arn, key, stamp_ms))

    def next_due(self, valid: Callable[[Timer], bool]) -> float | None:
        """The due time of the earliest timer that is still ``valid`` (moot ones are dropped)."""
        heap = self._heap
        while heap:
            if valid(heap[0]):
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest timer due at ``now`` or before, removed; ``None`` if there is none."""
        heap = self._heap
        if heap and heap[0][0] <= now:
            return heapq.heappop(heap)
        return None

    def __len__(self) -> int:
        return len(self._heap)

"""One background thread that runs delayed actions for every invocation in the process.

Two things use it: a step body still running after a short delay gets its queued START checkpointed
(so the history shows the step started even if the process dies in the body), and an invocation nearing
the Lambda deadline is told to shut down. Scheduling and cancelling cost a heap push and a flag; the
thread is only woken when a new alarm is due before every other one.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

__all__ = ["ALARMS", "Alarms"]


class _Alarm:
    __slots__ = ("action", "cancelled", "owner")

    def __init__(self, action: Callable[[], None], owner: Alarms) -> None:
        self.action = action
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            # A cancelled alarm stays in the heap until it reaches the top or the heap is compacted (a
            # deadline's, some 64 invocations later): what its action holds (an interpreter) is let go now.
            self.action = _nothing
            self.owner._cancelled()


def _nothing() -> None:
    """A cancelled alarm's action."""


class Alarms:
    """Runs ``action()`` after ``delay`` seconds on a daemon thread unless cancelled first."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._dead = 0  # cancelled alarms still in the heap

    def schedule(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        """Run ``action`` in ``delay`` seconds; returns the function that cancels it."""
        alarm = _Alarm(action, self)
        due = time.monotonic() + delay
        with self._condition:
            heap = self._heap
            earliest = not heap or due < heap[0][0]
            heapq.heappush(heap, (due, next(self._order), alarm))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="replayflow-alarms", daemon=True)
                self._thread.start()
            elif earliest:
                self._condition.notify()
        return alarm.cancel

    def _cancelled(self) -> None:
        """Drop cancelled alarms once they are most of the heap (deadlines far away never reach its top)."""
        with self._condition:
            self._dead += 1
            if self._dead > 64 and self._dead * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._dead = 0

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    heap = self._heap
                    while heap and heap[0][2].cancelled:
                        heapq.heappop(heap)
                        self._dead = max(self._dead - 1, 0)
                    if not heap:
                        self._condition.wait()
                        continue
                    due = heap[0][0] - time.monotonic()
                    if due <= 0:
                        alarm = heapq.heappop(heap)[2]
                        break
                    self._condition.wait(due)
            action = alarm.action  # (read before the flag: a cancel in between leaves it unrun)
            if not alarm.cancelled:
                try:
                    action()
                except Exception:  # an action must never kill the thread every invocation relies on
                    import logging

                    logging.getLogger("replayflow").exception("a background action failed")


ALARMS = Alarms()

"""One background thread that runs delayed checkpoint flushes for every invocation in the process.

A step body that is still running after a short delay gets its queued START sent by this thread, so the
history shows that the step started even if the process dies in the body. Quick bodies cancel the flush
before it fires and their START travels with the result, as usual. One thread serves all invocations;
scheduling and cancelling cost a heap push and a flag.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

__all__ = ["FLUSHER", "DelayedFlusher"]


class _Ticket:
    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class DelayedFlusher:
    """Runs ``action()`` after ``delay`` seconds on a daemon thread unless cancelled first."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Ticket]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        """Run ``action`` in ``delay`` seconds; returns the function that cancels it."""
        ticket = _Ticket(action)
        with self._condition:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), ticket))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="replayflow-flusher", daemon=True)
                self._thread.start()
            self._condition.notify()
        return ticket.cancel

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    while self._heap and self._heap[0][2].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._condition.wait()
                        continue
                    due = self._heap[0][0] - time.monotonic()
                    if due <= 0:
                        ticket = heapq.heappop(self._heap)[2]
                        break
                    self._condition.wait(due)
            if not ticket.cancelled:
                ticket.action()


FLUSHER = DelayedFlusher()

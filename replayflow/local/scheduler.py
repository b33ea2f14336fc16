"""What happens next in the local service, and who makes it happen.

:class:`Scheduler` holds the service's one lock and what is due: the ready queue of jobs (invocations,
calls of plain functions) and the timer heap. Every change notifies its condition, so whoever waits on it
looks again. :class:`Driver` runs that work: in the calling thread until a condition holds (``drive``), or
in background threads (``start``). Jobs run outside the lock.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from .clock import Clock, VirtualClock
from .timers import Timer, TimerKind, Timers

__all__ = ["Driver", "Job", "Scheduler"]

#: One piece of work run outside the lock (an invocation, a call of a plain function).
Job = Callable[[], None]


class Scheduler:
    """The lock, the ready queue, the timers, and how many jobs are running (``busy``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.ready: collections.deque[Job] = collections.deque()
        self.timers = Timers()
        self.busy = 0
        #: Counts changes: a driver that waited can tell whether anything happened meanwhile.
        self.generation = 0

    def changed(self) -> None:
        """Something changed (lock held): wake whoever waits."""
        self.generation += 1
        self.cond.notify_all()

    def enqueue(self, job: Job) -> None:
        self.ready.append(job)
        self.changed()

    def arm(self, kind: TimerKind, arn: str, key: str, due_ms: int) -> None:
        self.timers.arm(kind, arn, key, due_ms)
        self.changed()


class Driver:
    """Runs ready jobs, fires due timers (``fire_due``) and moves a virtual clock.

    ``armed(timer)`` tells a timer that still stands from a moot one.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        clock: Clock,
        fire_due: Callable[[float], bool],
        armed: Callable[[Timer], bool],
    ) -> None:
        self._scheduler = scheduler
        self._clock = clock
        self._virtual = clock if isinstance(clock, VirtualClock) else None
        self._fire_due = fire_due
        self._armed = armed
        self._closing = False
        self._threads: list[threading.Thread] = []

    @property
    def driving(self) -> bool:
        """Whether background driver threads are running."""
        return bool(self._threads)

    def next_due(self) -> float | None:
        """When the earliest timer that still stands is due (lock held)."""
        return self._scheduler.timers.next_due(self._armed)

    def idle(self) -> bool:
        """Nothing ready, running or armed (lock held)."""
        scheduler = self._scheduler
        return not scheduler.ready and scheduler.busy == 0 and self.next_due() is None

    def quiet_at(self, horizon: float) -> bool:
        """The clock reached ``horizon`` and nothing is ready, running or due by then (lock held)."""
        scheduler = self._scheduler
        if scheduler.ready or scheduler.busy or self._clock.now() < horizon:
            return False
        due = self.next_due()
        return due is None or due > horizon

    def drive(self, done: Callable[[], bool], *, horizon: float | None = None, timeout: float | None = None) -> bool:
        """Run ready work, fire timers and move a virtual clock until ``done()``; ``False`` on timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        scheduler = self._scheduler
        cond = scheduler.cond
        while True:
            with cond:
                job = self._next_job(done, horizon, end)
            if isinstance(job, bool):
                return job
            try:
                job()
            finally:
                with cond:
                    scheduler.busy -= 1
                    scheduler.changed()

    def _next_job(self, done: Callable[[], bool], horizon: float | None, end: float | None) -> Job | bool:
        """The next job to run (counted busy), ``True`` once ``done()``, ``False`` at the timeout (lock held)."""
        scheduler = self._scheduler
        clock = self._clock
        while not done():
            now = clock.now()
            if self._fire_due(now):
                continue
            if scheduler.ready:
                scheduler.busy += 1
                return scheduler.ready.popleft()
            due = self.next_due()
            if scheduler.busy == 0 and self._jump(now, due, horizon):
                continue
            if not self._wait(now, due, end):
                return False
        return True

    def _wait(self, now: float, due: float | None, end: float | None) -> bool:
        """Wait for a change, the next timer (real clocks) or the timeout; ``False`` once timed out."""
        wait = None if due is None or self._virtual is not None else self._clock.real_delay(due - now)
        if end is not None:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            wait = remaining if wait is None else min(wait, remaining)
        self._scheduler.cond.wait(wait)
        return True

    def _jump(self, now: float, due: float | None, horizon: float | None) -> bool:
        """Move a virtual clock to the next timer (or ``horizon``); whether to look again (lock held)."""
        clock = self._virtual
        target = None if clock is None else _jump_target(now, due, horizon)
        if clock is None or target is None or not (clock.autojump or horizon is not None):
            return False
        if clock.autojump_threshold > 0 and horizon is None:
            generation = self._scheduler.generation
            self._scheduler.cond.wait(clock.autojump_threshold)
            if generation != self._scheduler.generation:
                return True
        clock.jump_to(target)
        return True

    def start(self, workers: int) -> None:
        """Start ``workers`` background driver threads (stopped by :meth:`stop`)."""
        with self._scheduler.lock:
            self._closing = False
            for index in range(workers):
                thread = threading.Thread(
                    target=self.drive, args=(self._stopping,), name=f"replayflow-local-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _stopping(self) -> bool:
        return self._closing

    def stop(self) -> None:
        """Stop the background drivers (waits up to 5 s for each)."""
        with self._scheduler.lock:
            self._closing = True
            self._scheduler.cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)


def _jump_target(now: float, due: float | None, horizon: float | None) -> float | None:
    """Where a virtual clock may jump: the next timer, but not past ``horizon`` (``None``: nowhere)."""
    if horizon is not None and (due is None or due > horizon):
        return horizon if now < horizon else None
    return due

"""``benchmarks.dex_runner``: the emulator's wake-up race, shown on its own code and fixed.

The wake-up is the emulator's own (``Executor._fire_due_and_invoke_handler``), scheduled and cancelled by
its own ``Scheduler`` as ``_schedule_earliest_pending`` does. Only the executor it reads is a stand-in: an
execution lane the test completes by hand, so the cancellation lands exactly between the wake-up's two
steps (completing the due wait, then invoking the function).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing.executor import Executor
from aws_durable_execution_sdk_python_testing.scheduler import Scheduler

from benchmarks.dex_runner import shield_wakeups

_HANG = 30  # seconds that bound a hang only

ORIGINAL = Executor._fire_due_and_invoke_handler


class Lane:
    """The execution's lane as the wake-up sees it: a task is submitted, its result comes when the test says."""

    def __init__(self) -> None:
        self.submitted = threading.Event()
        self.result: Future[bool] = Future()
        self.invoked: list[str] = []
        self.rearmed: list[str] = []

    def executor(self) -> Any:
        def submit(arn: str, task: Any) -> Future[bool]:
            self.result.set_running_or_notify_cancel()  # the lane runs it now: a cancellation cannot stop it
            self.submitted.set()
            return self.result

        return SimpleNamespace(
            _registry=SimpleNamespace(submit=submit),
            _invoke_execution=self.invoked.append,
            _schedule_earliest_pending=self.rearmed.append,
        )


def _settle(scheduler: Scheduler) -> None:
    """Let the scheduler's loop run every callback queued so far (FIFO), and a few turns more."""
    for _ in range(3):
        scheduler.call_later(lambda: None, delay=0).result(timeout=_HANG)


def _cancel_between_steps(make: Any) -> Lane:
    lane = Lane()
    with Scheduler() as scheduler:
        wakeup = scheduler.call_later(make(lane.executor(), "arn"), delay=0)
        assert lane.submitted.wait(_HANG)  # step 1 under way: the lane is completing the due wait
        wakeup.cancel()  # the invocation that just ended re-arms, cancelling this wake-up
        lane.result.set_result(True)  # the lane completed the wait
        _settle(scheduler)
    return lane


def test_unfixed_a_wakeup_cancelled_between_its_steps_never_invokes():
    """The upstream race (aws-durable-execution-sdk-python-testing 1.4.0). If this fails, the emulator was
    fixed: drop ``benchmarks.dex_runner``."""
    lane = _cancel_between_steps(ORIGINAL)
    assert lane.invoked == []  # the wait is over and nobody will invoke the function: the execution hangs
    assert lane.rearmed == []


def test_fixed_a_wakeup_cancelled_between_its_steps_still_invokes():
    lane = _cancel_between_steps(shield_wakeups(ORIGINAL))
    assert lane.invoked == ["arn"]
    assert lane.rearmed == ["arn"]


@pytest.mark.parametrize("make", [ORIGINAL, shield_wakeups(ORIGINAL)], ids=["unfixed", "fixed"])
def test_a_wakeup_cancelled_during_its_delay_does_nothing(make):
    lane = Lane()
    with Scheduler() as scheduler:
        wakeup = scheduler.call_later(make(lane.executor(), "arn"), delay=_HANG)
        assert wakeup.cancel()
        _settle(scheduler)
    assert not lane.submitted.is_set()
    assert lane.invoked == [] and lane.rearmed == []

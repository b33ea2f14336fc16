"""``ctx.wait`` (``replayflow/_ops/wait.py``): durable timers, whole seconds, checked while steps run."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

import replayflow
from replayflow import Duration, ValidationError

from .wire import Recorder, event, invoke, op


@pytest.mark.parametrize(
    ("kwargs", "seconds"),
    [
        ({"seconds": 1}, 1),
        ({"seconds": 1.2}, 2),
        ({"minutes": 2}, 120),
        ({"hours": 2}, 7200),
        ({"days": 366}, 31_622_400),
        ({"minutes": 1, "seconds": 30}, 90),
    ],
)
def test_waits_are_whole_seconds_rounded_up(kwargs, seconds):
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.wait(**kwargs, name="w")

    rec = Recorder()
    assert invoke(wf, event(), rec) == {"Status": "PENDING"}
    assert rec.updates == [
        {
            "Id": rec.updates[0]["Id"],
            "Type": "WAIT",
            "Action": "START",
            "SubType": "Wait",
            "WaitOptions": {"WaitSeconds": seconds},
            "Name": "w",
        }
    ]


@pytest.mark.parametrize("value", [0, 0.5, -1, 31_622_401, Duration(days=367), float("nan"), "5"])
def test_waits_outside_one_second_to_366_days_are_rejected(value):
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.wait(value)

    out = invoke(wf, event())
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.ValidationError"


def test_wait_accepts_durations_and_timedeltas():
    assert Duration.of(dt.timedelta(minutes=1)).total_seconds == 60
    assert Duration(hours=1, minutes=1).total_seconds == 3660
    with pytest.raises(ValidationError, match="not both"):
        replayflow.durable(lambda _, ctx: ctx.wait(5, seconds=5)).workflow(None, _FakeCtx())


class _FakeCtx:
    def wait(self, *args, **kwargs):
        from replayflow._context import DurableContext

        return DurableContext.wait(self, *args, **kwargs)  # type: ignore[arg-type]


def test_an_elapsed_wait_continues_and_a_started_one_stays_suspended():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.wait(seconds=10)
        return "after"

    assert invoke(wf, event(op(1, "WAIT", "SUCCEEDED")))["Result"] == '"after"'
    rec = Recorder()
    assert invoke(wf, event(op(1, "WAIT", "STARTED")), rec) == {"Status": "PENDING"}
    assert rec.checkpoints == []


class LaggingTimers(Recorder):
    """A service whose WAITs are due 0.2 s after they start and whose timer fires a little late: the
    first empty checkpoint after the due time still finds the wait STARTED, the next one SUCCEEDED."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: dict[str, dict] = {}
        self.refreshes: list[float] = []

    def handle(self, operation, request):
        response = super().handle(operation, request)
        changed = response["NewExecutionState"]["Operations"]
        for update in request["Updates"]:
            if update["Type"] == "WAIT" and update["Action"] == "START":
                wait = op(
                    0,
                    "WAIT",
                    "STARTED",
                    id=update["Id"],
                    name=update.get("Name"),
                    parent=update.get("ParentId"),
                    WaitDetails={"ScheduledEndTimestamp": int((time.time() + 0.2) * 1000)},
                )
                self.waits[update["Id"]] = wait
                changed.append(wait)
        if operation == "CheckpointDurableExecution" and not request["Updates"]:
            self.refreshes.append(time.monotonic())
            if len(self.refreshes) >= 2:
                changed += [{**wait, "Status": "SUCCEEDED"} for wait in self.waits.values()]
        return response


def test_a_due_wait_is_checked_with_backed_off_empty_checkpoints_while_a_sibling_step_runs():
    released = threading.Event()

    def left(ctx):
        yield ctx.wait(seconds=1, name="short")
        yield ctx.step(released.set, name="release")
        return "left"

    def right(ctx):
        return (yield ctx.step(lambda: released.wait(60), name="long"))

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.parallel([left, right], name="pair")).get_results()

    service = LaggingTimers()
    out = invoke(wf, event(), service)
    assert out == {"Status": "SUCCEEDED", "Result": '["left",true]'}  # the sibling saw the release
    assert len(service.refreshes) == 2  # no busy loop while the service's timer lagged
    assert service.refreshes[1] - service.refreshes[0] >= 0.9  # backed off ~1 s (a lower bound: load cannot break it)


def test_a_sub_second_wait_says_why_and_the_docstring_says_so_too():
    from replayflow._context import DurableContext

    @replayflow.durable
    def wf(_, ctx):
        yield ctx.wait(0.5)

    out = invoke(wf, event())
    assert "must be at least 1 s, got 0.5 s" in out["Error"]["ErrorMessage"]
    assert "whole seconds" in out["Error"]["ErrorMessage"]
    doc = DurableContext.wait.__doc__ or ""
    assert "less than\n        1 s (0.5 s, say) is a ``ValidationError``" in doc and "1.5 s waits 2 s" in doc

"""Near the deadline: running step bodies are cancelled, finished work is kept, nothing new starts."""

from __future__ import annotations

import time

import replayflow

from .wire import Recorder, event, invoke, op, step


class LambdaContext:
    aws_request_id = "req-1"

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)


class Frozen(LambdaContext):
    """A context whose remaining time does not run down (so the alarm's delay is exact)."""

    def get_remaining_time_in_millis(self):
        return 30_000


def test_near_the_deadline_running_steps_are_cancelled_finished_work_is_kept_and_the_invocation_suspends():
    cancelled = []

    def quick():
        return "done"

    def slow():
        if replayflow.step_context().sleep(10):
            cancelled.append(True)
            replayflow.step_context().raise_if_cancelled()
        return "too late"

    @replayflow.durable(shutdown_margin=0.5)
    def wf(_, ctx):
        yield ctx.step(quick)
        yield ctx.step(slow)
        yield ctx.step(quick, name="never")

    rec = Recorder()
    out = invoke(wf, event(), rec, context=LambdaContext(1.0))
    assert out == {"Status": "PENDING"}
    assert cancelled == [True]  # the 10 s sleep was cut short by the shutdown, not waited out
    assert [(u["Action"], u["Name"]) for u in rec.updates] == [
        ("START", "quick"),
        ("SUCCEED", "quick"),
        ("START", "slow"),
    ]


def test_no_new_step_starts_after_the_shutdown_signal():
    ran = []

    def finishing():
        assert replayflow.step_context().sleep(30)  # runs until the shutdown signal (30 s bounds a hang only)
        return "finished"  # ...then ignores it and ends, before the Lambda would be killed

    @replayflow.durable(shutdown_margin=0.5)
    def wf(_, ctx):
        yield ctx.step(finishing)
        yield ctx.step(lambda: ran.append("next"), name="next")

    rec = Recorder()
    assert invoke(wf, event(), rec, context=LambdaContext(1.0)) == {"Status": "PENDING"}
    assert ran == []
    assert ("SUCCEED", "finishing") in [(u["Action"], u["Name"]) for u in rec.updates]


def test_the_deadline_alarm_is_armed_at_the_first_new_work_and_cancelled_at_the_end(monkeypatch):
    """Replay alone has nothing to tell to stop: the alarm waits for new work (a new step, a retried body)."""
    from replayflow import _handler

    scheduled, cancelled = [], []
    real = _handler.ALARMS.schedule

    def schedule(delay, action):
        cancel = real(delay, action)
        if getattr(action, "__name__", "") != "begin_shutdown":
            return cancel  # a step's START checkpoint alarm
        scheduled.append(delay)
        return lambda: (cancelled.append(delay), cancel())

    monkeypatch.setattr(_handler.ALARMS, "schedule", schedule)

    @replayflow.durable(shutdown_margin=0.5)
    def wf(_, ctx):
        yield ctx.step(lambda: 1, name="one")
        yield ctx.wait(seconds=60)
        return (yield ctx.step(lambda: 2, name="two"))

    history = [step(1, name="one", result=1), op(2, "WAIT", "STARTED")]
    assert invoke(wf, event(*history), context=LambdaContext(30.0)) == {"Status": "PENDING"}
    assert scheduled == []  # replayed to a wait still running: no new work, no alarm

    history = [step(1, name="one", result=1), op(2, "WAIT", "SUCCEEDED")]
    assert invoke(wf, event(*history), context=Frozen(30.0))["Status"] == "SUCCEEDED"
    assert scheduled == [29.5]  # the deadline less the margin
    assert cancelled == scheduled

    history = [step(1, name="one", result=1), op(2, "WAIT", "SUCCEEDED"), step(3, "READY", name="two")]
    scheduled.clear()
    assert invoke(wf, event(*history), context=LambdaContext(30.0))["Status"] == "SUCCEEDED"
    assert len(scheduled) == 1  # a body that runs again (a retry) is new work

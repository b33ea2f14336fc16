"""``ctx.wait_for_condition`` (``replayflow/_ops/condition.py``): polls, backoff, giving up."""

from __future__ import annotations

import orjson
import pytest

import replayflow
from replayflow import Jitter, StepError, WaitForConditionError, WaitStrategy

from .wire import Recorder, event, invoke, step


def bump(state):
    return {"count": state["count"] + 1}


@replayflow.durable
def polling(_, ctx):
    strategy = WaitStrategy(is_done=lambda s: s["count"] >= 3, initial_delay=2, jitter=Jitter.NONE, max_attempts=5)
    final = yield ctx.wait_for_condition(bump, initial_state={"count": 0}, wait_strategy=strategy, name="poll")
    return final["count"]


def test_each_poll_checkpoints_the_new_state_and_suspends():
    rec = Recorder()
    assert invoke(polling, event(), rec) == {"Status": "PENDING"}
    assert [(u["Action"], u.get("Payload"), u.get("StepOptions")) for u in rec.updates] == [
        ("START", None, None),
        ("RETRY", '{"count":1}', {"NextAttemptDelaySeconds": 2}),
    ]
    assert rec.updates[0]["SubType"] == "WaitForCondition"


def test_the_next_poll_starts_from_the_recorded_state_and_backs_off():
    rec = Recorder()
    ready = step(1, "READY", name="poll", sub_type="WaitForCondition", attempt=1, result={"count": 1})
    assert invoke(polling, event(ready), rec) == {"Status": "PENDING"}
    assert rec.updates[-1]["Payload"] == '{"count":2}'
    assert rec.updates[-1]["StepOptions"] == {"NextAttemptDelaySeconds": 3}  # 2 * 1.5


def test_the_condition_met_succeeds_with_the_final_state():
    rec = Recorder()
    ready = step(1, "READY", name="poll", sub_type="WaitForCondition", attempt=2, result={"count": 2})
    assert invoke(polling, event(ready), rec)["Result"] == "3"
    assert [u["Action"] for u in rec.updates] == ["START", "SUCCEED"]
    assert (
        invoke(polling, event(step(1, name="poll", sub_type="WaitForCondition", result={"count": 3})))["Result"] == "3"
    )


def test_exhaustion_raises_with_the_last_state_on_first_run_and_replay():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.wait_for_condition(
                bump, initial_state={"count": 0}, name="poll", wait_strategy=WaitStrategy(max_attempts=1)
            )
        except WaitForConditionError as e:
            return [e.last_state, e.error_type]

    rec = Recorder()
    expected = [{"count": 1}, "replayflow.WaitForConditionError"]
    assert orjson.loads(invoke(wf, event(), rec)["Result"]) == expected
    fail = rec.updates[-1]
    assert fail["Error"]["ErrorData"] == '{"count":1}'
    recorded = step(1, "FAILED", name="poll", sub_type="WaitForCondition", error=fail["Error"])
    assert orjson.loads(invoke(wf, event(recorded))["Result"]) == expected


def test_a_check_that_raises_fails_without_polling_again():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.wait_for_condition(lambda s: 1 / 0, wait_strategy=WaitStrategy())
        except StepError as e:
            return e.error_type

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '"ZeroDivisionError"'
    assert [u["Action"] for u in rec.updates] == ["START", "FAIL"]


def test_a_custom_strategy_decides_with_the_attempt_number():
    seen = []

    def strategy(state, attempt):
        seen.append((state, attempt))
        return None if attempt >= 2 else 10

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.wait_for_condition(lambda s: s + 1, initial_state=0, wait_strategy=strategy))

    rec = Recorder()
    invoke(wf, event(), rec)
    assert rec.updates[-1]["StepOptions"] == {"NextAttemptDelaySeconds": 10}
    ready = step(1, "READY", sub_type="WaitForCondition", attempt=1, result=1)
    assert invoke(wf, event(ready))["Result"] == "2"
    assert seen == [(1, 1), (2, 2)]


def test_wait_strategies_are_validated():
    with pytest.raises(replayflow.ValidationError):
        WaitStrategy(max_attempts=0)
    with pytest.raises(replayflow.ValidationError):
        WaitStrategy(initial_delay=10, max_delay=1)

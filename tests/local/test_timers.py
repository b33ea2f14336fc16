"""Timers under the virtual clock: waits, retry delays (PENDING -> READY), execution timeout, advance()."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import replayflow
from replayflow.local import LocalDurableService, RealClock, VirtualClock

from .raw import Session, event_types, events, op_id, raw_handler, step


def test_a_two_hour_wait_costs_nothing(service: LocalDurableService) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        x = yield ctx.step(lambda: input["n"] * 2, name="double")
        yield ctx.wait(hours=2, name="nap")
        return x

    service.register("wf", wf)
    begin = service.clock.now()
    clock = service.clock
    assert isinstance(clock, VirtualClock)
    jumps: list[float] = []
    jump_to = clock.jump_to

    def recording_jump(target: float) -> None:
        jumps.append(target)
        jump_to(target)

    clock.jump_to = recording_jump  # type: ignore[method-assign]
    result = service.run("wf", {"n": 21})
    assert jumps == [pytest.approx(begin + 7200, abs=1)]  # the driver jumped to the wait's end instead of sleeping
    assert result.succeeded and result.value == 42
    history = events(service, result.arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "WaitStarted",
        "InvocationCompleted",
        "WaitSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    wait_started, wait_succeeded = history[3], history[5]
    assert wait_started["WaitStartedDetails"]["Duration"] == 7200
    assert wait_succeeded["WaitSucceededDetails"] == {"Duration": 7200}
    assert (wait_succeeded["EventTimestamp"] - wait_started["EventTimestamp"]).total_seconds() == 7200
    assert wait_started["WaitStartedDetails"]["ScheduledEndTimestamp"] == wait_succeeded["EventTimestamp"]
    assert service.clock.now() - begin == pytest.approx(7200)


def test_retry_delay_pending_then_ready(service: LocalDurableService) -> None:
    seen: list[dict[str, Any]] = []
    a = op_id(1)

    def body(s: Session) -> dict[str, Any]:
        op = s.ops.get(a)
        seen.append(op or {})
        if op is None or op["Status"] == "READY":
            attempt = (op or {}).get("StepDetails", {}).get("Attempt", 0) + 1
            s.checkpoint(step(a))
            if attempt < 3:
                s.checkpoint(
                    step(
                        a,
                        "RETRY",
                        Error={"ErrorType": "Flaky", "ErrorMessage": f"try {attempt}"},
                        StepOptions={"NextAttemptDelaySeconds": 30},
                    )
                )
                return {"Status": "PENDING"}
            s.checkpoint(step(a, "SUCCEED", Payload='"ok"'))
            return {"Status": "SUCCEEDED", "Result": '"ok"'}
        raise AssertionError(f"invoked while the step is {op['Status']}")

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.succeeded and result.value == "ok"
    assert [op.get("Status") for op in seen] == [None, "READY", "READY"]
    assert seen[1]["StepDetails"]["Attempt"] == 1 and seen[2]["StepDetails"]["Attempt"] == 2
    assert seen[1]["StepDetails"]["Error"]["ErrorMessage"] == "try 1"
    history = events(service, result.arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "StepStarted",
        "StepFailed",
        "InvocationCompleted",
        "StepStarted",
        "StepFailed",
        "InvocationCompleted",
        "StepStarted",
        "StepSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert history[2]["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 30}
    assert history[5]["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 2, "NextAttemptDelaySeconds": 30}
    assert history[8]["StepSucceededDetails"]["RetryDetails"] == {"CurrentAttempt": 3}
    # the retry timer itself records nothing; the next invocation starts when it is due
    assert (history[4]["EventTimestamp"] - history[2]["EventTimestamp"]).total_seconds() == 30


def test_condition_continue_is_a_step_succeeded_with_the_state(service: LocalDurableService) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        return (
            yield ctx.wait_for_condition(
                lambda state: state + 1,
                initial_state=0,
                wait_strategy=lambda state, attempt: None if state >= 3 else 2,
                name="poll",
            )
        )

    service.register("wf", wf)
    result = service.run("wf")
    assert result.succeeded and result.value == 3
    history = events(service, result.arn)
    steps = [e for e in history if e["EventType"].startswith("Step")]
    assert [(e["EventType"], e["SubType"]) for e in steps] == [
        ("StepStarted", "WaitForCondition"),
        ("StepSucceeded", "WaitForCondition"),
    ] * 3
    assert [e["StepSucceededDetails"]["Result"]["Payload"] for e in steps[1::2]] == ["1", "2", "3"]
    assert steps[1]["StepSucceededDetails"]["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 2}
    assert steps[5]["StepSucceededDetails"]["RetryDetails"] == {"CurrentAttempt": 3}


def test_execution_timeout() -> None:
    svc = LocalDurableService()

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        yield ctx.wait(seconds=120)
        return 1

    svc.register("wf", wf, execution_timeout=60)
    result = svc.run("wf")
    assert result.status == "TIMED_OUT"
    history = events(svc, result.arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "WaitStarted",
        "InvocationCompleted",
        "ExecutionTimedOut",
    ]
    assert history[0]["ExecutionStartedDetails"]["ExecutionTimeout"] == 60
    assert "timed out after 60 seconds" in history[-1]["ExecutionTimedOutDetails"]["Error"]["Payload"]["ErrorMessage"]
    described = svc.get_durable_execution(DurableExecutionArn=result.arn)
    assert described["Status"] == "TIMED_OUT"
    assert (described["EndTimestamp"] - described["StartTimestamp"]).total_seconds() == 60


def test_advance_moves_time_in_steps_without_autojump() -> None:
    clock = VirtualClock(start=1_000_000.0, autojump=False)
    svc = LocalDurableService(clock=clock)

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        yield ctx.wait(seconds=10, name="w1")
        yield ctx.wait(seconds=10, name="w2")
        return "done"

    svc.register("wf", wf)
    arn = svc.start_execution("wf", "null")
    svc.advance(0)
    assert event_types(svc, arn)[-1] == "InvocationCompleted"
    svc.advance(9)
    assert svc.execution(arn).status == "RUNNING" and event_types(svc, arn).count("WaitSucceeded") == 0
    svc.advance(1)
    assert event_types(svc, arn).count("WaitSucceeded") == 1
    assert event_types(svc, arn)[-1] == "InvocationCompleted"
    svc.advance(10)
    assert svc.execution(arn).status == "SUCCEEDED"
    assert clock.now() == 1_000_020.0
    with pytest.raises(TimeoutError):
        arn2 = svc.start_execution("wf", "null")
        svc.wait(arn2, timeout=0.2)  # no autojump and nobody advancing: it cannot end


def test_real_clock_waits_for_real() -> None:
    svc = LocalDurableService(clock=RealClock())

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        yield ctx.wait(seconds=1)
        return "ok"

    svc.register("wf", wf)
    started = time.monotonic()
    assert svc.run("wf", timeout=60).value == "ok"
    assert time.monotonic() - started > 0.9  # it really waited (a lower bound: load cannot break it)


def test_a_wait_that_ends_while_a_sibling_step_runs_resumes_in_the_same_invocation() -> None:
    """The SDK refreshes its state (an empty checkpoint) when the wait is due; the service fires due timers
    on every checkpoint, so the waiting branch carries on while its sibling's step is still running."""
    svc = LocalDurableService(clock=RealClock())
    released = threading.Event()

    def left(ctx: Any) -> Any:
        yield ctx.wait(seconds=1, name="short-wait")
        yield ctx.step(released.set, name="release")
        return "left"

    def right(ctx: Any) -> Any:
        return (yield ctx.step(lambda: released.wait(60), name="long-step"))  # True once left released it

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        both = yield ctx.parallel([left, right], name="pair")
        return both.get_results()

    svc.register("wf", wf)
    result = svc.run("wf", timeout=30)
    assert result.value == ["left", True]
    kinds = event_types(svc, result.arn)
    assert kinds.count("InvocationCompleted") == 1  # no suspension: one invocation did it all
    assert kinds.index("WaitSucceeded") < kinds.index("StepSucceeded")


def test_a_retry_and_a_condition_poll_due_while_a_sibling_step_runs_go_on_in_the_same_invocation() -> None:
    svc = LocalDurableService(clock=RealClock())
    released = threading.Event()
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("blip")
        return "charged"

    def left(ctx: Any) -> Any:
        charged = yield ctx.step(flaky, name="charge", retry=replayflow.RetryPresets.fixed(delay=1, max_attempts=3))
        every_second = replayflow.WaitStrategy(is_done=lambda n: n >= 2, initial_delay=1, jitter=replayflow.Jitter.NONE)
        polls = yield ctx.wait_for_condition(lambda n: n + 1, initial_state=0, wait_strategy=every_second, name="poll")
        yield ctx.step(released.set, name="release")
        return [charged, polls]

    def right(ctx: Any) -> Any:
        return (yield ctx.step(lambda: released.wait(60), name="long-step"))

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        return (yield ctx.parallel([left, right], name="pair")).get_results()

    svc.register("wf", wf)
    result = svc.run("wf", timeout=30)
    assert result.value == [["charged", 2], True]
    kinds = event_types(svc, result.arn)
    assert kinds.count("InvocationCompleted") == 1  # the retry and the second poll ran in the first invocation
    assert len(attempts) == 2


def test_a_timer_stands_only_while_what_it_was_armed_for_holds() -> None:
    from replayflow.local.records import CallbackDeadlines, Execution
    from replayflow.local.timers import Timer, still_armed

    ex = Execution(
        arn="arn:x",
        function_name="f",
        name="n",
        id="1",
        region="r",
        account="a",
        input_payload=None,
        start_ms=0,
        timeout=60,
        retry_due=5_000,
    )
    ex.add_op({"Id": "w", "Type": "WAIT", "Status": "STARTED", "WaitDetails": {"ScheduledEndTimestamp": 2_000}})
    ex.add_op({"Id": "s", "Type": "STEP", "Status": "PENDING", "StepDetails": {"NextAttemptTimestamp": 3_000}})
    ex.add_op({"Id": "c", "Type": "CALLBACK", "Status": "STARTED", "CallbackDetails": {}})
    ex.callbacks["c"] = CallbackDeadlines(4, 1, 4_000, 1_000)

    def armed(kind: Any, key: str, stamp: int) -> bool:
        return still_armed(ex, Timer(stamp / 1000, 0, kind, ex.arn, key, stamp))

    assert armed("execution_timeout", "", 60_000)
    assert armed("reinvoke", "", 5_000) and not armed("reinvoke", "", 4_000)
    assert armed("wait", "w", 2_000) and not armed("wait", "w", 2_001) and not armed("wait", "nope", 2_000)
    assert armed("retry", "s", 3_000) and not armed("retry", "s", 1)
    assert armed("callback_timeout", "c", 4_000) and armed("callback_heartbeat", "c", 1_000)
    assert not armed("callback_heartbeat", "c", 4_000)  # re-armed since: the old entry is moot
    ex.status = "SUCCEEDED"
    assert not armed("execution_timeout", "", 60_000) and not still_armed(None, Timer(0, 0, "wait", "", "", 0))

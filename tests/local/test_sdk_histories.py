"""Real generator workflows on the local service, with the event histories the conformance suite expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import replayflow
from replayflow.local import LocalDurableService, ProcessExit, VirtualClock

from .raw import all_events, events

NO_JITTER = {"jitter": replayflow.Jitter.NONE}


def shape(svc: LocalDurableService, arn: str) -> list[str]:
    """``EventType/SubType`` of every event (``EventType`` alone when there is no SubType)."""
    return [e["EventType"] + (f"/{e['SubType']}" if "SubType" in e else "") for e in events(svc, arn)]


def test_1_12_retry_exhaustion(service: LocalDurableService) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        def always() -> None:
            raise RuntimeError("always")

        policy = replayflow.RetryPolicy(max_attempts=4, initial_delay=1, backoff_rate=1, **NO_JITTER)
        return (yield ctx.step(always, name="always", retry=policy))

    service.register("wf", wf)
    result = service.run("wf")
    assert result.status == "FAILED"
    history = events(service, result.arn)
    assert shape(service, result.arn) == ["ExecutionStarted"] + [
        "StepStarted/Step",
        "StepFailed/Step",
        "InvocationCompleted",
    ] * 4 + ["ExecutionFailed"]
    retries = [e["StepFailedDetails"]["RetryDetails"] for e in history if e["EventType"] == "StepFailed"]
    assert retries == [
        {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 1},
        {"CurrentAttempt": 2, "NextAttemptDelaySeconds": 1},
        {"CurrentAttempt": 3, "NextAttemptDelaySeconds": 1},
        {"CurrentAttempt": 4},
    ]
    assert len({e["Id"] for e in history if e["EventType"].startswith("Step")}) == 1


def test_3_7_child_context_with_a_retried_step(service: LocalDurableService) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        def child(c: Any) -> Any:
            def flaky() -> Any:
                if replayflow.step_context().attempt == 1:
                    raise ValueError("first attempt")
                return input

            return (yield c.step(flaky, name="flaky", retry=replayflow.RetryPolicy(initial_delay=1, **NO_JITTER)))

        return (yield ctx.run_in_child_context(child))

    service.register("wf", wf)
    result = service.run("wf", "abc")
    assert result.value == "abc"
    history = events(service, result.arn)
    assert shape(service, result.arn) == [
        "ExecutionStarted",
        "ContextStarted/RunInChildContext",
        "StepStarted/Step",
        "StepFailed/Step",
        "InvocationCompleted",
        "StepStarted/Step",
        "StepSucceeded/Step",
        "ContextSucceeded/RunInChildContext",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    context_id = history[1]["Id"]
    assert history[1]["Name"] == "child" and history[7]["Name"] == "child"
    assert all(history[i]["ParentId"] == context_id for i in (2, 3, 5, 6))
    assert history[6]["StepSucceededDetails"] == {
        "Result": {"Payload": '"abc"', "Truncated": False},
        "RetryDetails": {"CurrentAttempt": 2},
    }


def test_3_12_crash_inside_a_child_step(service: LocalDurableService, tmp_path: Path) -> None:
    marker = tmp_path / "crashed"

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        def child(c: Any) -> Any:
            def work() -> Any:
                if not marker.exists():
                    marker.write_text("x")
                    raise ProcessExit(1)
                return input

            return (
                yield c.step(
                    work,
                    name="work",
                    semantics=replayflow.StepSemantics.AT_MOST_ONCE_PER_RETRY,
                    retry=replayflow.RetryPolicy(initial_delay=1, **NO_JITTER),
                )
            )

        return (yield ctx.run_in_child_context(child, name="kid"))

    service.register("wf", wf)
    result = service.run("wf", "v")
    assert result.value == "v"
    kinds = shape(service, result.arn)
    assert kinds[:4] == [
        "ExecutionStarted",
        "ContextStarted/RunInChildContext",
        "StepStarted/Step",
        "InvocationCompleted",
    ]
    crash = events(service, result.arn)[3]["InvocationCompletedDetails"]["Error"]["Payload"]
    assert crash["ErrorType"] == "Runtime.ExitError"
    assert kinds[-3:] == ["ContextSucceeded/RunInChildContext", "InvocationCompleted", "ExecutionSucceeded"]


def test_7_1_wait_for_callback() -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    submitted: list[str] = []

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        return (yield ctx.wait_for_callback(submitted.append, name=input))

    svc.register("wf", wf)
    arn = svc.start_execution("wf", '"approval"')
    svc.advance(0)
    assert len(submitted) == 1
    svc.send_durable_execution_callback_success(CallbackId=submitted[0], Result=b'"ok"')
    svc.advance(0)
    assert svc.execution(arn).value == '"ok"'
    history = events(svc, arn)
    assert shape(svc, arn) == [
        "ExecutionStarted",
        "ContextStarted/WaitForCallback",
        "CallbackStarted/Callback",
        "StepStarted/Step",
        "StepSucceeded/Step",
        "InvocationCompleted",
        "CallbackSucceeded/Callback",
        "ContextSucceeded/WaitForCallback",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert history[1]["Name"] == "approval"
    assert {history[i]["ParentId"] for i in (2, 3, 4, 6)} == {history[1]["Id"]}
    assert history[2]["CallbackStartedDetails"]["CallbackId"] == submitted[0]


def test_4_18_two_callbacks_answered_in_turn() -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        a = yield ctx.create_callback(name="A")
        b = yield ctx.create_callback(name="B")
        return [(yield a.result()), (yield b.result())]

    svc.register("wf", wf)
    arn = svc.start_execution("wf", "null")
    svc.advance(0)
    ids = {e["Name"]: e["CallbackStartedDetails"]["CallbackId"] for e in events(svc, arn)[1:3]}
    svc.advance(3)
    svc.send_durable_execution_callback_success(CallbackId=ids["A"], Result=b'"a"')
    svc.advance(4)
    svc.send_durable_execution_callback_success(CallbackId=ids["B"], Result=b'"b"')
    svc.advance(0)
    assert shape(svc, arn) == [
        "ExecutionStarted",
        "CallbackStarted/Callback",
        "CallbackStarted/Callback",
        "InvocationCompleted",
        "CallbackSucceeded/Callback",
        "InvocationCompleted",
        "CallbackSucceeded/Callback",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert svc.execution(arn).value == ['"a"', '"b"']


def test_5_9_invoke_then_wait(service: LocalDurableService) -> None:
    @replayflow.durable
    def target(input: Any, ctx: Any) -> Any:
        return input

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        value = yield ctx.invoke("target", input)
        yield ctx.wait(seconds=1)
        return value

    service.register("target", target)
    service.register("wf", wf)
    result = service.run("wf", {"k": [1, 2]})
    assert result.value == {"k": [1, 2]}
    assert [e["EventType"] for e in events(service, result.arn)] == [
        "ExecutionStarted",
        "ChainedInvokeStarted",
        "InvocationCompleted",
        "ChainedInvokeSucceeded",
        "WaitStarted",
        "InvocationCompleted",
        "WaitSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]


def test_parallel_and_map(service: LocalDurableService) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        def square(c: Any, item: int, index: int, items: Any) -> Any:
            return (yield c.step(lambda: item * item, name="sq"))

        squares = yield ctx.map(input, square, name="squares")
        return squares.results() if hasattr(squares, "results") else squares.get_results()

    service.register("wf", wf)
    result = service.run("wf", [1, 2, 3])
    assert result.succeeded, result.error
    assert result.value == [1, 4, 9]
    kinds = shape(service, result.arn)
    assert kinds[1] == "ContextStarted/Map"
    assert kinds.count("ContextStarted/MapIteration") == 3 and kinds.count("ContextSucceeded/MapIteration") == 3
    assert kinds[-3:] == ["ContextSucceeded/Map", "InvocationCompleted", "ExecutionSucceeded"]


@pytest.mark.parametrize("n", [1, 250, 600])
def test_many_steps_in_one_invocation(service: LocalDurableService, n: int) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        total = 0
        for i in range(n):
            total += yield ctx.step(lambda i=i: i, name="s")
        return total

    service.register("wf", wf)
    result = service.run("wf")
    assert result.value == n * (n - 1) // 2
    history = all_events(service, result.arn)
    assert len(history) == 2 * n + 3
    assert [e["EventId"] for e in history] == list(range(1, 2 * n + 4))

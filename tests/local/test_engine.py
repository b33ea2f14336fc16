"""Invocation outcomes: output validation, handler failures and crashes retried, paging of the input."""

from __future__ import annotations

import json
from typing import Any

import replayflow
from replayflow.local import InvocationRetry, Limits, LocalDurableService, ProcessExit

from .raw import Session, events, op_id, raw_handler, step


def test_handler_error_is_recorded_and_retried(service: LocalDurableService) -> None:
    calls: list[int] = []

    def body(s: Session) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("flaky infrastructure")
        return {"Status": "SUCCEEDED", "Result": "1"}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.succeeded and len(calls) == 2
    history = events(service, result.arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "InvocationCompleted",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    error = history[1]["InvocationCompletedDetails"]["Error"]["Payload"]
    assert error["ErrorType"] == "RuntimeError" and error["ErrorMessage"] == "flaky infrastructure"
    assert "Error" not in history[2]["InvocationCompletedDetails"]
    # retried after the backoff on the service's clock
    assert (history[2]["EventTimestamp"] - history[1]["EventTimestamp"]).total_seconds() == 1.0


def test_process_exit_is_a_runtime_exit_error(service: LocalDurableService) -> None:
    """1-17 / 1-18 / 3-12: a crash after StepStarted; the next invocation sees the step STARTED."""
    a = op_id(1)

    def body(s: Session) -> dict[str, Any]:
        if a not in s.ops:
            s.checkpoint(step(a, Name="at_most_once"))
            raise ProcessExit(1)
        assert s.ops[a]["Status"] == "STARTED"
        s.checkpoint(
            step(a, "FAIL", Name="at_most_once", Error={"ErrorType": "StepInterruptedError", "ErrorMessage": "x"})
        )
        return {"Status": "FAILED", "Error": {"ErrorType": "StepError", "ErrorMessage": "x"}}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.status == "FAILED"
    history = events(service, result.arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "StepStarted",
        "InvocationCompleted",
        "StepFailed",
        "InvocationCompleted",
        "ExecutionFailed",
    ]
    crash = history[2]["InvocationCompletedDetails"]["Error"]["Payload"]
    assert crash["ErrorType"] == "Runtime.ExitError"
    assert crash["ErrorMessage"].endswith("Runtime exited with error: exit status 1")
    assert history[3]["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 1}


def test_retries_are_bounded() -> None:
    svc = LocalDurableService(invocation_retry=InvocationRetry(max_attempts=3, initial_delay=2, backoff_rate=3))

    def always(event: Any, context: Any) -> Any:
        raise ValueError("nope")

    svc.register("f", always)
    result = svc.run("f")
    assert result.status == "FAILED" and result.error == {
        "ErrorType": "ValueError",
        "ErrorMessage": "nope",
        "StackTrace": result.error["StackTrace"],  # type: ignore[index]
    }
    history = events(svc, result.arn)
    assert [e["EventType"] for e in history] == ["ExecutionStarted"] + ["InvocationCompleted"] * 3 + ["ExecutionFailed"]
    gaps = [(history[i + 1]["EventTimestamp"] - history[i]["EventTimestamp"]).total_seconds() for i in (1, 2)]
    assert gaps == [2.0, 6.0]


def test_invalid_outputs(service: LocalDurableService) -> None:
    outputs = iter(
        [
            {"Status": "FAILED", "Result": "1"},
            {"Status": "PENDING"},  # nothing is pending
            {"Status": "DONE"},
            {"Status": "SUCCEEDED", "Error": {}},
            "not a dict",
        ]
    )
    messages: list[str] = []

    def body(s: Session) -> Any:
        return next(outputs, {"Status": "SUCCEEDED", "Result": '"finally"'})

    svc = LocalDurableService(invocation_retry=InvocationRetry(max_attempts=10))
    svc.register("f", raw_handler(body))
    result = svc.run("f")
    assert result.value == "finally"
    for e in events(svc, result.arn):
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]:
            payload = e["InvocationCompletedDetails"]["Error"]["Payload"]
            assert payload["ErrorType"] == "InvalidParameterValueException"
            messages.append(payload["ErrorMessage"])
    assert messages == [
        "Cannot provide a Result for FAILED status.",
        "Cannot return PENDING status with no pending operations.",
        "Invalid Status in durable execution output: 'DONE'.",
        "Cannot provide an Error for SUCCEEDED status.",
        "Invalid durable execution output: expected an object with a Status.",
    ]
    service.close()


def test_pending_is_valid_after_a_completion_during_the_invocation(service: LocalDurableService) -> None:
    box: dict[str, Any] = {}

    def body(s: Session) -> dict[str, Any]:
        cb = op_id(1)
        if cb not in s.ops:
            r = s.checkpoint({"Id": cb, "Type": "CALLBACK", "Action": "START"})
            callback_id = r["NewExecutionState"]["Operations"][0]["CallbackDetails"]["CallbackId"]
            service.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"ok")
            box["first"] = True
            return {"Status": "PENDING"}  # valid: something completed meanwhile, so it is re-invoked
        box["updated"] = s.event["UpdatedOperationIds"]
        return {"Status": "SUCCEEDED", "Result": '"' + s.ops[cb]["CallbackDetails"]["Result"] + '"'}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.value == "ok" and box["updated"] == [op_id(1)]


def test_paging_of_the_invocation_input_and_state() -> None:
    svc = LocalDurableService(limits=Limits(page_size=2))
    seen: dict[str, Any] = {}

    def body(s: Session) -> dict[str, Any]:
        if len(s.ops) == 1:
            for i in range(1, 6):
                s.checkpoint(step(op_id(i)), step(op_id(i), "SUCCEED", Payload=str(i)))
            s.checkpoint({"Id": op_id(6), "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}})
            return {"Status": "PENDING"}
        seen["pages"] = s.pages
        seen["first_page"] = len(s.event["InitialExecutionState"]["Operations"])
        seen["ids"] = list(s.ops)
        return {"Status": "SUCCEEDED"}

    svc.register("f", raw_handler(body))
    assert svc.run("f").succeeded
    assert seen["first_page"] == 2 and seen["pages"] == 4
    assert len(seen["ids"]) == 7 and seen["ids"][1:] == [op_id(i) for i in range(1, 7)]


def test_sdk_workflow_with_small_pages() -> None:
    svc = LocalDurableService(limits=Limits(page_size=3))

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        total = 0
        for i in range(10):
            total += yield ctx.step(lambda i=i: i, name=f"s{i}")
            if i % 4 == 0:
                yield ctx.wait(seconds=1)
        return total

    svc.register("wf", wf)
    result = svc.run("wf")
    assert result.value == 45
    assert svc.calls["GetDurableExecutionState"] > 5


def test_pages_are_bounded_by_payload_bytes_so_an_invocation_input_fits_lambda() -> None:
    """30 results of 200 KB (6 MB) do not fit one 6 MB invocation: the service pages them by bytes."""
    svc = LocalDurableService()
    big = "x" * 200_000
    sizes: list[int] = []

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        results = []
        for i in range(30):
            results.append((yield ctx.step(lambda: big, name=f"s{i}")))
        yield ctx.wait(seconds=1)
        return sum(len(r) for r in results)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sizes.append(len(json.dumps(event)))
        return wf(event, context)

    svc.register("wf", handler)
    assert svc.run("wf").value == 6_000_000
    assert len(sizes) == 2  # the first run, then the replay after the wait
    assert sizes[1] <= Limits().page_bytes + 100_000  # the first page: 5 MiB of payloads and small change
    assert svc.calls["GetDurableExecutionState"] >= 1  # the rest came as pages


def test_a_page_holds_at_least_one_operation_however_large() -> None:
    svc = LocalDurableService(limits=Limits(page_bytes=10))
    seen: dict[str, Any] = {}

    def body(s: Session) -> dict[str, Any]:
        if len(s.ops) == 1:
            for i in range(1, 4):
                s.checkpoint(step(op_id(i)), step(op_id(i), "SUCCEED", Payload=f'"{"é" * 20}"'))
            s.checkpoint({"Id": op_id(4), "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}})
            return {"Status": "PENDING"}
        seen["first_page"] = len(s.event["InitialExecutionState"]["Operations"])
        seen["pages"] = s.pages
        seen["ids"] = list(s.ops)
        return {"Status": "SUCCEEDED"}

    svc.register("f", raw_handler(body))
    assert svc.run("f").succeeded
    # EXECUTION (its input "{}" fits) then one step per page: each step's 42 UTF-8 bytes exceed the budget
    assert seen["first_page"] == 1 and seen["pages"] == 5
    assert seen["ids"][1:] == [op_id(i) for i in range(1, 5)]


def test_children_of_completed_contexts_are_not_replayed(service: LocalDurableService) -> None:
    ctx_id = op_id(1)
    seen: list[list[str]] = []

    def body(s: Session) -> dict[str, Any]:
        seen.append([op["Type"] for op in s.ops.values()])
        if len(s.ops) == 1:
            s.checkpoint(
                {"Id": ctx_id, "Type": "CONTEXT", "Action": "START"},
                step(op_id(1, ctx_id), ParentId=ctx_id),
                step(op_id(1, ctx_id), "SUCCEED", ParentId=ctx_id, Payload="1"),
                {"Id": ctx_id, "Type": "CONTEXT", "Action": "SUCCEED", "Payload": "1"},
                {"Id": op_id(2), "Type": "CONTEXT", "Action": "START"},
                step(op_id(1, op_id(2)), ParentId=op_id(2)),
                step(op_id(1, op_id(2)), "SUCCEED", ParentId=op_id(2), Payload="2"),
                {"Id": op_id(2), "Type": "CONTEXT", "Action": "SUCCEED", "ContextOptions": {"ReplayChildren": True}},
                {"Id": op_id(3), "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}},
            )
            return {"Status": "PENDING"}
        return {"Status": "SUCCEEDED"}

    service.register("f", raw_handler(body))
    assert service.run("f").succeeded
    # the first context's step is left out; the ReplayChildren context keeps its child
    assert seen[1] == ["EXECUTION", "CONTEXT", "CONTEXT", "STEP", "WAIT"]


def test_pending_after_progress_is_reinvoked_at_once(service: LocalDurableService) -> None:
    """A handler that stops early (e.g. near its deadline) with nothing pending gets a new invocation."""
    calls: list[int] = []

    def body(s: Session) -> dict[str, Any]:
        calls.append(len(s.ops))
        n = len(s.ops)
        if n < 4:
            s.checkpoint(step(op_id(n)), step(op_id(n), "SUCCEED", Payload=str(n)))
            return {"Status": "PENDING"}
        return {"Status": "SUCCEEDED", "Result": str(n)}

    service.register("f", raw_handler(body))
    result = service.run("f")
    assert result.value == 4 and calls == [1, 2, 3, 4]
    assert [e["EventType"] for e in events(service, result.arn)].count("InvocationCompleted") == 4


def test_with_on_non_determinism_retry_a_bad_deploy_can_be_rolled_back_without_losing_the_execution() -> None:
    svc = LocalDurableService(invocation_retry=InvocationRetry(max_attempts=20, initial_delay=1, max_delay=60))
    reserved: list[str] = []

    def reserve() -> str:
        reserved.append("r-1")
        return "r-1"

    @replayflow.durable(on_non_determinism="retry")
    def original(order: Any, ctx: Any) -> Any:
        reservation = yield ctx.step(reserve, name="reserve")
        yield ctx.wait(hours=1, name="cool-off")
        return f"shipped {reservation}"

    @replayflow.durable(on_non_determinism="retry")
    def changed(order: Any, ctx: Any) -> Any:  # the step was renamed: old executions cannot replay
        reservation = yield ctx.step(reserve, name="reserve-v2")
        yield ctx.wait(hours=1, name="cool-off")
        return f"shipped {reservation}"

    svc.register("orders", original)
    arn = svc.start_execution("orders", "{}")
    svc.advance(60)  # the first invocation reserved and is waiting
    svc.register("orders", changed)  # a bad deploy
    svc.advance(3600 + 30)  # the wait ends: the changed code's invocations fail and are retried
    assert svc.execution(arn).status == "RUNNING"
    svc.register("orders", original)  # the rollback
    assert svc.wait(arn).value == "shipped r-1"
    assert reserved == ["r-1"]  # nothing ran twice, nothing was lost
    failures = [
        e["InvocationCompletedDetails"]["Error"]["Payload"]
        for e in events(svc, arn)
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]
    assert len(failures) >= 3
    assert all("NonDeterminismError" in f["ErrorType"] and "named 'reserve'" in f["ErrorMessage"] for f in failures)

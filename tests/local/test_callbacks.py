"""Callbacks: ids, success/failure/heartbeat, timeouts, and the errors for unknown or closed ids."""

from __future__ import annotations

import re
from typing import Any

import pytest

import replayflow
from replayflow import ServiceError
from replayflow.local import LocalDurableService, VirtualClock

from .raw import Session, events, op_id, raw_handler

CB = op_id(1)


def callback_handler(timeout: int = 0, heartbeat: int = 0) -> Any:
    """Starts a callback, then answers with its outcome once it is no longer STARTED."""

    def body(s: Session) -> dict[str, Any]:
        if CB not in s.ops:
            options = {"TimeoutSeconds": timeout, "HeartbeatTimeoutSeconds": heartbeat}
            s.checkpoint(
                {
                    "Id": CB,
                    "Type": "CALLBACK",
                    "SubType": "Callback",
                    "Name": "approval",
                    "Action": "START",
                    "CallbackOptions": options,
                }
            )
        op = s.ops[CB]
        if op["Status"] == "STARTED":
            return {"Status": "PENDING"}
        details = op["CallbackDetails"]
        if op["Status"] == "SUCCEEDED":
            return {"Status": "SUCCEEDED", "Result": details.get("Result")}
        return {"Status": "FAILED", "Error": details["Error"]}

    return raw_handler(body)


@pytest.fixture
def manual() -> Any:
    """A service whose virtual clock only moves with advance()."""
    svc = LocalDurableService(clock=VirtualClock(start=1_800_000_000.0, autojump=False))
    yield svc
    svc.close()


def start(service: LocalDurableService, **options: Any) -> tuple[str, str]:
    service.register("cb", callback_handler(**options))
    arn = service.start_execution("cb", "{}")
    service.advance(0)
    started = events(service, arn)[1]
    assert started["EventType"] == "CallbackStarted"
    return arn, started["CallbackStartedDetails"]["CallbackId"]


def test_success_is_stored_verbatim_and_reinvokes(manual: LocalDurableService) -> None:
    arn, callback_id = start(manual)
    assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", callback_id) and len(callback_id) >= 32
    assert manual.execution(arn).status == "RUNNING"
    manual.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'{"status": "approved"}')
    manual.advance(0)
    result = manual.execution(arn)
    assert result.succeeded and result.result == '{"status": "approved"}'
    history = events(manual, arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "CallbackStarted",
        "InvocationCompleted",
        "CallbackSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert history[1]["Name"] == "approval" and history[1]["SubType"] == "Callback"
    assert history[3]["CallbackSucceededDetails"] == {
        "Result": {"Payload": '{"status": "approved"}', "Truncated": False}
    }
    # completing it again: the callback is closed
    with pytest.raises(ServiceError) as closed:
        manual.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"again")
    assert closed.value.code == "CallbackTimeoutException"


def test_success_without_result(manual: LocalDurableService) -> None:
    arn, callback_id = start(manual)
    manual.send_durable_execution_callback_success(CallbackId=callback_id)
    manual.advance(0)
    assert events(manual, arn)[3]["CallbackSucceededDetails"] == {"Result": {"Truncated": False}}
    assert manual.execution(arn).succeeded


def test_failure(manual: LocalDurableService) -> None:
    arn, callback_id = start(manual)
    error = {"ErrorType": "RejectedError", "ErrorMessage": "not approved"}
    manual.send_durable_execution_callback_failure(CallbackId=callback_id, Error=error)
    manual.advance(0)
    result = manual.execution(arn)
    assert result.status == "FAILED" and result.error == error
    history = events(manual, arn)
    assert history[3]["EventType"] == "CallbackFailed"
    assert history[3]["CallbackFailedDetails"]["Error"] == {"Payload": error, "Truncated": False}
    assert history[-1]["ExecutionFailedDetails"]["Error"]["Payload"] == error


def test_timeout(manual: LocalDurableService) -> None:
    arn, _ = start(manual, timeout=5)
    assert events(manual, arn)[1]["CallbackStartedDetails"]["Timeout"] == 5
    manual.advance(4.9)
    assert manual.execution(arn).status == "RUNNING"
    manual.advance(0.1)
    history = events(manual, arn)
    assert history[3]["EventType"] == "CallbackTimedOut"
    assert history[3]["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Timeout"
    assert manual.execution(arn).status == "FAILED"


def test_heartbeats_keep_it_alive_then_it_times_out(manual: LocalDurableService) -> None:
    arn, callback_id = start(manual, heartbeat=10)
    assert events(manual, arn)[1]["CallbackStartedDetails"]["HeartbeatTimeout"] == 10
    for _ in range(3):
        manual.advance(8)
        manual.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert manual.execution(arn).status == "RUNNING"
    assert [e["EventType"] for e in events(manual, arn)].count("CallbackTimedOut") == 0  # heartbeats record nothing
    manual.advance(10)
    history = events(manual, arn)
    assert history[3]["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Heartbeat"
    assert (history[3]["EventTimestamp"] - history[1]["EventTimestamp"]).total_seconds() == 34
    with pytest.raises(ServiceError) as closed:
        manual.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert closed.value.code == "CallbackTimeoutException"


def test_unknown_and_malformed_ids(manual: LocalDurableService) -> None:
    with pytest.raises(ServiceError) as unknown:
        manual.send_durable_execution_callback_success(CallbackId="QUJDREVGR0g=", Result=b"x")
    assert unknown.value.code == "CallbackTimeoutException" and unknown.value.status == 400
    for call in (
        lambda: manual.send_durable_execution_callback_failure(CallbackId="not/an:id!"),
        lambda: manual.send_durable_execution_callback_heartbeat(CallbackId=""),
    ):
        with pytest.raises(ServiceError) as bad:
            call()
        assert bad.value.code == "InvalidParameterValueException"


def test_result_limits_and_encoding(manual: LocalDurableService) -> None:
    _, callback_id = start(manual)
    with pytest.raises(ServiceError, match="UTF-8"):
        manual.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"\xff\xfe")
    with pytest.raises(ServiceError, match="at most 1048576"):
        manual.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"x" * (1024 * 1024 + 1))
    with pytest.raises(ServiceError, match="Error object size"):
        manual.send_durable_execution_callback_failure(CallbackId=callback_id, Error={"ErrorMessage": "x" * 40_000})


def test_callback_of_a_stopped_execution_is_closed(manual: LocalDurableService) -> None:
    arn, callback_id = start(manual)
    manual.stop_durable_execution(DurableExecutionArn=arn, Error={"ErrorMessage": "enough"})
    assert manual.execution(arn).status == "STOPPED"
    assert events(manual, arn)[-1]["ExecutionStoppedDetails"]["Error"]["Payload"] == {"ErrorMessage": "enough"}
    with pytest.raises(ServiceError) as closed:
        manual.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"late")
    assert closed.value.code == "CallbackTimeoutException"
    with pytest.raises(ServiceError, match="not running"):
        manual.stop_durable_execution(DurableExecutionArn=arn)


def test_completion_during_a_wait_reinvokes(manual: LocalDurableService) -> None:
    """4-9: a callback completed while the handler waits on a timer still gets its own invocation."""

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        callback = yield ctx.create_callback(name="cb")
        yield ctx.wait(seconds=5)
        return (yield callback.result())

    manual.register("wf", wf)
    arn = manual.start_execution("wf", "null")
    manual.advance(0)
    callback_id = events(manual, arn)[1]["CallbackStartedDetails"]["CallbackId"]
    manual.advance(1)
    manual.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"yes"')
    manual.advance(0)
    assert [e["EventType"] for e in events(manual, arn)][3:] == [
        "InvocationCompleted",
        "CallbackSucceeded",
        "InvocationCompleted",
    ]
    manual.advance(4)
    assert [e["EventType"] for e in events(manual, arn)] == [
        "ExecutionStarted",
        "CallbackStarted",
        "WaitStarted",
        "InvocationCompleted",
        "CallbackSucceeded",
        "InvocationCompleted",
        "WaitSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert manual.execution(arn).value == '"yes"'  # callbacks hand over the raw text by default


def test_completions_at_the_same_instant_are_coalesced(manual: LocalDurableService) -> None:
    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        yield ctx.create_callback(name="a", timeout=3)
        yield ctx.create_callback(name="b", timeout=3)
        yield ctx.wait(seconds=3)
        return "done"

    manual.register("wf", wf)
    arn = manual.start_execution("wf", "null")
    manual.advance(3)
    types = [e["EventType"] for e in events(manual, arn)]
    assert types == [
        "ExecutionStarted",
        "CallbackStarted",
        "CallbackStarted",
        "WaitStarted",
        "InvocationCompleted",
        "CallbackTimedOut",
        "CallbackTimedOut",
        "WaitSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]

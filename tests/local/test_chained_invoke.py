"""Chained invoke: durable targets (child executions), plain functions, unknown targets."""

from __future__ import annotations

import json
from typing import Any

import pytest

import replayflow
from replayflow.local import LocalDurableService

from .raw import events


@replayflow.durable
def echo(input: Any, ctx: Any) -> Any:
    value = yield ctx.step(lambda: input, name="echo")
    yield ctx.wait(seconds=3)
    return value


@replayflow.durable
def boom(input: Any, ctx: Any) -> Any:
    def fail() -> None:
        raise ValueError("target failed")

    return (yield ctx.step(fail, name="fail", retry=replayflow.RetryPresets.none()))


def upper(event: Any, context: Any) -> Any:
    return {"upper": event["text"].upper(), "request": context.aws_request_id}


def plain_fails(event: Any, context: Any) -> Any:
    raise KeyError("missing")


@replayflow.durable
def caller(input: Any, ctx: Any) -> Any:
    try:
        return (yield ctx.invoke(input["target"], input.get("payload"), name="call", tenant_id=input.get("tenant")))
    except replayflow.InvokeError as error:
        return {"error": error.error_type, "message": error.error_message}


@pytest.fixture
def svc(service: LocalDurableService) -> LocalDurableService:
    service.register("caller", caller)
    service.register("echo", echo)
    service.register("boom", boom)
    service.register("upper", upper, durable=False)
    service.register("plain-fails", plain_fails, durable=False)
    return service


def test_durable_target_is_a_child_execution(svc: LocalDurableService) -> None:
    result = svc.run("caller", {"target": "echo", "payload": "hi", "tenant": "t-1"})
    assert result.succeeded and result.value == "hi"
    history = events(svc, result.arn)
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "ChainedInvokeStarted",
        "InvocationCompleted",
        "ChainedInvokeSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    started = history[1]["ChainedInvokeStartedDetails"]
    assert started["FunctionName"] == "echo" and started["TenantId"] == "t-1"
    assert started["Input"] == {"Payload": '"hi"', "Truncated": False}
    assert started["ExecutedVersion"] == "$LATEST"
    child = started["DurableExecutionArn"]
    assert ":function:echo:$LATEST/durable-execution/" in child
    assert history[3]["ChainedInvokeSucceededDetails"]["Result"]["Payload"] == '"hi"'
    assert history[1]["Name"] == "call" and history[3]["Id"] == history[1]["Id"]
    child_history = [e["EventType"] for e in events(svc, child)]
    assert child_history[0] == "ExecutionStarted" and child_history[-1] == "ExecutionSucceeded"
    assert "WaitSucceeded" in child_history
    assert svc.get_durable_execution(DurableExecutionArn=child)["Status"] == "SUCCEEDED"


def test_failing_durable_target(svc: LocalDurableService) -> None:
    result = svc.run("caller", {"target": "boom"})
    assert result.value["message"] == "target failed"
    failed = events(svc, result.arn)[3]
    assert failed["EventType"] == "ChainedInvokeFailed"
    assert failed["ChainedInvokeFailedDetails"]["Error"]["Payload"]["ErrorMessage"] == "target failed"


def test_plain_function_target(svc: LocalDurableService) -> None:
    result = svc.run("caller", {"target": "upper", "payload": {"text": "abc"}})
    assert result.succeeded and result.value["upper"] == "ABC"
    history = events(svc, result.arn)
    assert [e["EventType"] for e in history][1:4] == [
        "ChainedInvokeStarted",
        "InvocationCompleted",
        "ChainedInvokeSucceeded",
    ]
    assert "DurableExecutionArn" not in history[1]["ChainedInvokeStartedDetails"]  # no durable execution behind it
    assert json.loads(history[3]["ChainedInvokeSucceededDetails"]["Result"]["Payload"])["upper"] == "ABC"


def test_failing_plain_function(svc: LocalDurableService) -> None:
    result = svc.run("caller", {"target": "plain-fails", "payload": {}})
    assert result.value == {"error": "KeyError", "message": "'missing'"}


def test_unknown_target_fails_at_once(svc: LocalDurableService) -> None:
    result = svc.run("caller", {"target": "arn:aws:lambda:us-east-1:123456789012:function:nowhere:$LATEST"})
    assert result.value["error"] == "ResourceNotFoundException"
    history = events(svc, result.arn)
    # failed in the same invocation: the handler saw it in its checkpoint response
    assert [e["EventType"] for e in history] == [
        "ExecutionStarted",
        "ChainedInvokeStarted",
        "ChainedInvokeFailed",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]


def test_target_by_arn_and_qualifier(svc: LocalDurableService) -> None:
    assert svc.run("caller", {"target": "echo:$LATEST", "payload": 1}).value == 1
    assert svc.run("caller", {"target": "arn:aws:lambda:us-east-1:123456789012:function:echo", "payload": 2}).value == 2


def test_stopping_the_child_stops_the_parents_operation(svc: LocalDurableService) -> None:
    arn = svc.start_execution("caller", json.dumps({"target": "echo", "payload": "x"}))
    svc.advance(0)
    child = events(svc, arn)[1]["ChainedInvokeStartedDetails"]["DurableExecutionArn"]
    svc.stop_durable_execution(DurableExecutionArn=child, Error={"ErrorType": "Stop", "ErrorMessage": "no"})
    result = svc.wait(arn)
    assert result.value == {"error": "Stop", "message": "no"}
    assert events(svc, arn)[3]["EventType"] == "ChainedInvokeStopped"


def test_list_executions(svc: LocalDurableService) -> None:
    first = svc.run("caller", {"target": "echo", "payload": 1}, name="one")
    svc.run("caller", {"target": "boom"}, name="two")
    listed = svc.list_durable_executions_by_function(FunctionName="caller")["DurableExecutions"]
    assert [e["DurableExecutionName"] for e in listed] == ["two", "one"]  # newest first
    oldest_first = svc.list_durable_executions_by_function(FunctionName="caller", ReverseOrder=True, MaxItems=1)
    assert [e["DurableExecutionName"] for e in oldest_first["DurableExecutions"]] == ["one"]
    assert oldest_first["NextMarker"]
    by_name = svc.list_durable_executions_by_function(FunctionName="caller", DurableExecutionName="one")
    assert [e["DurableExecutionArn"] for e in by_name["DurableExecutions"]] == [first.arn]
    assert (
        svc.list_durable_executions_by_function(FunctionName="caller", Statuses=["FAILED"])["DurableExecutions"] == []
    )
    assert len(svc.list_durable_executions_by_function(FunctionName="echo")["DurableExecutions"]) == 1


def test_execution_names_are_idempotent(svc: LocalDurableService) -> None:
    a = svc.start_execution("echo", '"x"', name="same")
    assert svc.start_execution("echo", '"x"', name="same") == a
    with pytest.raises(replayflow.ServiceError) as error:
        svc.start_execution("echo", '"y"', name="same")
    assert error.value.code == "DurableExecutionAlreadyStartedException" and error.value.status == 409


def test_invoke_api(svc: LocalDurableService) -> None:
    response = svc.invoke(FunctionName="echo", Payload=b'"hey"', DurableExecutionName="inv")
    assert response["StatusCode"] == 200 and response["Payload"] == b'"hey"'
    assert response["DurableExecutionArn"].endswith(
        "/durable-execution/inv/" + response["DurableExecutionArn"].rsplit("/", 1)[1]
    )
    failed = svc.invoke(FunctionName="boom", Payload=b"null")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"])["errorMessage"] == "target failed"
    queued = svc.invoke(FunctionName="echo", Payload=b"1", InvocationType="Event")
    assert queued["StatusCode"] == 202 and svc.execution(queued["DurableExecutionArn"]).status == "RUNNING"
    assert svc.invoke(FunctionName="upper", Payload=b'{"text": "q"}')["Payload"].startswith(b'{"upper": "Q"')
    with pytest.raises(replayflow.ServiceError) as missing:
        svc.invoke(FunctionName="nope")
    assert missing.value.code == "ResourceNotFoundException"

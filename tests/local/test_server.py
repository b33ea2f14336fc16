"""The HTTP face, driven by a real boto3 ``lambda`` client over a real socket on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import replayflow
from replayflow.local import LocalDurableService, LocalHttpServer, RealClock, serve


@replayflow.durable
def greet(input: Any, ctx: Any) -> Any:
    name = yield ctx.step(str.title, input["name"], name="title")
    for i in range(3):
        yield ctx.step(lambda i=i: i, name=f"count-{i}")
    return f"Hello, {name}!"


@replayflow.durable
def approval(input: Any, ctx: Any) -> Any:
    callback = yield ctx.create_callback(name="approve")
    return json.loads((yield callback.result()))


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    service = LocalDurableService(clock=RealClock())
    service.register("greet", greet)
    service.register("approval", approval)
    with serve(service) as running:
        yield running
    service.close()


def client(server: LocalHttpServer) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def wait_status(lam: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = lam.get_durable_execution(DurableExecutionArn=arn)
        if described["Status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def test_invoke_describe_history_and_list(server: LocalHttpServer) -> None:
    assert server.port > 0 and server.url.startswith("http://127.0.0.1:")
    lam = client(server)
    response = lam.invoke(FunctionName="greet", Payload=json.dumps({"name": "ada"}), DurableExecutionName="first")
    assert response["StatusCode"] == 200 and json.loads(response["Payload"].read()) == "Hello, Ada!"
    arn = response["DurableExecutionArn"]
    assert "/durable-execution/first/" in arn and response["ExecutedVersion"] == "$LATEST"
    described = lam.get_durable_execution(DurableExecutionArn=arn)
    assert described["Status"] == "SUCCEEDED" and described["Result"] == '"Hello, Ada!"'
    assert described["EndTimestamp"] >= described["StartTimestamp"]
    events, marker = [], None
    while True:
        page = lam.get_durable_execution_history(
            DurableExecutionArn=arn, MaxItems=3, **({"Marker": marker} if marker else {})
        )
        events += page["Events"]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
    assert [e["EventType"] for e in events][:3] == ["ExecutionStarted", "StepStarted", "StepSucceeded"]
    assert events[2]["StepSucceededDetails"]["Result"] == {"Payload": '"Ada"', "Truncated": False}
    assert events[-1]["EventType"] == "ExecutionSucceeded"
    queued = lam.invoke(FunctionName="greet", InvocationType="Event", Payload=b'{"name": "bob"}')
    assert queued["StatusCode"] == 202
    assert wait_status(lam, queued["DurableExecutionArn"])["Status"] == "SUCCEEDED"
    listed = lam.list_durable_executions_by_function(FunctionName="greet", Statuses=["SUCCEEDED"])
    assert {e["DurableExecutionArn"] for e in listed["DurableExecutions"]} == {arn, queued["DurableExecutionArn"]}
    after = lam.list_durable_executions_by_function(FunctionName="greet", StartedAfter=described["StartTimestamp"])
    assert [e["DurableExecutionArn"] for e in after["DurableExecutions"]] == [queued["DurableExecutionArn"]]


def test_callbacks_and_stop_over_http(server: LocalHttpServer) -> None:
    lam = client(server)
    arn = lam.invoke(FunctionName="approval", InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    deadline = time.monotonic() + 60  # bounds a hang only
    while True:
        events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        started = [e for e in events if e["EventType"] == "CallbackStarted"]
        if started or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    callback_id = started[0]["CallbackStartedDetails"]["CallbackId"]
    lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=json.dumps({"ok": True}).encode())
    assert wait_status(lam, arn)["Result"] == '{"ok":true}'
    with pytest.raises(ClientError) as closed:
        lam.send_durable_execution_callback_failure(CallbackId=callback_id, Error={"ErrorMessage": "late"})
    assert closed.value.response["Error"]["Code"] == "CallbackTimeoutException"
    assert closed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    second = lam.invoke(FunctionName="approval", InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    stopped = lam.stop_durable_execution(
        DurableExecutionArn=second, Error={"ErrorType": "Halt", "ErrorMessage": "stop"}
    )
    assert stopped["StopTimestamp"]
    described = wait_status(lam, second)
    assert described["Status"] == "STOPPED" and described["Error"] == {"ErrorType": "Halt", "ErrorMessage": "stop"}
    with pytest.raises(ClientError) as missing:
        lam.get_durable_execution(DurableExecutionArn=second + "0")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as unknown:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_raw_handler_checkpoints_through_boto3(server: LocalHttpServer) -> None:
    lam = client(server)
    seen: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
        oid = "a" * 64
        response = lam.checkpoint_durable_execution(
            DurableExecutionArn=arn,
            CheckpointToken=token,
            Updates=[
                {"Id": oid, "Type": "STEP", "Action": "START", "SubType": "Step"},
                {"Id": oid, "Type": "STEP", "Action": "SUCCEED", "SubType": "Step", "Payload": "1"},
            ],
        )
        op = response["NewExecutionState"]["Operations"][0]
        seen["op"] = op
        state = lam.get_durable_execution_state(DurableExecutionArn=arn, CheckpointToken=response["CheckpointToken"])
        seen["state"] = [o["Type"] for o in state["Operations"]]
        try:
            lam.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token, Updates=[])
        except ClientError as error:
            seen["stale"] = error.response["Error"]
        return {"Status": "SUCCEEDED", "Result": "1"}

    server.service.register("raw", handler)
    assert json.loads(lam.invoke(FunctionName="raw", Payload=b"{}")["Payload"].read()) == 1
    assert seen["op"]["Status"] == "SUCCEEDED" and seen["op"]["StepDetails"]["Result"] == "1"
    assert seen["op"]["StartTimestamp"].year >= 2024  # epoch seconds on the wire, datetimes in boto3
    assert seen["state"] == ["EXECUTION", "STEP"]
    assert seen["stale"]["Code"] == "InvalidParameterValueException"
    assert seen["stale"]["Message"].startswith("Invalid checkpoint token")


def test_the_sdk_aws_transport_over_http(server: LocalHttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    transport = replayflow.AwsTransport(endpoint_url=server.url, region_name="us-east-1")

    @replayflow.durable(transport=transport)
    def over_http(input: Any, ctx: Any) -> Any:
        a = yield ctx.step(lambda: 20, name="a")
        yield ctx.wait(seconds=1)
        b = yield ctx.step(lambda: 22, name="b")
        return a + b

    server.service.register("over-http", over_http)
    lam = client(server)
    response = lam.invoke(FunctionName="over-http", Payload=b"{}")
    assert json.loads(response["Payload"].read()) == 42
    checkpoints_before = server.service.calls["CheckpointDurableExecution"]
    assert checkpoints_before >= 2

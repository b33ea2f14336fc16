"""AWS's own durable execution emulator (dex-local-runner) runs a replayflow workflow end to end.

The emulator invokes our handler through a Lambda Invoke endpoint (replayflow's LambdaInvokeServer) and
our handler checkpoints back to the emulator over real HTTP with boto3 (AwsTransport). The emulator's
recorded history must show the operations the workflow performed, retries and waits included.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import boto3
import orjson
import pytest

import replayflow
from benchmarks.http import CREDENTIALS, EmulatorDidNotStart, dex_local_runner, find_runner
from replayflow import AwsTransport, RetryPresets
from replayflow.local import LambdaInvokeServer
from tests.ports import free_port

pytestmark = pytest.mark.slow

#: seconds that bound a hang only (the emulator's execution timeout, the test's polling); a run takes about
#: a second. The emulator runs through benchmarks.dex_runner, which fixes its race that hung 4-6 runs in 25
#: under load (a wake-up cancelled after it ended a wait, before it invoked the function; see its docstring).
_HANG = 120


def greet(name: str) -> str:
    return f"hello {name}"


def flaky(name: str) -> str:
    if replayflow.step_context().attempt < 2:
        raise ConnectionError("warehouse API is down")
    return f"{name} packed"


def interop(order: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    greeting = yield ctx.step(greet, order["name"], name="greet")
    packed = yield ctx.step(flaky, order["name"], name="pack", retry=RetryPresets.fixed(1, max_attempts=3))
    yield ctx.wait(seconds=5, name="cool-off")
    return {"greeting": greeting, "packed": packed}


@pytest.fixture
def emulator(monkeypatch):
    if find_runner() is None:
        pytest.fail("dex-local-runner is not installed: pip install -e '.[test]'")
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with LambdaInvokeServer({}) as lambdas:  # bound first, so the port picked below cannot be its port
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        transport = AwsTransport(endpoint_url=url, region_name="us-west-2")
        lambdas.handlers["interop"] = replayflow.durable(interop, transport=transport)
        try:
            with dex_local_runner(port, lambdas.url, invocation_timeout=120, skip_time=True):
                yield url, lambdas
        except EmulatorDidNotStart as error:  # say what it printed
            pytest.fail(str(error))


def test_the_aws_emulator_runs_a_replayflow_workflow(emulator):
    url, lambdas = emulator
    start = urllib.request.Request(
        f"{url}/start-durable-execution",
        data=orjson.dumps(
            {
                "AccountId": "123456789012",
                "FunctionName": "interop",
                "FunctionQualifier": "$LATEST",
                "ExecutionName": "interop-run",
                "ExecutionTimeoutSeconds": _HANG,
                "ExecutionRetentionPeriodDays": 1,
                "Input": orjson.dumps({"name": "ada"}).decode(),
            }
        ),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    arn = orjson.loads(urllib.request.urlopen(start, timeout=10).read())["ExecutionArn"]
    client = boto3.client("lambda", endpoint_url=url, region_name="us-west-2")
    deadline = time.monotonic() + _HANG  # bounds a hang only: a loaded 2-core machine may take a while
    while (execution := client.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
        if time.monotonic() > deadline:
            events = client.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)
            pytest.fail(f"the execution did not finish; invocations {lambdas.invocations!r}; history {events!r}")
        time.sleep(0.2)
    events = client.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]
    assert execution["Status"] == "SUCCEEDED", (execution, lambdas.invocations, events)
    assert orjson.loads(execution["Result"]) == {"greeting": "hello ada", "packed": "ada packed"}

    seen = [(e["EventType"], e.get("Name")) for e in events if e["EventType"] != "InvocationCompleted"]
    assert seen == [
        ("ExecutionStarted", "interop-run"),
        ("StepStarted", "greet"),
        ("StepSucceeded", "greet"),
        ("StepStarted", "pack"),
        ("StepFailed", "pack"),
        ("StepStarted", "pack"),
        ("StepSucceeded", "pack"),
        ("WaitStarted", "cool-off"),
        ("WaitSucceeded", "cool-off"),
        ("ExecutionSucceeded", "interop-run"),
    ], seen
    failed = next(e for e in events if e["EventType"] == "StepFailed")
    assert failed["StepFailedDetails"]["Error"]["Payload"]["ErrorType"] == "ConnectionError"
    assert len(lambdas.invocations) >= 3  # first run, after the retry delay, after the wait


# -- migrating running executions between the official SDK and replayflow, on AWS's emulator ---------------


class Redeployed:
    """A function redeployed between invocations: its first ``switch_after`` invocations run ``before``."""

    def __init__(self, before: Any, after: Any, switch_after: int) -> None:
        self.handlers = (before, after)
        self.switch_after = switch_after
        self.by = [0, 0]
        self.returned = 0

    def __call__(self, event: Any, context: Any) -> Any:
        version = 0 if sum(self.by) < self.switch_after else 1
        self.by[version] += 1
        try:
            return self.handlers[version](event, context)
        finally:
            self.returned += 1

    def idle(self) -> bool:
        """No invocation is running."""
        return self.returned == sum(self.by)


def _start(url: str, function: str, name: str, payload: str) -> str:
    request = urllib.request.Request(
        f"{url}/start-durable-execution",
        data=orjson.dumps(
            {
                "AccountId": "123456789012",
                "FunctionName": function,
                "FunctionQualifier": "$LATEST",
                "ExecutionName": name,
                "ExecutionTimeoutSeconds": _HANG,
                "ExecutionRetentionPeriodDays": 1,
                "Input": payload,
            }
        ),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    return str(orjson.loads(urllib.request.urlopen(request, timeout=10).read())["ExecutionArn"])


@pytest.mark.parametrize(
    ("first", "at"),
    [("official", "wait"), ("official", "callback"), ("replayflow", "wait"), ("replayflow", "callback")],
)
def test_an_execution_moves_between_the_official_sdk_and_replayflow_on_the_emulator(emulator, first, at):
    from aws_durable_execution_sdk_python import durable_execution

    from .migration import EXPECTED, official_workflow, replayflow_workflow

    url, lambdas = emulator
    client = boto3.client("lambda", endpoint_url=url, region_name="us-west-2")
    submitted: list[str] = []
    official = durable_execution(official_workflow(submitted), boto3_client=client)
    # continuing the official SDK's execution needs no option (replayflow reads its envelopes); for the
    # official SDK to continue replayflow's, replayflow writes the official format
    ours = replayflow.durable(
        replayflow_workflow(submitted),
        transport=AwsTransport(endpoint_url=url, region_name="us-west-2"),
        serdes=None if first == "official" else replayflow.OFFICIAL_FORMAT,
    )
    before, after = (official, ours) if first == "official" else (ours, official)
    # invocation 1 ends suspended on the wait; invocation 2 (the emulator skips time) on the callback
    function = Redeployed(before, after, switch_after=1 if at == "wait" else 2)
    lambdas.handlers["orders"] = function
    arn = _start(url, "orders", f"migrate-{first}-{at}", '"ada"')
    deadline = time.monotonic() + _HANG  # bounds a hang only: a loaded 2-core machine may take a while
    while not (submitted and function.idle()):  # suspended: the invocation that created the callback ended
        assert time.monotonic() < deadline, f"no callback was created; invocations {function.by}"
        time.sleep(0.1)
    assert function.by[0] == (1 if at == "wait" else 2)  # the first version ran up to the suspension
    client.send_durable_execution_callback_success(CallbackId=submitted[0], Result=b'"approved"')
    while (execution := client.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
        assert time.monotonic() < deadline, f"the execution did not finish; invocations {function.by}"
        time.sleep(0.2)
    assert execution["Status"] == "SUCCEEDED", execution
    assert orjson.loads(execution["Result"]) == EXPECTED
    assert function.by[1] >= 1  # the redeployed version finished it
    events = client.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)["Events"]
    order = next(e for e in events if e["EventType"] == "StepSucceeded" and e["Name"] == "order")
    assert order["StepSucceededDetails"]["Result"]["Payload"].startswith('{"t":"m","v":{"id":{"t":"s","v":"ada"}')

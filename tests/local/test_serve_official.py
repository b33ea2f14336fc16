"""``replayflow serve`` hosts workflows written with AWS's own SDK, as a shell runs it.

The official SDK's handlers run in ``serve``'s worker processes and checkpoint through their own boto3
client over the HTTP face; the test drives them with its own boto3 client: it starts the execution, answers the
callback through the API, and reads the results and histories back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

pytest.importorskip("aws_durable_execution_sdk_python")

from replayflow.local import LocalDurableService, OfficialSdkInvoker, is_official_handler
from tests.ports import free_port

from . import official_workflows

SPECS = ["tests.local.official_workflows:order", "tests.local.official_workflows:charge"]


def start_serve(*extra: str, where: str = "in worker processes") -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "serve", *SPECS, "--port", str(port), "--virtual-time", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = [process.stdout.readline() for _ in range(4)]
    assert banner[0].startswith("replayflow: serving the local durable service on http://127.0.0.1:"), banner
    assert banner[1].startswith(f"  console  http://127.0.0.1:{port}/"), banner
    assert f"order  (tests.local.official_workflows:order, official SDK, {where})" in banner[2]
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=20)
    return err


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process, url = start_serve()
    try:
        yield process, url
    finally:
        if process.poll() is None:
            stop(process)


def client(url: str) -> Any:
    return boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def poll(read: Any, done: Any, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout  # bounds a hang only
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last {value!r}"
        time.sleep(0.05)


def history(lam: Any, arn: str) -> list[dict[str, Any]]:
    return list(lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"])


def test_official_sdk_workflows_on_replayflow_serve(served: tuple[subprocess.Popen[str], str]) -> None:
    process, url = served
    lam = client(url)
    arn = lam.invoke(
        FunctionName="order", InvocationType="Event", Payload=json.dumps({"name": "ada"}), DurableExecutionName="o1"
    )["DurableExecutionArn"]
    # the external system answers once the submitter has sent it the id (its step is checkpointed); answering
    # on CallbackStarted alone would race the submitter step's events
    submitted = poll(lambda: history(lam, arn), lambda events: any(_submitted(e) for e in events))
    started = [e for e in submitted if e["EventType"] == "CallbackStarted"]
    lam.send_durable_execution_callback_success(
        CallbackId=started[0]["CallbackStartedDetails"]["CallbackId"], Result=b'"yes"'
    )
    described = poll(lambda: lam.get_durable_execution(DurableExecutionArn=arn), lambda d: d["Status"] != "RUNNING")
    assert described["Status"] == "SUCCEEDED", described
    assert json.loads(described["Result"]) == {
        "greeting": "hello ada",
        "packed": "ada packed (attempt 2)",
        "approval": '"yes"',
        "doubled": [2, 4, 6],
        "pair": ["left", "right"],
        "inner": 42,
        "charged": {"charged": 5},
    }

    events = history(lam, arn)
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
    seen = [
        (e["EventType"], e.get("SubType"), e.get("Name")) for e in events if e["EventType"] != "InvocationCompleted"
    ]
    assert seen == [
        ("ExecutionStarted", None, "o1"),
        ("StepStarted", "Step", "greet"),
        ("StepSucceeded", "Step", "greet"),
        ("StepStarted", "Step", "pack"),
        ("StepFailed", "Step", "pack"),
        ("StepStarted", "Step", "pack"),
        ("StepSucceeded", "Step", "pack"),
        ("WaitStarted", "Wait", "cool-off"),
        ("WaitSucceeded", "Wait", "cool-off"),
        ("ContextStarted", "WaitForCallback", "approve"),
        ("CallbackStarted", "Callback", "approve create callback id"),
        ("StepStarted", "Step", "approve submitter"),
        ("StepSucceeded", "Step", "approve submitter"),
        ("CallbackSucceeded", "Callback", "approve create callback id"),
        ("ContextSucceeded", "WaitForCallback", "approve"),
        ("ContextStarted", "Map", "double"),
        *[(kind, "MapIteration", f"map-item-{i}") for i in range(3) for kind in ("ContextStarted", "ContextSucceeded")],
        ("ContextSucceeded", "Map", "double"),
        ("ContextStarted", "Parallel", "pair"),
        *[
            (kind, "ParallelBranch", f"parallel-branch-{i}")
            for i in range(2)
            for kind in ("ContextStarted", "ContextSucceeded")
        ],
        ("ContextSucceeded", "Parallel", "pair"),
        ("ContextStarted", "RunInChildContext", "nest"),
        ("StepStarted", "Step", "inner"),
        ("StepSucceeded", "Step", "inner"),
        ("ContextSucceeded", "RunInChildContext", "nest"),
        ("ChainedInvokeStarted", "ChainedInvoke", "charge"),
        ("ChainedInvokeSucceeded", "ChainedInvoke", "charge"),
        ("ExecutionSucceeded", None, "o1"),
    ]
    failed = next(e for e in events if e["EventType"] == "StepFailed")["StepFailedDetails"]
    assert failed["Error"]["Payload"] == {"ErrorType": "ConnectionError", "ErrorMessage": "warehouse API is down"}
    assert failed["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 1}
    by_id = {e["Id"]: e for e in events if e["EventType"] == "ContextStarted"}
    inner = next(e for e in events if e.get("Name") == "inner")
    assert by_id[inner["ParentId"]]["Name"] == "nest"
    assert all(by_id[e["ParentId"]]["Name"] == "double" for e in events if e.get("SubType") == "MapIteration")

    chained = next(e for e in events if e["EventType"] == "ChainedInvokeStarted")["ChainedInvokeStartedDetails"]
    child = [(e["EventType"], e.get("Name")) for e in history(lam, chained["DurableExecutionArn"])]
    assert [kind for kind in child if kind[0] != "InvocationCompleted"] == [
        ("ExecutionStarted", chained["DurableExecutionArn"].split("/")[-2]),
        ("StepStarted", "charge-card"),
        ("StepSucceeded", "charge-card"),
        ("ExecutionSucceeded", chained["DurableExecutionArn"].split("/")[-2]),
    ]

    log = [line.split(" ")[1:4] for line in stop(process).splitlines() if line.endswith(" ms")]
    assert ["POST", "Invoke", "202"] in log
    assert ["POST", "SendDurableExecutionCallbackSuccess", "200"] in log
    assert ["POST", "CheckpointDurableExecution", "200"] in log  # the SDK's own client checkpointed over HTTP
    assert all(status.isdigit() for _, _, status in log)


def test_quiet_serve_logs_no_requests_with_official_handlers_in_process() -> None:
    process, url = start_serve("--quiet", "--in-process", where="in this process")
    try:
        out = client(url).invoke(FunctionName="charge", Payload=json.dumps({"amount": 3}))
        assert json.loads(out["Payload"].read()) == {"charged": 3}
    finally:
        err = stop(process)
    assert not [line for line in err.splitlines() if line.endswith(" ms")], err


def test_an_official_handler_registered_in_code_is_detected() -> None:
    assert is_official_handler(official_workflows.order)
    assert not is_official_handler(official_workflows.pack) and not is_official_handler(len)
    service = LocalDurableService()
    service.register("charge", official_workflows.charge)  # no invoker given: detected
    assert isinstance(service._engine.functions["charge"].invoker, OfficialSdkInvoker)
    result = service.run("charge", {"amount": 7})
    assert result.status == "SUCCEEDED" and json.loads(result.result or "null") == {"charged": 7}
    assert service.calls["CheckpointDurableExecution"] >= 1  # straight to the service, no HTTP
    service.close()


def _submitted(event: dict[str, Any]) -> bool:
    return event["EventType"] == "StepSucceeded" and event.get("Name") == "approve submitter"

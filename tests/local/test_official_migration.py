"""Running executions move between the official AWS SDK and replayflow on the local service, both ways.

An execution is started by one SDK, suspended on a wait or on a callback, and the function is redeployed
with the same workflow written with the other SDK, which continues the execution to the correct result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import replayflow
from replayflow.local import LocalDurableService, VirtualClock
from tests.interop.migration import EXPECTED, OfficialInvoker, official_workflow, replayflow_workflow

from .raw import events


class Counted:
    """A replayflow handler that counts its invocations."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.invocations = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.invocations += 1
        return self.handler(event, context)


def step_payloads(svc: LocalDurableService, arn: str) -> dict[str, str]:
    """``name -> result payload`` of every succeeded step and context."""
    out = {}
    for e in events(svc, arn):
        for key in ("StepSucceededDetails", "ContextSucceededDetails"):
            if key in e:
                out[e["Name"]] = e[key]["Result"]["Payload"]
    return out


def suspend(svc: LocalDurableService, arn: str, at: str) -> None:
    """Drive the execution until it waits on ``at`` ("wait" or "callback")."""
    svc.advance(0)
    kinds = [e["EventType"] for e in events(svc, arn)]
    assert kinds[-2:] == ["WaitStarted", "InvocationCompleted"], kinds
    if at == "callback":
        svc.advance(10)
        kinds = [e["EventType"] for e in events(svc, arn)]
        assert "CallbackStarted" in kinds and kinds[-1] == "InvocationCompleted", kinds
    assert svc.execution(arn).status == "RUNNING"


def finish(svc: LocalDurableService, arn: str, at: str, submitted: list[str]) -> Any:
    if at == "wait":
        svc.advance(10)
    assert len(submitted) == 1, submitted
    svc.send_durable_execution_callback_success(CallbackId=submitted[0], Result=b'"approved"')
    svc.advance(0)
    result = svc.execution(arn)
    assert result.status == "SUCCEEDED", result.error
    return result.value


@pytest.mark.parametrize("at", ["wait", "callback"])
def test_replayflow_continues_an_execution_the_official_sdk_started(at: str) -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    submitted: list[str] = []
    official = OfficialInvoker(official_workflow(submitted))
    svc.register("orders", lambda event, context: None, invoker=official)
    arn = svc.start_execution("orders", '"ada"')
    suspend(svc, arn, at)
    recorded = step_payloads(svc, arn)
    assert recorded["order"].startswith('{"t":"m","v":{"id":{"t":"s","v":"ada"},"total":{"t":"d","v":"12.50"}')
    assert recorded["price-each"].startswith('{"t":"br","v":{"all":{"t":"l"')

    ours = Counted(replayflow.durable(replayflow_workflow(submitted)))  # replayflow's defaults read envelopes
    svc.register("orders", ours)
    assert finish(svc, arn, at, submitted) == EXPECTED
    assert ours.invocations >= 1 and official.invocations >= 1
    assert step_payloads(svc, arn)["settle"] == orjson.dumps(EXPECTED).decode()  # written as plain JSON


@pytest.mark.parametrize("at", ["wait", "callback"])
def test_the_official_sdk_continues_an_execution_replayflow_started(at: str) -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    submitted: list[str] = []
    ours = Counted(replayflow.durable(replayflow_workflow(submitted), serdes=replayflow.OFFICIAL_FORMAT))
    svc.register("orders", ours)
    arn = svc.start_execution("orders", '"ada"')
    suspend(svc, arn, at)
    recorded = step_payloads(svc, arn)
    assert recorded["order"].startswith('{"t":"m","v":{"id":{"t":"s","v":"ada"},"total":{"t":"d","v":"12.50"}')
    assert recorded["facts"].startswith('{"t":"br","v":{"all":{"t":"l"')

    official = OfficialInvoker(official_workflow(submitted))
    svc.register("orders", lambda event, context: None, invoker=official)
    assert finish(svc, arn, at, submitted) == EXPECTED
    assert ours.invocations >= 1 and official.invocations >= 1


def test_both_sdks_record_the_same_payloads_for_the_same_workflow() -> None:
    recorded = []
    for sdk in ("official", "replayflow"):
        svc = LocalDurableService(clock=VirtualClock(autojump=False))
        submitted: list[str] = []
        if sdk == "official":
            svc.register("orders", lambda event, context: None, invoker=OfficialInvoker(official_workflow(submitted)))
        else:
            svc.register(
                "orders", replayflow.durable(replayflow_workflow(submitted), serdes=replayflow.OFFICIAL_FORMAT)
            )
        arn = svc.start_execution("orders", '"ada"')
        suspend(svc, arn, "callback")
        assert finish(svc, arn, "callback", submitted) == EXPECTED
        recorded.append(step_payloads(svc, arn))
    official, ours = recorded
    assert ours == official


def dump_history(svc: LocalDurableService, arn: str, path: Path) -> Path:
    page = svc.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True, MaxItems=1000)
    path.write_text(json.dumps({"Events": page["Events"]}, default=str))
    return path


def replay_cli(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "replayflow", "replay", *args], cwd=root, capture_output=True, text=True, check=False
    )


def test_replayflow_replay_reads_a_history_the_official_sdk_recorded(tmp_path: Path) -> None:
    svc = LocalDurableService(clock=VirtualClock(autojump=False))
    submitted: list[str] = []
    svc.register("orders", lambda event, context: None, invoker=OfficialInvoker(official_workflow(submitted)))
    arn = svc.start_execution("orders", '"ada"')
    suspend(svc, arn, "callback")
    history = dump_history(svc, arn, tmp_path / "official.json")

    plain = replay_cli(str(history), "tests.interop.migration:order_workflow")
    assert (plain.returncode, plain.stderr) == (0, "")
    lines = plain.stdout.splitlines()
    assert lines[1].startswith("  OK: the code follows the history; it is waiting on ")
    assert lines[2] == "  payloads: the official SDK's envelopes (10 results); read as the official SDK reads them"
    assert lines[3].startswith("  note: this code writes new results as plain JSON")

    official = replay_cli("--json", str(history), "tests.interop.migration:order_workflow_official_format")
    assert official.returncode == 0, official.stdout + official.stderr
    report = json.loads(official.stdout)
    assert (report["compatible"], report["payloadFormat"]) == (True, "official")

    # an envelope the official SDK could not read either: the replay stops at that step, named
    data = json.loads(history.read_text())
    for event in data["Events"]:
        if event.get("Name") == "prices" and "StepSucceededDetails" in event:
            event["StepSucceededDetails"]["Result"]["Payload"] = '{"t":"l","v":[{"t":"d","v":"1.2.3"}]}'
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    result = replay_cli(str(broken), "tests.interop.migration:order_workflow")
    assert result.returncode == 1
    assert "INCOMPATIBLE: cannot read the recorded result of step 'prices'" in result.stdout
    assert "malformed envelope {'t': 'd', 'v': '1.2.3'}: InvalidOperation" in result.stdout

"""The subprocess invoker: handlers in worker processes; a process exit is a Runtime.ExitError."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from replayflow.local import InvocationRetry, LocalDurableService, SubprocessInvoker

from .raw import events
from .workers import crashes_once


@pytest.fixture
def svc() -> Iterator[LocalDurableService]:
    service = LocalDurableService(invoker=SubprocessInvoker(), invocation_retry=InvocationRetry(max_attempts=3))
    yield service
    service.close()


@pytest.mark.slow
def test_a_crash_is_recorded_and_the_execution_reinvoked(svc: LocalDurableService, tmp_path: Path) -> None:
    svc.register("crashy", crashes_once)
    result = svc.run("crashy", {"dir": str(tmp_path)}, timeout=60)
    assert result.succeeded and result.value == "ab"
    history = events(svc, result.arn)
    crashes = [
        e for e in history if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]
    assert len(crashes) == 1
    error = crashes[0]["InvocationCompletedDetails"]["Error"]["Payload"]
    assert error["ErrorType"] == "Runtime.ExitError"
    request_id = crashes[0]["InvocationCompletedDetails"]["RequestId"]
    assert error["ErrorMessage"] == f"RequestId: {request_id} Error: Runtime exited with error: exit status 7"
    assert (tmp_path / "log.txt").read_text().split() == ["a", "b-start", "b-start"]  # a was not run again
    assert [e["EventType"] for e in history][-2:] == ["InvocationCompleted", "ExecutionSucceeded"]
    invoker = svc.invoker
    assert isinstance(invoker, SubprocessInvoker) and invoker.started == 2  # a new worker after the crash


@pytest.mark.slow
def test_plain_functions_exit_raise_and_time_out(svc: LocalDurableService) -> None:
    svc.register("exit", "tests.local.workers:plain_exit", durable=False)
    svc.register("raises", "tests.local.workers:raises", durable=False)
    svc.register("sleeper", "tests.local.workers:sleeper", durable=False, function_timeout=0.5)
    svc.register("napper", "tests.local.workers:sleeper", durable=False)  # 0.5 s might not fit a loaded machine
    exited = svc.invoke(FunctionName="exit", Payload=b"3")
    assert exited["FunctionError"] == "Unhandled"
    assert json.loads(exited["Payload"])["errorMessage"].endswith("exit status 3")
    raised = json.loads(svc.invoke(FunctionName="raises", Payload=b'"x"')["Payload"])
    assert raised == {"errorType": "ValueError", "errorMessage": "bad x"}
    assert svc.invoke(FunctionName="napper", Payload=b"0.01")["Payload"] == b'"woke"'
    timed_out = json.loads(svc.invoke(FunctionName="sleeper", Payload=b"5")["Payload"])
    assert (
        timed_out["errorType"] == "Sandbox.Timedout"
        and "Task timed out after 0.50 seconds" in timed_out["errorMessage"]
    )


@pytest.mark.slow
def test_worker_output_lines_are_delivered() -> None:
    lines: list[str] = []
    service = LocalDurableService(invoker=SubprocessInvoker(output=lines.append))
    try:
        service.register("sleeper", "tests.local.workers:sleeper", durable=False)
        assert service.invoke(FunctionName="sleeper", Payload=b"0.01")["Payload"] == b'"woke"'
        deadline = time.monotonic() + 30  # bounds a hang only
        while "sleeping 0.01" not in lines and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        service.close()
    assert "sleeping 0.01" in lines

"""SQLite store: executions survive the service (closed, or its process killed with SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import replayflow
from replayflow.local import LocalDurableService, VirtualClock

from .workers import steps_and_a_wait

ROOT = Path(__file__).resolve().parents[2]


def test_reopen_resumes_timers_and_callbacks(tmp_path: Path) -> None:
    db = tmp_path / "state.db"

    @replayflow.durable
    def wf(input: Any, ctx: Any) -> Any:
        x = yield ctx.step(lambda: 41, name="x")
        cb = yield ctx.create_callback(name="cb", timeout=600)
        yield ctx.wait(seconds=300, name="w")
        return x + int((yield cb.result()))

    first = LocalDurableService(store=str(db), clock=VirtualClock(autojump=False))
    first.register("wf", wf)
    arn = first.start_execution("wf", "null")
    first.advance(10)
    history = first.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    callback_id = history[3]["CallbackStartedDetails"]["CallbackId"]
    first.close()

    second = LocalDurableService(store=str(db))
    second.register("wf", wf)
    assert second.execution(arn).status == "RUNNING"
    assert second.get_durable_execution_history(DurableExecutionArn=arn)["Events"] == history
    second.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"1")
    result = second.wait(arn, timeout=60)
    assert result.value == 42
    types = [e["EventType"] for e in second.get_durable_execution_history(DurableExecutionArn=arn)["Events"]]
    assert types == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "CallbackStarted",
        "WaitStarted",
        "InvocationCompleted",
        "CallbackSucceeded",
        "InvocationCompleted",
        "WaitSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert types.count("StepStarted") == 1  # the step was not run again
    second.close()
    third = LocalDurableService(store=str(db))
    assert third.execution(arn).value == 42
    third.close()


def test_in_flight_invocation_is_retried_after_reopen(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = LocalDurableService(store=str(db), clock=VirtualClock(autojump=False))
    first.register("flow", steps_and_a_wait)
    arn = first.start_execution("flow", json.dumps({"dir": str(tmp_path)}))
    # simulate a process that died with the invocation in flight: start it, but never finish it
    with first._engine.lock:
        ex = first._engine.executions[arn]
        ex.running, ex.invocation = (
            True,
            __import__("replayflow.local.records", fromlist=["Invocation"]).Invocation("req-1", ex.start_ms),
        )
        first._engine.store.save(ex)
    first._engine.store._release()  # the process died: the OS drops its lock on the store
    second = LocalDurableService(store=str(db))
    second.advance(0)  # its function is not registered yet: the execution waits for it
    assert second.execution(arn).status == "RUNNING"
    second.register("flow", steps_and_a_wait)
    assert second.wait(arn, timeout=60).value == "abcd"
    first_invocation = second.get_durable_execution_history(DurableExecutionArn=arn)["Events"][1]
    assert first_invocation["EventType"] == "InvocationCompleted"
    assert first_invocation["InvocationCompletedDetails"]["RequestId"] == "req-1"
    assert first_invocation["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"] == "Runtime.ExitError"


@pytest.mark.slow
def test_kill_9_mid_workflow_then_resume_in_a_new_process(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    log = tmp_path / "log.txt"
    (tmp_path / "block").write_text("block step c")
    command = [sys.executable, "-m", "tests.local.durable_driver", db, str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while "c-start" not in (log.read_text() if log.exists() else ""):
            assert first.poll() is None, first.stderr.read() if first.stderr else b""
            assert time.monotonic() < deadline, "step c never started"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    (tmp_path / "block").unlink()
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60, check=True)
    outcome = json.loads(second.stdout.decode().strip().splitlines()[-1])
    assert outcome["status"] == "SUCCEEDED" and outcome["result"] == "abcd"
    lines = log.read_text().split()
    # a and b completed before the kill and ran exactly once; c was interrupted and ran again; d once
    assert lines == ["a", "b", "c-start", "c-start", "c-done", "d"]
    service = LocalDurableService(store=db)
    history = service.get_durable_execution_history(DurableExecutionArn=outcome["arn"])["Events"]
    types = [e["EventType"] for e in history]
    assert types.count("StepSucceeded") == 4 and types.count("WaitSucceeded") == 1
    killed = [
        e for e in history if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]
    assert (
        len(killed) == 1
        and killed[0]["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"] == "Runtime.ExitError"
    )
    assert types[-1] == "ExecutionSucceeded"
    service.close()

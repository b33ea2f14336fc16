"""The command line, run as a user runs it: subprocesses, real files, a real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from samples.order_processing import SAMPLE_ORDER
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def replayflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replayflow", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_run_prints_the_result_and_exits_zero():
    out = replayflow("run", "samples.order_processing:process_order", "--input", json.dumps(SAMPLE_ORDER))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["order"] == "o-1001"
    assert result["tracking"].startswith("1Z-res-")
    # not a terminal: no progress lines, only the execution's ARN and its usage
    announced, usage = out.stderr.splitlines()
    assert announced.startswith("execution arn:aws:lambda:us-east-1:123456789012:function:process_order:$LATEST/")
    assert usage.startswith("usage: 4 operations (0.1% of 3,000), ")


def test_run_of_a_failing_workflow_exits_non_zero_with_the_error():
    out = replayflow("run", "tests.cli.workflows:broken")
    assert out.returncode == 1
    assert "FAILED" in out.stderr and "ZeroDivisionError" in out.stderr


def test_run_reports_what_cannot_be_loaded():
    assert replayflow("run", "no.such.module:wf").returncode == 2
    assert replayflow("run", "samples.order_processing:process_order", "--input", "{not json").returncode == 2


def test_run_answers_callbacks_by_name_and_hints_at_one_nobody_answered(tmp_path):
    order = json.dumps({"id": 7, "callback_file": str(tmp_path / "callback-id")})
    workflow = "tests.cli.workflows:approval"
    out = replayflow("run", workflow, "--input", order, "--callback", "approval=yes")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"order": 7, "answer": "yes"}  # create_callback passes the text through
    refused = replayflow("run", workflow, "--input", order, "--callback-error", "approval=manager said no")
    assert refused.returncode == 1 and "manager said no" in refused.stderr
    unanswered = replayflow("run", workflow, "--input", order)
    assert unanswered.returncode == 1
    assert "Callback.Timeout" in unanswered.stderr and "--callback 'approval=RESULT'" in unanswered.stderr
    assert replayflow("run", workflow, "--callback", "approval").returncode == 2  # not NAME=VALUE
    assert replayflow("run", workflow, "--real-time", "--callback", "approval=yes").returncode == 2


def test_a_stored_run_can_be_shown_and_replayed(tmp_path):
    store = tmp_path / "runs.db"
    out = replayflow(
        "run", "samples.order_processing:process_order", "--store", str(store), "--input", json.dumps(SAMPLE_ORDER)
    )
    assert out.returncode == 0, out.stderr
    from replayflow.local import LocalDurableService

    with LocalDurableService(store=str(store)) as service:
        (arn,) = [execution.arn for execution in service.executions()]
    timeline = replayflow("history", arn, "--store", str(store))
    assert timeline.returncode == 0, timeline.stderr
    assert "WaitStarted" in timeline.stdout and "warehouse-processing" in timeline.stdout
    assert "+02:00:00" in timeline.stdout  # the virtual two hours
    dump = replayflow("history", arn, "--store", str(store), "--json")
    document = json.loads(dump.stdout)
    assert document["Execution"]["Status"] == "SUCCEEDED"
    assert [e["EventType"] for e in document["Events"]][-1] == "ExecutionSucceeded"
    history = tmp_path / "history.json"
    history.write_text(dump.stdout)
    replayed = replayflow("replay", str(history), "samples.order_processing:process_order")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "OK" in replayed.stdout


@pytest.fixture
def served():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "serve", "tests.cli.workflows:approval", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert "serving the local durable service on http://127.0.0.1:" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_and_callback_work_with_boto3_over_a_real_socket(served, tmp_path):
    client = boto3.client(
        "lambda", endpoint_url=served, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    callback_file = tmp_path / "callback-id"
    started = client.invoke(
        FunctionName="approval",
        InvocationType="Event",
        DurableExecutionName="order-7",
        Payload=json.dumps({"id": "o-7", "callback_file": str(callback_file)}).encode(),
    )
    arn = started["DurableExecutionArn"]
    deadline = time.monotonic() + 30
    while not callback_file.exists():
        assert time.monotonic() < deadline, "the submitter step never ran"
        time.sleep(0.05)
    callback_id = callback_file.read_text()
    sent = replayflow("callback", "succeed", callback_id, "--result", "approved", "--endpoint", served)
    assert sent.returncode == 0, sent.stderr
    while (execution := client.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    assert json.loads(execution["Result"]) == {"order": "o-7", "answer": "approved"}
    again = replayflow("callback", "succeed", callback_id, "--endpoint", served)
    assert again.returncode == 1  # already completed: the service refuses, with its error
    assert "Exception" in again.stderr
    events = replayflow("history", arn, "--endpoint", served)
    assert "CallbackSucceeded" in events.stdout


def test_help_lists_every_command():
    out = replayflow("--help")
    for command in ("run", "history", "serve", "callback", "replay", "lambda"):
        assert command in out.stdout
    assert os.environ.get("PYTEST_CURRENT_TEST")

"""The replay-aware logger, JSON log records, and plugins (which never break a workflow)."""

from __future__ import annotations

import io
import json
import logging

import pytest

import replayflow
from replayflow import JsonFormatter, Plugin

from .wire import ARN, event, invoke, op, op_id, step


@pytest.fixture
def json_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("replayflow.workflow")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def greet(name):
    replayflow.step_context().logger.info("greeting %s", name)
    return f"hi {name}"


@replayflow.durable
def logging_workflow(name, ctx):
    ctx.logger.info("started for %s", name)
    greeting = yield ctx.step(greet, name)
    ctx.logger.info("greeted")
    yield ctx.wait(seconds=1)
    ctx.logger.warning("after the wait")
    return greeting


def test_log_records_are_structured_and_carry_the_execution_and_operation(json_logs):
    invoke(logging_workflow, event(input="ada"))
    records = json_logs()
    assert [r["message"] for r in records] == ["started for ada", "greeting ada", "greeted"]
    assert all(r["executionArn"] == ARN for r in records)
    step_record = records[1]
    assert (step_record["operationId"], step_record["operationName"], step_record["attempt"]) == (op_id(1), "greet", 1)
    assert step_record["level"] == "INFO"


def test_records_from_replayed_code_are_suppressed(json_logs):
    invoke(logging_workflow, event(step(1, name="greet", result="hi ada"), op(2, "WAIT", "SUCCEEDED"), input="ada"))
    assert [r["message"] for r in json_logs()] == ["after the wait"]


def test_log_replay_keeps_replayed_records(json_logs):
    handler = replayflow.durable(logging_workflow.workflow, log_replay=True)
    invoke(handler, event(step(1, name="greet", result="hi ada"), op(2, "WAIT", "SUCCEEDED"), input="ada"))
    assert [r["message"] for r in json_logs()] == ["started for ada", "greeted", "after the wait"]


def test_powertools_logger_receives_the_records_with_the_workflows_location(capsys):
    from aws_lambda_powertools import Logger

    handler = replayflow.durable(logging_workflow.workflow, logger=Logger(service="orders"))
    invoke(handler, event(input="ada"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["message"] for r in lines] == ["started for ada", "greeting ada", "greeted"]
    assert lines[0]["executionArn"] == ARN
    assert lines[0]["service"] == "orders"
    assert lines[1]["operationName"] == "greet"
    assert lines[0]["location"].startswith("logging_workflow:")


class Recording(Plugin):
    def __init__(self, name, log):
        self.name = name
        self.log = log

    def on_invocation_start(self, info):
        self.log.append((self.name, "invocation-start", info.is_first_invocation))

    def on_invocation_end(self, info, status):
        self.log.append((self.name, "invocation-end", status))

    def on_operation_start(self, op):
        self.log.append((self.name, "operation-start", op.name))

    def on_operation_end(self, op, status, error):
        self.log.append((self.name, "operation-end", op.name, status))

    def on_attempt_start(self, op, attempt):
        self.log.append((self.name, "attempt-start", op.name, attempt))

    def on_attempt_end(self, op, attempt, status, error):
        self.log.append((self.name, "attempt-end", op.name, attempt, status))


class Faulty(Plugin):
    def __init__(self, log):
        self.log = log

    def __getattribute__(self, name):
        if name.startswith("on_"):

            def hook(*args):
                object.__getattribute__(self, "log").append(("faulty", name))
                raise RuntimeError(f"{name} exploded")

            return hook
        return object.__getattribute__(self, name)


def test_several_plugins_receive_every_hook_and_a_failing_one_changes_nothing(caplog):
    log: list = []

    def flaky():
        if replayflow.step_context().attempt == 1:
            raise ValueError("first attempt fails")
        return "ok"

    def wf(_, ctx):
        return (yield ctx.step(flaky, retry=replayflow.RetryPresets.fixed(1, max_attempts=2)))

    handler = replayflow.durable(wf, plugins=[Recording("a", log), Faulty(log), Recording("b", log)])
    assert invoke(handler, event()) == {"Status": "PENDING"}
    assert invoke(handler, event(step(1, "READY", name="flaky", attempt=1)))["Result"] == '"ok"'
    mine = [entry[1:] for entry in log if entry[0] == "a"]
    assert mine == [
        ("invocation-start", True),
        ("operation-start", "flaky"),
        ("attempt-start", "flaky", 1),
        ("attempt-end", "flaky", 1, "FAILED"),
        ("invocation-end", "PENDING"),
        ("invocation-start", False),
        ("attempt-start", "flaky", 2),
        ("attempt-end", "flaky", 2, "SUCCEEDED"),
        ("operation-end", "flaky", "SUCCEEDED"),
        ("invocation-end", "SUCCEEDED"),
    ]
    assert [entry[1:] for entry in log if entry[0] == "b"] == mine
    assert {entry[1] for entry in log if entry[0] == "faulty"} >= {
        "on_invocation_start",
        "on_invocation_end",
        "on_operation_start",
        "on_operation_end",
        "on_attempt_start",
        "on_attempt_end",
    }
    assert "exploded" in caplog.text


def test_invocation_end_reports_failure():
    log: list = []

    def wf(_, ctx):
        yield ctx.step(lambda: 1 / 0, retry=replayflow.RetryPresets.none())

    handler = replayflow.durable(wf, plugins=[Recording("a", log)])
    assert invoke(handler, event())["Status"] == "FAILED"
    assert log[-1] == ("a", "invocation-end", "FAILED")
    assert ("a", "operation-end", None, "FAILED") in log

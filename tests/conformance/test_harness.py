"""The harness itself: its fakes behave like the AWS clients, and the validator run through it can fail."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from replayflow.local import VirtualClock
from tests.conformance import broken
from tests.conformance.cases import discover
from tests.conformance.harness import FakeLogs, LocalStack, LogSink, VirtualTime, json_filter, run_requirement
from tests.conformance.registry import REQUIREMENTS

CASES = discover()


def run_broken(rid: str, handler: object, tmp_path: Path) -> list[str]:
    result = run_requirement(rid, CASES[rid].path, tmp_path, broken.broken(rid, handler))
    assert not result.passed
    errors: list[str] = result.errors
    return errors


def test_a_wrong_result_fails(tmp_path: Path) -> None:
    assert run_broken("1-1", broken.wrong_greeting, tmp_path) == ["Expected Result='Hello, World!', got 'Hi, World!'"]


def test_log_expectations_are_checked(tmp_path: Path) -> None:
    errors = run_broken("1-7", broken.logs_twice, tmp_path)
    assert any("expected exactly 1 match(es), got 2" in e for e in errors), errors


def test_a_callback_with_the_wrong_name_gets_no_answer(tmp_path: Path) -> None:
    errors = run_broken("4-1", broken.wrong_callback_name, tmp_path)
    assert any("No matching CallbackAction" in e for e in errors), errors
    assert any("No new events" in e for e in errors), errors


def test_log_lines_without_the_execution_arn_are_not_found(tmp_path: Path) -> None:
    errors = run_broken("10-1", broken.plugin_without_arn, tmp_path)
    assert any("invocation-start" in e and "got 0" in e for e in errors), errors


def test_json_filter_patterns() -> None:
    either = json_filter('{ ($.durableExecutionArn = "a") || ($.executionArn = "a") }')
    assert either('{"executionArn": "a"}')
    assert either('{"durableExecutionArn": "a", "x": 1}')
    assert not either('{"executionArn": "b"}')
    assert not either("executionArn a")
    assert not either("[1, 2]")
    both = json_filter('{ ($.a.b = "x\\"y") && ($.c = "z") }')
    assert both('{"a": {"b": "x\\"y"}, "c": "z"}')
    assert not both('{"a": {"b": "x\\"y"}}')
    for bad in ('($.a = "x")', '{ ($.a = "x") || ($.b = "y") && ($.c = "z") }', "{ $.a > 3 }"):
        with pytest.raises(ValueError):
            json_filter(bad)


def test_filter_log_events_by_time_and_pattern() -> None:
    now = [1000.0]
    sink = LogSink(lambda: now[0])
    sink.append("/aws/lambda/f", "s", json.dumps({"executionArn": "a", "message": "one"}))
    now[0] = 1001.0
    sink.append("/aws/lambda/f", "s", json.dumps({"executionArn": "b", "message": "two"}))
    sink.append("/aws/lambda/f", "s", "plain text")
    logs = FakeLogs(sink)
    everything = logs.filter_log_events(logGroupName="/aws/lambda/f")["events"]
    assert [e["timestamp"] for e in everything] == [1_000_000, 1_001_000, 1_001_000]
    ingestion = [e["ingestionTime"] for e in everything]
    assert ingestion == sorted(set(ingestion)), "ingestion times must strictly increase"
    found = logs.filter_log_events(
        logGroupName="/aws/lambda/f", startTime=1_000_500, filterPattern='{ ($.executionArn = "b") }'
    )["events"]
    assert [json.loads(e["message"])["message"] for e in found] == ["two"]
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName="/aws/lambda/missing")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_callbacks_on_unknown_ids_raise_client_errors(tmp_path: Path) -> None:
    with LocalStack(tmp_path) as stack:
        with pytest.raises(ClientError) as info:
            stack.lambda_client.send_durable_execution_callback_success(CallbackId="bm9wZQ==", Result=b'"x"')
        assert info.value.response["Error"]["Code"] == "CallbackTimeoutException"
        with pytest.raises(ClientError):
            stack.lambda_client.get_durable_execution(DurableExecutionArn="arn:aws:lambda:us-east-1:1:function:x")


def test_virtual_time_moves_the_service_clock_without_waiting(tmp_path: Path) -> None:
    with LocalStack(tmp_path) as stack:
        virtual = VirtualTime(stack.service)
        started = virtual.time()
        virtual.sleep(3600)
        assert virtual.time() - started == pytest.approx(3600)
        assert virtual.monotonic() == virtual.time()
        assert isinstance(stack.service.clock, VirtualClock)  # the hour went by on the service's virtual clock


def test_the_crash_is_a_real_process_exit(tmp_path: Path) -> None:
    result = run_requirement("1-18", CASES["1-18"].path, tmp_path)
    assert result.passed, result.errors
    events = result.execution_history["Events"]
    crashes = [
        e["InvocationCompletedDetails"]["Error"]["Payload"]
        for e in events
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]
    assert len(crashes) == 1
    assert crashes[0]["ErrorType"] == "Runtime.ExitError"
    assert crashes[0]["ErrorMessage"].endswith("exit status 1")
    assert REQUIREMENTS["1-18"].process


def test_the_stack_restores_stdout_and_logging(tmp_path: Path) -> None:
    stdout, handlers, level = sys.stdout, list(logging.getLogger().handlers), logging.getLogger().level
    with LocalStack(tmp_path):
        assert sys.stdout is not stdout
    assert sys.stdout is stdout
    assert logging.getLogger().handlers == handlers
    assert logging.getLogger().level == level


def test_the_runner_prints_the_suite_table_and_writes_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xml.etree import ElementTree

    from tests.conformance.runner import main

    code = main(["--suite", "wait", "--suite", "plugin", "--junit", str(tmp_path / "junit.xml")])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["suite", "passed", "failed", "optional", "failed", "not", "implemented", "total"]
    assert next(line for line in lines if line.startswith("wait")).split() == ["wait", "5", "0", "0", "0", "5"]
    assert next(line for line in lines if line.startswith("plugin")).split() == ["plugin", "7", "0", "0", "0", "7"]
    assert next(line for line in lines if line.startswith("total")).split() == ["total", "12", "0", "0", "0", "12"]
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "12" and suite.get("failures") == "0"
    assert [case.get("name") for case in suite.iter("testcase")][:2] == ["2-1", "2-2"]

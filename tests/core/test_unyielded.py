"""A forgotten ``yield``: an operation built by ctx but never yielded is reported, never silently skipped."""

from __future__ import annotations

import inspect
import logging

import pytest

import replayflow
from replayflow import _unyielded
from replayflow.testing import run

SENT: list[str] = []


@pytest.fixture(autouse=True)
def _reset():
    SENT.clear()


def send_email(to: str) -> str:
    SENT.append(to)
    return f"sent to {to}"


def _line(fn, text: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def forgot_in_the_middle(order, ctx):
    ctx.step(send_email, "ann")
    receipt = yield ctx.step(send_email, "bob", name="second")
    return receipt


def forgot_at_the_end(order, ctx):
    yield ctx.step(send_email, "ann")
    ctx.wait(seconds=5, name="cool-off")


def no_yield_at_all(order, ctx):
    ctx.step(send_email, "ann")
    return "done"


def used_the_descriptor(order, ctx):
    receipt = ctx.step(send_email, "ann")
    return receipt["id"]


def returned_the_descriptor(order, ctx):
    yield ctx.wait(seconds=1)
    return ctx.step(send_email, "ann")


def built_ahead(order, ctx):
    first = ctx.step(send_email, "ann", name="first")
    second = ctx.step(send_email, "bob", name="second")
    a = yield first
    b = yield second
    return [a, b]


def test_toolkit_reports_the_forgotten_step_with_its_line_and_the_body_never_ran():
    result = run(forgot_in_the_middle, {})
    error = result.assert_failed(replayflow.UnyieldedOperationError)
    line = _line(forgot_in_the_middle, 'ctx.step(send_email, "ann")')
    assert f"ctx.step(send_email) named 'send_email' was built at {__file__}:{line}" in error["ErrorMessage"]
    assert "never yielded" in error["ErrorMessage"] and "yield" in error["ErrorMessage"]
    assert SENT == []  # the forgotten step never ran, and the next one was not started either


def test_toolkit_reports_an_operation_forgotten_at_the_end_of_the_workflow():
    result = run(forgot_at_the_end, {})
    error = result.assert_failed(replayflow.UnyieldedOperationError)
    line = _line(forgot_at_the_end, "ctx.wait(")
    assert f"ctx.wait(...) named 'cool-off' was built at {__file__}:{line}" in error["ErrorMessage"]


def test_a_workflow_without_any_yield_is_reported():
    result = run(no_yield_at_all, {})
    error = result.assert_failed(replayflow.UnyieldedOperationError)
    assert "the workflow has no `yield` at all" in error["ErrorMessage"]
    assert SENT == []


def test_using_the_descriptor_as_the_result_says_the_yield_is_missing():
    result = run(used_the_descriptor, {})
    error = result.assert_failed(replayflow.UnyieldedOperationError)
    assert "ctx.step(send_email)" in error["ErrorMessage"] and "never yielded" in error["ErrorMessage"]
    assert any("tuple indices must be integers" in line for line in error["StackTrace"])  # the cause is kept


def test_returning_a_descriptor_instead_of_yielding_it_is_reported():
    result = run(returned_the_descriptor, {})
    result.assert_failed(replayflow.UnyieldedOperationError, match="ctx.step\\(send_email\\)")


def test_descriptors_built_ahead_and_yielded_later_are_not_reported():
    assert run(built_ahead, {}).assert_succeeded() == ["sent to ann", "sent to bob"]


def test_production_logs_a_warning_naming_the_line_and_carries_on(caplog):
    with _unyielded.unyielded_mode("warn"), caplog.at_level(logging.WARNING, logger="replayflow"):
        result = run(forgot_in_the_middle, {})
    assert result.assert_succeeded() == "sent to bob"
    line = _line(forgot_in_the_middle, "receipt = yield")
    (warning,) = [r.getMessage() for r in caplog.records if "never yielded" in r.getMessage()]
    assert "ctx.step(send_email) named 'send_email'" in warning
    assert f"noticed at {__file__}:{line}" in warning  # the next operation's line: the forgotten one is just before


def test_production_adds_a_note_to_the_error_of_a_misused_descriptor():
    with _unyielded.unyielded_mode("warn"):
        result = run(used_the_descriptor, {})
    error = result.assert_failed("TypeError")
    assert any("never yielded" in line for line in error["StackTrace"])


def test_the_mode_is_checked():
    with pytest.raises(ValueError, match="warn"):
        _unyielded.set_mode("loud")  # type: ignore[arg-type]


def test_production_names_the_return_line_when_the_forgotten_operation_is_the_last(caplog):
    with _unyielded.unyielded_mode("warn"), caplog.at_level(logging.WARNING, logger="replayflow"):
        run(forgot_at_the_end, {}).assert_succeeded()
    (warning,) = [r.getMessage() for r in caplog.records if "never yielded" in r.getMessage()]
    assert "ctx.wait(...) named 'cool-off'" in warning
    line = inspect.getsourcelines(forgot_at_the_end)[1]
    assert f"noticed when the generator defined at {__file__}:{line}, in forgot_at_the_end returned" in warning


def forgot_before_a_callback_result(order, ctx):
    callback = yield ctx.create_callback(name="approval", timeout=60)
    ctx.step(send_email, callback.callback_id)
    return (yield callback.result())


def test_a_forgotten_step_before_yielding_a_prebuilt_operation_is_reported():
    result = run(forgot_before_a_callback_result, {})
    line = _line(forgot_before_a_callback_result, "ctx.step(send_email")
    result.assert_failed(replayflow.UnyieldedOperationError, match=f"built at .*test_unyielded.py:{line}")
    assert SENT == []


@pytest.mark.slow
def test_worker_processes_started_by_tests_report_forgotten_yields_too():
    from replayflow.local import LocalDurableService, SubprocessInvoker

    with LocalDurableService(invoker=SubprocessInvoker()) as service:
        service.register("forgets", "tests.cli.workflows:forgets_a_yield")
        result = service.run("forgets", None, timeout=60)
    assert result.status == "FAILED", result
    assert result.error["ErrorType"] == "replayflow.UnyieldedOperationError"
    assert "tests/cli/workflows.py" in result.error["ErrorMessage"]

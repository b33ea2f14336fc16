"""The pytest plugin, run through pytester: fixtures, and failures that explain themselves."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

WORKFLOW = """
import replayflow

def reserve(items):
    return {"held": items}

@replayflow.durable
def order_workflow(order, ctx):
    ctx.logger.info("received %s", order["id"])
    held = yield ctx.step(reserve, order["items"], name="reserve")
    yield ctx.wait(seconds=30, name="cool-off")
    return held
"""


def test_the_fixtures_are_available_without_configuration(pytester: pytest.Pytester):
    pytester.makepyfile(workflow_under_test=WORKFLOW)
    pytester.makepyfile(
        test_orders="""
        from workflow_under_test import order_workflow, reserve

        def test_first_step(replayflow_history, replayflow_replay, replayflow_logs):
            report = replayflow_replay(order_workflow, replayflow_history({"id": 1, "items": ["A"]}))
            report.assert_next_step("reserve", args=(["A"],), function=reserve)
            assert replayflow_logs.messages == ["received 1"]
            assert replayflow_logs[0]["executionArn"].endswith("/execution-1")

        def test_completed(replayflow_history, replayflow_replay):
            h = replayflow_history({"id": 1, "items": ["A"]})
            h.step("reserve", result={"held": ["A"]})
            h.wait("cool-off", seconds=30)
            assert replayflow_replay(order_workflow, h).outcome == "completed"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_failed_outcome_comparison_prints_the_report(pytester: pytest.Pytester):
    pytester.makepyfile(workflow_under_test=WORKFLOW)
    pytester.makepyfile(
        test_orders="""
        from workflow_under_test import order_workflow

        def test_expects_too_much(replayflow_history, replayflow_replay):
            h = replayflow_history({"id": 1, "items": ["A"]})
            h.step("reserve", result={"held": ["A"]})
            report = replayflow_replay(order_workflow, h)
            assert report.outcome == "completed"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*replay outcome 'suspended' == 'completed'*",
            "*replay of workflow_under_test:order_workflow over 2 recorded operations: suspended*",
            "*next operations:*",
            "*1. start wait 'cool-off': 30 s at *workflow_under_test.py:10",
        ]
    )


def test_a_failed_next_step_assertion_shows_what_differs(pytester: pytest.Pytester):
    pytester.makepyfile(workflow_under_test=WORKFLOW)
    pytester.makepyfile(
        test_orders="""
        from workflow_under_test import order_workflow

        def test_wrong_arguments(replayflow_history, replayflow_replay):
            report = replayflow_replay(order_workflow, replayflow_history({"id": 1, "items": ["A"]}))
            report.assert_next_step("reserve", args=(["B"],))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: next start step 'reserve': reserve(*",
            "*args: expected ([[]'B'[]],)",
            "*got ([[]'A'[]],)",
        ]
    )

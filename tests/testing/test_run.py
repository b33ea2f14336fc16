"""run() and start(): workflows on the local durable service, in virtual time, with callbacks from the test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import replayflow
from replayflow.testing import EPOCH, capture_logs, fail, heartbeat, load_history, replay, run, start, succeed, time_out

from . import workflows as wf

ORDER = {"id": "o-1", "items": ["A1"], "amount": 30}


@pytest.fixture(autouse=True)
def _reset():
    wf.CALLS.clear()
    wf.FLAKY_ATTEMPTS.clear()


def test_a_run_to_completion_with_its_operations():
    result = run(wf.order_workflow, ORDER)
    assert result.assert_succeeded({"order": "o-1", "tracking": "TRACK-1", "charged": 30}) == result.result
    assert result.status == "SUCCEEDED" and result.succeeded and result.error is None
    assert [c[0] for c in wf.CALLS] == ["reserve", "charge", "ship"]  # the bodies really ran, once each
    reserve = result.get_step("reserve")
    assert (reserve.status, reserve.attempt, reserve.result) == ("SUCCEEDED", 1, {"sku": "A1", "held": True})
    wait = result.get_wait("cool-off")
    assert wait.ended_at - wait.started_at == dt.timedelta(minutes=5)
    billing = result.get_context("billing")
    assert billing.child("charge").result == {"charged": 30, "currency": "USD"}
    assert [e["EventType"] for e in result.events][:3] == ["ExecutionStarted", "StepStarted", "StepSucceeded"]
    assert result.operations[0]["Type"] == "EXECUTION"
    assert result.explain().splitlines() == [
        "execution SUCCEEDED with {'order': 'o-1', 'tracking': 'TRACK-1', 'charged': 30}",
        # reserve, cool-off, billing, charge, ship: 5 operations; 2 invocations (before and after the wait)
        f"usage: 5 operations (0.2% of 3,000), {result.usage.bytes_written} B written (0.0% of 100.0 MB), "
        f"2 invocations, est. ${result.usage.cost:.6f}",
        "operations:",
        "  - step 'reserve' [SUCCEEDED] attempts=1",
        "  - wait 'cool-off' [SUCCEEDED]",
        "  - child context 'billing' [SUCCEEDED]",
        "    - step 'charge' [SUCCEEDED] attempts=1",
        "  - step 'ship' [SUCCEEDED] attempts=1",
    ]


def test_retries_and_long_waits_cost_no_real_time_and_each_attempt_is_visible():
    result = run(wf.flaky_workflow, 12)
    result.assert_succeeded({"charged": 12})
    charge = result.get_step("charge")
    assert charge.attempt == 3
    first, second, third = charge.attempts
    assert (first.status, first.error["ErrorMessage"], first.retry_delay) == ("RETRY", "gateway timeout #1", 2)
    assert (second.status, second.retry_delay) == ("RETRY", 4)
    assert (third.status, third.payload) == ("SUCCEEDED", '{"charged":12}')
    assert third.started_at == EPOCH + dt.timedelta(seconds=6)
    settle = result.get_wait("settle")
    assert settle.ended_at == EPOCH + dt.timedelta(seconds=6, hours=2)


def test_a_failed_execution():
    result = run(wf.failing_workflow, 99)
    error = result.assert_failed(PermissionError, match="amount 99 refused")
    assert error["ErrorType"] == "PermissionError"
    assert result.get_step("refuse").error["ErrorMessage"] == "amount 99 refused"
    with pytest.raises(AssertionError, match="failed with PermissionError, not KeyError"):
        result.assert_failed(KeyError)
    with pytest.raises(AssertionError, match="expected the execution to succeed, but it is FAILED"):
        result.assert_succeeded()


def test_callbacks_are_answered_at_the_chosen_virtual_times():
    result = run(
        wf.approval_workflow,
        {},
        callbacks={
            "approval": succeed({"approved": True}, after=dt.timedelta(minutes=5)),
            "countersign": succeed("ok", after=30),
        },
    )
    assert result.assert_succeeded() == "approved and ok"
    approval = result.get_callback("approval")  # the wait_for_callback's name finds its callback
    assert approval.ended_at - approval.started_at == dt.timedelta(minutes=5)
    countersign = result.get_callback("countersign")
    assert countersign.ended_at - countersign.started_at == dt.timedelta(seconds=30)
    assert countersign.payload == "ok"
    assert wf.CALLS[0] == ("notify", (approval.callback_id,))  # the submitter got the callback's id


def test_a_failed_or_timed_out_callback():
    failed = run(wf.approval_workflow, {}, callbacks={"approval": fail(PermissionError("no"), after=10)})
    failed.assert_failed(PermissionError, match="^no$")  # the ErrorType the external system reported
    timed_out = run(wf.approval_workflow, {}, callbacks={"approval": time_out()})
    timed_out.assert_failed("Callback.Timeout")
    callback = timed_out.get_callback("approval")
    assert callback.status == "TIMED_OUT" and callback.ended_at - callback.started_at == dt.timedelta(hours=1)


def test_heartbeats_keep_a_callback_alive():
    result = run(
        wf.approval_workflow,
        {},
        callbacks={
            "approval": succeed({"approved": True}),
            "countersign": [heartbeat(after=50), heartbeat(after=100)],
        },
    )
    # two heartbeats (at 50 s and 100 s) against a 60 s heartbeat timeout: it times out at 160 s
    result.assert_failed("Callback.Heartbeat")
    countersign = result.get_callback("countersign")
    assert countersign.ended_at - countersign.started_at == dt.timedelta(seconds=160)
    answered = run(
        wf.approval_workflow,
        {},
        callbacks={
            "approval": succeed({"approved": True}),
            "countersign": [heartbeat(after=50), heartbeat(after=100), succeed("late but alive", after=150)],
        },
    )
    assert answered.assert_succeeded() == "approved and late but alive"


def test_chained_invoke_targets_plain_and_durable():
    plain = run(
        wf.invoke_workflow, {"sku": "A1", "qty": 3}, functions={"pricing-service": lambda request: {"price": 4}}
    )
    plain.assert_succeeded(12)

    @replayflow.durable
    def pricing(request: dict[str, Any], ctx: Any) -> Any:
        yield ctx.wait(seconds=30)
        return {"price": 5}

    durable = run(wf.invoke_workflow, {"sku": "A1", "qty": 3}, functions={"pricing-service": pricing})
    durable.assert_succeeded(15)
    invoke = durable.get_invoke("price")
    assert invoke.ended_at - invoke.started_at == dt.timedelta(seconds=30)
    missing = run(wf.invoke_workflow, {"sku": "A1", "qty": 3})
    missing.assert_failed("ResourceNotFoundException", match="Function not found")


def test_callbacks_of_durable_child_executions_are_answered_too():
    @replayflow.durable
    def approver(request: dict[str, Any], ctx: Any) -> Any:  # a chained-invoke target that waits for a human
        answer = yield ctx.wait_for_callback(lambda callback_id: None, name="sign-off", timeout=3600)
        return {"signed": answer, "by": request["team"]}

    @replayflow.durable
    def parent(order: dict[str, Any], ctx: Any) -> Any:
        return (yield ctx.invoke("approver", {"team": order["team"]}, name="approval"))

    functions = {"approver": approver}
    result = run(parent, {"team": "ops"}, functions=functions, callbacks={"sign-off": succeed("yes", after=600)})
    result.assert_succeeded({"signed": "yes", "by": "ops"})
    invoke = result.get_invoke("approval")
    assert invoke.ended_at - invoke.started_at == dt.timedelta(minutes=10)

    with start(parent, {"team": "ops"}, functions=functions) as execution:
        execution.advance(minutes=5).send_callback_failure("sign-off", "declined")
        execution.finish().assert_failed(match="declined")


def test_step_by_step():
    with start(wf.approval_workflow, {}) as execution:
        assert execution.status == "RUNNING"
        assert execution.now == EPOCH
        snapshot = execution.snapshot()
        assert snapshot.status == "RUNNING" and snapshot.get_callback("approval").status == "STARTED"
        execution.advance(minutes=10)
        assert execution.now == EPOCH + dt.timedelta(minutes=10)
        execution.send_callback_success("approval", {"approved": True})
        assert execution.snapshot().get_step("ask-countersign").status == "SUCCEEDED"
        execution.send_callback_heartbeat("countersign")
        execution.advance(30).send_callback_success("countersign", "done")
        result = execution.finish()
    assert result.assert_succeeded() == "approved and done"


def test_a_failed_callback_fails_the_workflow_with_the_sent_error():
    with start(wf.approval_workflow, {}) as execution:
        execution.send_callback_failure("approval", ValueError("manager said no"))
        assert execution.status == "FAILED"
        result = execution.finish()
    result.assert_failed("ValueError", match="manager said no")
    assert result.get_callback("approval").status == "FAILED"
    assert result.get_callback("approval").error["ErrorMessage"] == "manager said no"
    assert all(op.get("Name") != "ask-countersign" for op in result.operations)  # nothing after it ran
    with start(wf.approval_workflow, {}) as execution:
        execution.send_callback_failure("approval")  # the default error
        execution.finish().assert_failed(match="the callback failed")


def test_a_recorded_run_replays_and_reloads_from_json():
    result = run(wf.order_workflow, ORDER)
    loaded = load_history(result.to_json())
    assert loaded.format == "events" and loaded.status == "SUCCEEDED" and loaded.warnings == ()
    assert loaded.result == result.result_payload
    replay(wf.order_workflow, loaded).assert_completed(result.result)
    replay(wf.order_workflow, load_history({"Events": list(result.events)})).assert_completed(result.result)
    replay(wf.order_workflow, result).assert_completed(result.result)  # a run is a recorded history too
    replay(wf.failing_workflow, result).assert_non_determinism(match="named 'reserve'")


def test_logs_of_a_run_are_captured():
    with capture_logs() as logs:
        run(wf.order_workflow, ORDER)
    assert logs.filter(message="order received")[0]["order"] == "o-1"
    assert len(logs.filter(message="order received")) == 1  # the replays of later invocations stay quiet


@replayflow.durable
def waits_for_ever(_: Any, ctx: Any) -> Any:
    callback = yield ctx.create_callback(name="never-answered")
    return (yield callback.result())


def test_an_execution_timeout_ends_the_run():
    result = run(waits_for_ever, None, execution_timeout=600)
    assert result.status == "TIMED_OUT"
    assert result.explain().startswith("execution TIMED_OUT: The execution timed out after 600 seconds.")
    with start(waits_for_ever, None, execution_timeout=60) as execution:
        execution.advance(60)  # exactly onto the deadline
        assert execution.status == "TIMED_OUT"
        assert execution.now == EPOCH + dt.timedelta(seconds=60)
    with start(waits_for_ever, None, execution_timeout=60) as execution:
        execution.advance(minutes=5)  # past it
        assert execution.status == "TIMED_OUT" and execution.now == EPOCH + dt.timedelta(minutes=5)

"""replay(): the real interpreter over builder histories, with no service; outcomes and next operations."""

from __future__ import annotations

import re
from typing import Any

import pytest

import replayflow
from replayflow import CallbackFailedError, NonDeterminismError
from replayflow.testing import History, NextOperation, ReplayReport, replay

from . import workflows as wf
from .workflows import CALLS, approval_workflow, fan_out_workflow, invoke_workflow, order_workflow, race_workflow

ORDER = {"id": "o-1", "items": ["A1"], "amount": 30}


@pytest.fixture(autouse=True)
def _no_calls():
    CALLS.clear()
    yield
    assert CALLS == [], "a dry replay ran a step body"


def order_history(**charge: Any) -> History:
    h = History(ORDER)
    h.step("reserve", result={"sku": "A1", "held": True})
    h.wait("cool-off", seconds=300)
    return h


def test_an_empty_history_reports_the_first_step_with_its_arguments():
    report = replay(order_workflow, History(ORDER))
    assert report.outcome == "suspended"
    step = report.assert_next_step("reserve", args=(["A1"],), kwargs={})
    assert step.function is wf.reserve
    assert step.action == "start" and step.attempt == 1
    assert step.operation_id == replayflow._ids.operation_id(None, 1)
    assert step.parent_id is None and step.scope == "the workflow"
    assert step.location is not None and step.location.endswith(f"workflows.py:{_line(wf, 'ctx.step(reserve')}")


def test_next_operations_of_each_kind_carry_their_options():
    h = order_history()
    h1 = History(ORDER)
    h1.step("reserve", result={"sku": "A1"})
    report = replay(order_workflow, h1)
    report.assert_next("wait", "cool-off", seconds=300)

    child = replay(order_workflow, h).assert_next("child_context", "billing", args=(30,), function=wf.billing)
    assert child.type == "CONTEXT" and child.sub_type == "RunInChildContext"

    invoke = replay(invoke_workflow, History({"sku": "A1", "qty": 2}))
    invoke.assert_next("invoke", "price", function_name="pricing-service", payload={"sku": "A1"})

    approval = replay(approval_workflow, History({}))
    op = approval.assert_next("wait_for_callback", "approval", timeout=3600, heartbeat_timeout=None)
    assert op.function is wf.notify

    fan = replay(fan_out_workflow, History([4, 5]))
    mapped = fan.assert_next("map", "double-all", items=(4, 5), branches=("map-item-0", "map-item-1"))
    assert mapped.completion == replayflow.CompletionConfig()


def test_steps_inside_a_running_child_are_reported_with_their_scope():
    h = order_history()
    with h.child("billing"):
        pass
    report = replay(order_workflow, h)
    step = report.assert_next_step("charge", args=(30,), kwargs={"currency": "USD"})
    child_id = h.operation("billing")["Id"]
    assert step.parent_id == child_id
    assert step.operation_id == replayflow._ids.operation_id(child_id, 1)
    assert step.scope == "RunInChildContext context 'billing'"
    assert "in RunInChildContext context 'billing'" in step.describe()


def test_a_finished_history_completes_with_the_result_without_running_anything():
    h = order_history()
    h.child("billing", result={"charged": 30, "currency": "USD"})
    h.step("ship", result="TRACK-9")
    report = replay(order_workflow, h)
    assert report.assert_completed({"order": "o-1", "tracking": "TRACK-9", "charged": 30}) == report.result
    assert report.next_operations == () and report.waiting_on == ()
    assert report.updates == ()


def test_a_child_whose_operations_all_finished_completes_and_checkpoints_its_result():
    h = order_history()
    with h.child("billing"):
        h.step("charge", result={"charged": 30, "currency": "USD"})
    report = replay(order_workflow, h)
    report.assert_next_step("ship", args=({"sku": "A1", "held": True},))
    (update,) = report.updates
    assert update == {
        "Id": h.operation("billing")["Id"],
        "Type": "CONTEXT",
        "Action": "SUCCEED",
        "SubType": "RunInChildContext",
        "Name": "billing",
        "Payload": '{"charged":30,"currency":"USD"}',
    }


def test_a_recorded_step_failure_fails_the_workflow_with_the_recorded_error():
    h = order_history()
    with h.child("billing", error=ValueError("card declined")):
        h.step("charge", error=ValueError("card declined"))
    report = replay(order_workflow, h)
    error = report.assert_failed(replayflow.ChildContextError, match="card declined")
    assert error.error_type == "ValueError"
    report.assert_failed("ValueError")  # the recorded type counts too
    with pytest.raises(AssertionError, match="failed with ChildContextError \\(ValueError\\), not KeyError"):
        report.assert_failed(KeyError)


def test_a_step_failure_inside_a_running_child_reaches_the_workflow():
    h = order_history()
    with h.child("billing"):
        h.step("charge", error=ValueError("card declined"))
    report = replay(order_workflow, h)
    report.assert_failed(replayflow.ChildContextError, match="card declined")
    (fail,) = report.updates
    assert (fail["Type"], fail["Action"], fail["Error"]["ErrorType"]) == ("CONTEXT", "FAIL", "ValueError")


def test_a_pending_retry_suspends_and_a_due_retry_is_the_next_attempt():
    h = order_history()
    with h.child("billing"):
        h.step("charge", retrying=2, error=TimeoutError("gateway"))
    report = replay(order_workflow, h)
    report.assert_suspended(waiting_on=["charge"])
    assert report.next_operations == ()
    assert str(report.waiting_on[0]) == "step 'charge' (PENDING)"

    h = order_history()
    with h.child("billing"):
        h.step("charge", ready=2)
    report = replay(order_workflow, h)
    attempt = report.assert_next_step("charge", args=(30,), attempt=3)
    assert attempt.action == "attempt"
    assert "attempt step 'charge' (attempt 3)" in attempt.describe()


def test_a_running_wait_is_what_the_workflow_waits_on():
    h = History(ORDER)
    h.step("reserve", result={"sku": "A1"})
    wait_id = h.wait("cool-off", seconds=300, elapsed=False)
    report = replay(order_workflow, h)
    report.assert_suspended(waiting_on=["cool-off"])
    assert report.waiting_on[0].operation_id == wait_id
    assert report.waiting_on[0].type == "WAIT"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda h: h.step("reserve-stock", result={}),
            r"named 'reserve-stock' \[SUCCEEDED\], but the code now yields STEP/Step named 'reserve'",
        ),
        (lambda h: h.wait("reserve"), r"recorded as WAIT/Wait named 'reserve' .* now yields STEP/Step named 'reserve'"),
    ],
)
def test_a_history_that_does_not_match_the_code_is_non_determinism(mutate, message):
    h = History(ORDER)
    mutate(h)
    report = replay(order_workflow, h)
    error = report.assert_non_determinism(match=message)
    report.assert_non_determinism(name="reserve")  # the name the code yields now
    with pytest.raises(AssertionError, match="is not about 'ship'"):
        report.assert_non_determinism(name="ship")
    assert isinstance(error, NonDeterminismError)
    assert error.operation_id == replayflow._ids.operation_id(None, 1)
    assert error.location is not None and "workflows.py" in error.location
    assert report.error is error and report.non_determinism is error
    assert "non-determinism" in report.explain()


def test_code_that_ends_before_the_history_does_is_non_determinism_naming_the_extra_operation():
    h = order_history()
    h.child("billing", result={"charged": 30})
    h.step("ship", result="T")
    h.step("send-invoice", result=None)
    report = replay(order_workflow, h)
    error = report.assert_non_determinism(name="send-invoice")
    assert "returned after 4 operation(s)" in str(error)
    assert error.operation_id == h.operation("send-invoice")["Id"]


def test_a_nested_mismatch_names_the_child_it_happened_in():
    h = order_history()
    with h.child("billing"):
        h.step("refund", result=1)
    error = replay(order_workflow, h).assert_non_determinism()
    assert error.position == "operation #1 of RunInChildContext context 'billing'"


def test_parallel_branches_in_progress_are_all_reported():
    h = History([3])
    h.map("double-all", results=[6])
    with h.parallel("pair") as pair:
        pair.branch("left")
        pair.branch("right")
    report = replay(fan_out_workflow, h)
    left = report.assert_next_step("left-charge", args=(1,))
    right = report.assert_next("wait", "right-wait", seconds=10)
    assert left.parent_id == pair.branch_id(0) and right.parent_id == pair.branch_id(1)
    assert report.next_names == ["left-charge", "right-wait"]


def test_a_completed_map_replays_its_result_and_a_completed_parallel_its_statuses():
    h = History([3, 4])
    h.map("double-all", results=[6, 8])
    with h.parallel("pair", completed=True) as pair:
        pair.branch("left", result={"charged": 1})
        pair.branch("right", error=RuntimeError("nope"))
    report = replay(fan_out_workflow, h)
    report.assert_completed({"doubled": [6, 8], "pair": ["SUCCEEDED", "FAILED"]})


def test_branches_abandoned_when_a_batch_completes_early_are_not_reported():
    h = History(None)
    with h.parallel("race") as race:
        with race.branch("parallel-branch-0"):
            pass  # slow: running, its step not started yet
        race.branch("parallel-branch-1", result={"charged": 1})
    report = replay(race_workflow, h)
    # the fast branch won: the batch completes, the slow branch is abandoned and the workflow moves on
    assert report.next_names == ["after-race"]
    report.assert_next_step("after-race", args=({"winner": [{"charged": 1}]},))


def test_a_callback_that_failed_raises_in_the_workflow():
    h = History({})
    h.wait_for_callback("approval", result={"approved": True})
    h.callback("countersign", error={"ErrorType": "Rejected", "ErrorMessage": "no signature"})
    h.step("ask-countersign")
    report = replay(approval_workflow, h)
    report.assert_failed(CallbackFailedError, match="no signature")


def test_a_pending_callback_is_waited_on_and_its_id_reaches_the_submitter():
    h = History({})
    h.wait_for_callback("approval", result={"approved": True})
    h.callback("countersign", callback_id="Y2ItMQ==")
    report = replay(approval_workflow, h)
    report.assert_next_step("ask-countersign", args=("Y2ItMQ==",))
    h.step("ask-countersign")
    report = replay(approval_workflow, h)
    report.assert_suspended(waiting_on=["countersign"])
    h2 = History({})
    h2.wait_for_callback("approval", result={"approved": True})
    h2.callback("countersign", result="signed", callback_id="Y2ItMQ==")
    h2.step("ask-countersign")
    replay(approval_workflow, h2).assert_completed("approved and signed")


def test_input_can_be_replaced():
    h = History({"sku": "A1", "qty": 2})
    h.invoke("price", result={"price": 5})
    assert replay(invoke_workflow, h).assert_completed() == 10
    assert replay(invoke_workflow, h, input={"sku": "A1", "qty": 7}).result == 35


def test_a_plain_workflow_function_replays_like_its_handler():
    h = History({"sku": "A1", "qty": 3})
    h.invoke("price", result={"price": 2})
    assert replay(invoke_workflow.workflow, h).assert_completed() == 6


def test_an_unserializable_result_fails_as_the_handler_would():
    def wf_returns_object(_: Any, ctx: Any) -> Any:
        yield ctx.wait(seconds=1)
        return object()

    h = History()
    h.wait()
    report = replay(wf_returns_object, h)
    report.assert_failed(replayflow.SerDesError)


def test_a_thousand_step_history_replays_correctly():
    def long_workflow(n: int, ctx: Any) -> Any:
        total = 0
        for i in range(n):
            total += yield ctx.step(wf.charge, i, name=f"step-{i}")
        return total

    h = History(1000)
    for i in range(1000):
        h.step(f"step-{i}", result=i)
    report = replay(long_workflow, h)
    report.assert_completed(sum(range(1000)))
    h.step("extra", result=0)
    replay(long_workflow, h).assert_non_determinism(name="extra")


def test_assertion_failures_show_a_diff_and_the_report():
    report = replay(order_workflow, order_history())
    with pytest.raises(AssertionError) as info:
        report.assert_next("child_context", "billing", args=(31,))
    text = str(info.value)
    assert "args: expected (31,)" in text and "got (30,)" in text
    assert "next operations:\n  1. start child_context 'billing'" in text
    with pytest.raises(AssertionError, match="would not start a step 'ship' next"):
        report.assert_next_step("ship")
    with pytest.raises(AssertionError, match="expected the replay to end completed, but it ended suspended"):
        report.assert_completed()
    done = replay(invoke_workflow, _priced(5))
    with pytest.raises(AssertionError) as info:
        done.assert_completed({"total": 10})
    assert "the workflow result: expected {'total': 10}\n" in str(info.value)


def test_the_outcome_is_a_string_that_knows_its_report():
    report = replay(order_workflow, History(ORDER))
    assert isinstance(report, ReplayReport)
    assert report.outcome == "suspended" and isinstance(report.outcome, str)
    assert report.outcome.report is report
    assert isinstance(report.next_operations[0], NextOperation)
    assert str(report) == report.explain()
    assert re.match(
        r"replay of tests\.testing\.workflows:order_workflow over 1 recorded operation: suspended", str(report)
    )


def test_the_step_context_logger_is_quiet_while_replaying():
    h = order_history()
    with replayflow.testing.capture_logs() as logs:
        replay(order_workflow, h)
        replay(order_workflow, History(ORDER))
    assert logs.messages == ["order received"]  # only the replay that ran the code for the first time


def _priced(price: int) -> History:
    h = History({"sku": "A1", "qty": 2})
    h.invoke("price", result={"price": price})
    return h


def _line(module: Any, text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(module)
    for offset, line in enumerate(lines):
        if text in line:
            return start + offset if start else offset + 1
    raise AssertionError(text)


def test_wait_for_condition_reports_the_state_its_next_poll_gets():
    start_op = replay(wf.polling_workflow, History()).assert_next("wait_for_condition", "poll", state={"polls": 0})
    assert start_op.function is wf.check_status and start_op.action == "start"

    h = History()
    h.wait_for_condition("poll", state={"polls": 2}, retrying=2)
    replay(wf.polling_workflow, h).assert_suspended(waiting_on=["poll"])

    due = History()
    record = dict(h.operation("poll"), Status="READY")  # the retry delay has passed
    due.add(record)
    poll = replay(wf.polling_workflow, due).assert_next("wait_for_condition", "poll", state={"polls": 2}, attempt=3)
    assert poll.action == "attempt"

    done = History()
    done.wait_for_condition("poll", state={"polls": 3}, attempts=3)
    replay(wf.polling_workflow, done).assert_completed(3)
    gave_up = History()
    gave_up.wait_for_condition("poll", state={"polls": 60}, gave_up=True, attempts=60)
    error = replay(wf.polling_workflow, gave_up).assert_failed(replayflow.WaitForConditionError)
    assert error.last_state == {"polls": 60}

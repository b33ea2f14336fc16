"""The History builder writes real wire histories: ids, field names, payloads and errors as the SDK writes them."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

import replayflow
from replayflow import BatchItemStatus, CompletionReason, ValidationError
from replayflow._ids import operation_id
from replayflow._ops.batch import BatchSerDes
from replayflow._ops.outcome import error_object
from replayflow._serdes import DEFAULT_SERDES
from replayflow.testing import EPOCH, History

from .wire_model import Operation, from_wire, to_wire
from .workflows import order_workflow


def by_name(h: History) -> dict[str, dict]:
    return {op.get("Name"): op for op in h.operations}


def test_root_child_and_branch_ids_are_derived_as_the_sdk_derives_them():
    h = History()
    first = h.step("a")
    with h.child("c") as child:
        inner = h.step("inner")
        with h.child("grandchild") as grandchild:
            deep = h.wait("deep")
    after = h.step("b")
    with h.map("m") as m:
        m.item()
        with m.item():
            in_item = h.step("in-item")
    with h.parallel("flat", nesting="FLAT") as flat, flat.branch("only"):
        in_flat = h.step("in-flat")
    ops = {op["Id"]: op for op in h.operations}
    assert first == operation_id(None, 1)
    assert child.id == operation_id(None, 2) and ops[child.id]["Type"] == "CONTEXT"
    assert inner == operation_id(child.id, 1) and ops[inner]["ParentId"] == child.id
    assert grandchild.id == operation_id(child.id, 2) and ops[grandchild.id]["ParentId"] == child.id
    assert deep == operation_id(grandchild.id, 1) and ops[deep]["ParentId"] == grandchild.id
    assert after == operation_id(None, 3) and "ParentId" not in ops[after]
    assert m.id == operation_id(None, 4)
    item0, item1 = operation_id(m.id, 0), operation_id(m.id, 1)  # branches count from 0
    assert (ops[item0]["Name"], ops[item1]["Name"]) == ("map-item-0", "map-item-1")
    assert ops[item1]["SubType"] == "MapIteration" and ops[item1]["ParentId"] == m.id
    assert in_item == operation_id(item1, 1) and ops[in_item]["ParentId"] == item1
    # FLAT: no branch operation; ids under the branch, ParentId the batch itself
    flat_branch = operation_id(flat.id, 0)
    assert flat_branch not in ops
    assert in_flat == operation_id(flat_branch, 1) and ops[in_flat]["ParentId"] == flat.id


def test_every_operation_is_a_valid_wire_operation():
    h = History({"x": 1})
    h.step("ok", result={"a": [1, 2]})
    h.step("failed", error=KeyError("k"))
    h.step("retrying", retrying=2, error=TimeoutError("slow"))
    h.step("ready", ready=1)
    h.step("started", started=True)
    h.wait("timer", seconds=90, elapsed=False)
    h.callback("cb", result="raw")
    h.callback("cb-timeout", timed_out=True)
    h.wait_for_callback("approval", result={"ok": True})
    h.wait_for_callback("pending-approval")
    h.invoke("inv", error="boom")
    h.wait_for_condition("poll", state={"n": 2}, retrying=2)
    with h.parallel("p", completed=True) as p:
        p.branch(result=1)
        p.branch(error=ValueError("v"))
    h.child("big", replay_children=True)
    for op in h.operations:
        assert to_wire(from_wire(op, Operation)) == op  # only wire field names, with wire types


def test_payloads_and_errors_are_encoded_as_the_interpreter_encodes_them():
    h = History({"order": 1})
    error = ValueError("card declined")
    h.step("ok", result={"b": 2, "a": [1, None]})
    h.step("none")
    h.step("raw", payload="custom-format")
    h.step("bad", error=error)
    ops = by_name(h)
    assert h.operations[0]["ExecutionDetails"] == {"InputPayload": '{"order":1}'}
    assert ops["ok"]["StepDetails"] == {"Attempt": 1, "Result": DEFAULT_SERDES.serialize({"b": 2, "a": [1, None]})}
    assert ops["none"]["StepDetails"]["Result"] == "null"
    assert ops["raw"]["StepDetails"]["Result"] == "custom-format"
    assert ops["bad"]["Status"] == "FAILED"
    assert ops["bad"]["StepDetails"]["Error"] == error_object(error)
    assert ops["bad"]["StepDetails"]["Error"]["ErrorType"] == "ValueError"


def test_step_states():
    h = History()
    h.step("retrying", retrying=2, error=TimeoutError("slow"), retry_delay=30)
    h.step("ready", ready=3)
    h.step("started", started=True)
    h.step("tried", result=1, attempts=4)
    ops = by_name(h)
    retrying = ops["retrying"]
    assert retrying["Status"] == "PENDING"
    assert retrying["StepDetails"]["Attempt"] == 2
    assert retrying["StepDetails"]["Error"]["ErrorMessage"] == "slow"
    assert retrying["StepDetails"]["NextAttemptTimestamp"] == retrying["StartTimestamp"] + 30_000
    assert (ops["ready"]["Status"], ops["ready"]["StepDetails"]["Attempt"]) == ("READY", 3)
    assert (ops["started"]["Status"], ops["started"]["StepDetails"]) == ("STARTED", {"Attempt": 0})
    assert ops["tried"]["StepDetails"]["Attempt"] == 4
    assert all("EndTimestamp" not in ops[n] for n in ("retrying", "ready", "started"))


def test_the_fake_clock_moves_with_waits_and_advance():
    h = History(start=EPOCH)
    h.step("at-start")
    h.wait("five-minutes", seconds=300)
    h.advance(dt.timedelta(hours=1))
    h.step("later")
    h.wait("pending", seconds=10, elapsed=False)
    ops = by_name(h)
    start = int(EPOCH.timestamp() * 1000)
    assert ops["at-start"]["StartTimestamp"] == ops["at-start"]["EndTimestamp"] == start
    assert ops["five-minutes"]["WaitDetails"] == {"ScheduledEndTimestamp": start + 300_000}
    assert ops["five-minutes"]["EndTimestamp"] == start + 300_000
    assert ops["later"]["StartTimestamp"] == start + 300_000 + 3_600_000
    assert ops["pending"]["Status"] == "STARTED" and "EndTimestamp" not in ops["pending"]
    assert h.now == EPOCH + dt.timedelta(seconds=300 + 3600)


def test_callbacks_and_wait_for_callback_are_recorded_as_the_sdk_records_them():
    h = History()
    h.callback("pending")
    h.callback("ok", result="yes")
    h.callback("json", result={"approved": True})
    h.callback("failed", error={"ErrorType": "Rejected", "ErrorMessage": "no"})
    h.callback("heartbeat", heartbeat_timed_out=True)
    with pytest.raises(ValidationError):
        h.callback("both", error="x", timed_out=True)
    ops = by_name(h)
    assert ops["pending"]["Status"] == "STARTED" and set(ops["pending"]["CallbackDetails"]) == {"CallbackId"}
    assert ops["ok"]["CallbackDetails"]["Result"] == "yes"
    assert ops["json"]["CallbackDetails"]["Result"] == '{"approved":true}'
    assert ops["failed"]["Status"] == "FAILED"
    assert ops["heartbeat"]["Status"] == "TIMED_OUT"
    assert ops["heartbeat"]["CallbackDetails"]["Error"]["ErrorType"] == "Callback.Heartbeat"
    ids = [op["CallbackDetails"]["CallbackId"] for op in h.operations if op["Type"] == "CALLBACK"]
    assert len(set(ids)) == len(ids) and h.callback_id("ok") == ops["ok"]["CallbackDetails"]["CallbackId"]

    w = History()
    context = w.wait_for_callback("approval", result={"approved": True})
    ops = by_name(w)
    assert ops["approval"]["Id"] == context and ops["approval"]["SubType"] == "WaitForCallback"
    assert ops["approval"]["ContextDetails"] == {"Result": '{"approved":true}'}
    callback, submitter = ops["approval create callback id"], ops["approval submitter"]
    assert callback["Id"] == operation_id(context, 1) and callback["ParentId"] == context
    assert submitter["Id"] == operation_id(context, 2) and submitter["Type"] == "STEP"
    assert callback["CallbackDetails"]["Result"] == '{"approved":true}'

    pending = History()
    pending.wait_for_callback("approval")
    ops = by_name(pending)
    assert ops["approval"]["Status"] == "STARTED" and "ContextDetails" not in ops["approval"]
    assert ops["approval create callback id"]["Status"] == "STARTED"
    assert ops["approval submitter"]["Status"] == "SUCCEEDED"

    failed = History()
    failed.wait_for_callback("approval", timed_out=True)
    ops = by_name(failed)
    assert ops["approval"]["Status"] == "FAILED" and ops["approval create callback id"]["Status"] == "TIMED_OUT"
    submitter_failed = History()
    submitter_failed.wait_for_callback("approval", submitter_error=ConnectionError("smtp down"))
    assert by_name(submitter_failed)["approval submitter"]["Status"] == "FAILED"


def test_a_completed_batch_records_the_result_the_sdk_would_replay():
    h = History()
    with h.map("m", completed=CompletionReason.MIN_SUCCESSFUL_REACHED) as m:
        m.item(result={"v": 1})
        m.item(error=RuntimeError("boom"))
        with m.item("custom-name"):
            h.step("still-running", started=True)
    summary = h.operation("m")
    assert summary["Status"] == "SUCCEEDED"
    result = BatchSerDes(lambda index: DEFAULT_SERDES).deserialize(summary["ContextDetails"]["Result"], None)
    assert result.completion_reason is CompletionReason.MIN_SUCCESSFUL_REACHED
    assert [(i.index, i.status, i.name) for i in result.all] == [
        (0, BatchItemStatus.SUCCEEDED, "map-item-0"),
        (1, BatchItemStatus.FAILED, "map-item-1"),
        (2, BatchItemStatus.STARTED, "custom-name"),
    ]
    assert result.all[0].result == {"v": 1}
    assert (result.all[1].error.error_type, result.all[1].error.error_message) == ("RuntimeError", "boom")

    shortcut = History()
    shortcut.parallel("p", results=["a", "b"])
    result = BatchSerDes(lambda index: DEFAULT_SERDES).deserialize(
        shortcut.operation("p")["ContextDetails"]["Result"], None
    )
    assert result.get_results() == ["a", "b"] and result.completion_reason is CompletionReason.ALL_COMPLETED
    assert [op["Name"] for op in shortcut.operations[2:]] == ["parallel-branch-0", "parallel-branch-1"]

    running = History()
    running.parallel("p")
    assert running.operation("p")["Status"] == "STARTED"


def test_a_handler_invoked_with_the_builder_event_replays_it():
    h = History({"id": "o-1", "items": ["A1"], "amount": 30})
    h.step("reserve", result={"sku": "A1"})
    h.wait("cool-off", seconds=300)
    h.child("billing", result={"charged": 30})
    h.step("ship", result="T-1")

    def no_service(operation: str, request: dict) -> dict:
        raise AssertionError(f"nothing should be sent: {operation}")

    with replayflow.use_transport(replayflow.MockTransport(no_service)):
        out = order_workflow(h.event(), None)
    assert out == {"Status": "SUCCEEDED", "Result": '{"order":"o-1","tracking":"T-1","charged":30}'}


def test_json_round_trips_through_the_loader():
    h = History([1])
    h.step("a", result=2)
    loaded = replayflow.testing.load_history(h.to_json())
    assert list(loaded.operations) == h.operations
    assert loaded.arn == h.arn and loaded.format == "operations"
    assert orjson.loads(h.to_json())["DurableExecutionArn"] == h.arn


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda h: h.step("x", result=1, error="e"), "give result= or error="),
        (lambda h: h.step("x", retrying=1, ready=1), "retrying= or ready="),
        (lambda h: h.step("x", started=True, error="e"), "a started step"),
        (lambda h: h.step("x", result=1, payload="1"), "result= or payload="),
        (lambda h: h.invoke("x", error="e", stopped=True), "at most one of"),
        (lambda h: h.parallel("p", nesting="SIDEWAYS"), "nesting must be"),
        (lambda h: h.step(7), "name must be a str"),
    ],
)
def test_contradictions_are_refused(build, message):
    with pytest.raises(ValidationError, match=message):
        build(History())


def test_operations_directly_inside_a_batch_block_are_refused():
    h = History()
    with h.parallel("p"), pytest.raises(ValidationError, match=r"inside `with block\.branch"):
        h.step("lost")


def test_the_history_reads_back_by_name_and_is_a_copy():
    h = History()
    h.step("a", result=1)
    ops = h.operations
    ops[1]["Status"] = "FAILED"
    assert h.operation("a")["Status"] == "SUCCEEDED"
    assert len(h) == 2 and [op["Type"] for op in h] == ["EXECUTION", "STEP"]
    with pytest.raises(KeyError, match="no operation named 'b'"):
        h.operation("b")
    assert "STEP/Step 'a' SUCCEEDED" in repr(h)

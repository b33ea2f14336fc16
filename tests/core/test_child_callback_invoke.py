"""Child contexts, callbacks, wait_for_callback and chained invokes: first run, replay, failures."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

import replayflow
from replayflow import (
    CallbackFailedError,
    CallbackHeartbeatTimeoutError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    InvokeFailedError,
    InvokeStoppedError,
    InvokeTimedOutError,
    JsonSerDes,
)

from .wire import Recorder, event, invoke, op, op_id, step


def test_child_context_has_its_own_namespace_and_checkpoint():
    def billing(ctx, amount):
        charged = yield ctx.step(lambda: amount * 2, name="charge")
        return {"charged": charged}

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.run_in_child_context(billing, 21))

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '{"charged":42}'
    child = op_id(1)
    assert [(u["Type"], u["Action"], u.get("Name"), u.get("ParentId"), u["Id"]) for u in rec.updates] == [
        ("CONTEXT", "START", "billing", None, child),
        ("STEP", "START", "charge", child, op_id(1, child)),
        ("STEP", "SUCCEED", "charge", child, op_id(1, child)),
        ("CONTEXT", "SUCCEED", "billing", None, child),
    ]
    assert rec.updates[-1]["Payload"] == '{"charged":42}'


def test_a_finished_child_replays_its_result_without_running():
    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.run_in_child_context(lambda c: pytest.fail("ran"), name="c"))

    recorded = op(1, "CONTEXT", "SUCCEEDED", name="c", ContextDetails={"Result": '"cached"'})
    assert invoke(wf, event(recorded))["Result"] == '"cached"'


def test_unnamed_children_get_a_stable_position_name():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(lambda: 1)
        return (yield ctx.run_in_child_context(lambda c: "x"))

    rec = Recorder()
    invoke(wf, event(), rec)
    assert rec.updates[-1]["Name"] == "child-context-2"


def test_a_failing_child_fails_its_context_and_raises_child_context_error():
    def body(ctx):
        yield ctx.step(lambda: 1, name="ok")
        raise LookupError("no such account")

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.run_in_child_context(body, name="acct")
        except ChildContextError as e:
            return [e.error_type, e.error_message]

    rec = Recorder()
    assert orjson.loads(invoke(wf, event(), rec)["Result"]) == ["LookupError", "no such account"]
    fail = rec.updates[-1]
    assert (fail["Type"], fail["Action"], fail["Error"]["ErrorType"]) == ("CONTEXT", "FAIL", "LookupError")
    recorded = op(1, "CONTEXT", "FAILED", name="acct", ContextDetails={"Error": fail["Error"]})
    assert orjson.loads(invoke(wf, event(recorded))["Result"]) == ["LookupError", "no such account"]


def test_a_child_result_over_the_limit_is_rebuilt_by_replaying_the_children():
    big = "y" * (300 * 1024)

    def body(ctx):
        seed = yield ctx.step(lambda: "y", name="seed")
        return seed * (300 * 1024)

    @replayflow.durable
    def wf(_, ctx):
        value = yield ctx.run_in_child_context(body, name="big")
        yield ctx.wait(seconds=1)
        return len(value)

    rec = Recorder()
    assert invoke(wf, event(), rec) == {"Status": "PENDING"}
    done = next(u for u in rec.updates if u["Type"] == "CONTEXT" and u["Action"] == "SUCCEED")
    assert done["ContextOptions"] == {"ReplayChildren": True}
    assert done["Payload"] == ""
    records = [
        op(1, "CONTEXT", "SUCCEEDED", name="big", ContextDetails={"Result": "", "ReplayChildren": True}),
        step(1, name="seed", parent=op_id(1), result="y"),
        op(2, "WAIT", "SUCCEEDED"),
    ]
    again = Recorder()
    assert invoke(wf, event(*records), again)["Result"] == str(len(big))
    assert again.checkpoints == []


def test_callback_ids_come_from_the_service_and_results_are_raw_strings_by_default():
    @replayflow.durable
    def wf(_, ctx):
        cb = yield ctx.create_callback(name="approval", timeout=60, heartbeat_timeout=10)
        yield ctx.step(lambda cid: None, cb.callback_id, name="notify")
        return (yield cb.result())

    rec = Recorder()
    assert invoke(wf, event(), rec) == {"Status": "PENDING"}
    start = rec.checkpoints[0][0]
    assert start["CallbackOptions"] == {"TimeoutSeconds": 60, "HeartbeatTimeoutSeconds": 10}
    assert len(rec.checkpoints[0]) == 1  # the callback START is sent alone, at once: its id is needed
    done = op(
        1,
        "CALLBACK",
        "SUCCEEDED",
        name="approval",
        CallbackDetails={"CallbackId": "Y2I=", "Result": '{"approved": true}'},
    )
    out = invoke(wf, event(done, step(2, name="notify", result=None)))
    assert out["Result"] == orjson.dumps('{"approved": true}').decode()


def test_callback_results_can_be_parsed_as_json():
    @replayflow.durable
    def wf(_, ctx):
        cb = yield ctx.create_callback(serdes=JsonSerDes())
        return (yield from cb.result())["approved"]

    done = op(1, "CALLBACK", "SUCCEEDED", CallbackDetails={"CallbackId": "Y2I=", "Result": '{"approved": true}'})
    assert invoke(wf, event(done))["Result"] == "true"


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("FAILED", {"ErrorType": "RejectedError", "ErrorMessage": "not approved"}, CallbackFailedError),
        ("TIMED_OUT", {"ErrorType": "Callback.Timeout", "ErrorMessage": "timed out"}, CallbackTimeoutError),
        (
            "TIMED_OUT",
            {"ErrorType": "Callback.Heartbeat", "ErrorMessage": "no heartbeat"},
            CallbackHeartbeatTimeoutError,
        ),
    ],
)
def test_callback_failures_raise_distinct_errors(status, error, expected):
    @replayflow.durable
    def wf(_, ctx):
        cb = yield ctx.create_callback()
        try:
            yield cb.result()
        except replayflow.CallbackError as e:
            return [type(e).__name__, e.error_type, e.error_message, e.callback_id]

    rec = op(1, "CALLBACK", status, CallbackDetails={"CallbackId": "Y2I=", "Error": error})
    assert orjson.loads(invoke(wf, event(rec))["Result"]) == [
        expected.__name__,
        error["ErrorType"],
        error["ErrorMessage"],
        "Y2I=",
    ]


def test_wait_for_callback_is_a_context_with_a_callback_and_a_submitter_step():
    sent = []

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.wait_for_callback(sent.append, name="approval", timeout=300))

    rec = Recorder()
    assert invoke(wf, event(), rec) == {"Status": "PENDING"}
    context = op_id(1)
    assert [(u["Type"], u["Action"], u.get("Name"), u.get("ParentId")) for u in rec.updates] == [
        ("CONTEXT", "START", "approval", None),
        ("CALLBACK", "START", "approval create callback id", context),
        ("STEP", "START", "approval submitter", context),
        ("STEP", "SUCCEED", "approval submitter", context),
    ]
    assert rec.updates[0]["SubType"] == "WaitForCallback"
    assert sent == ["Y2Itb2s="]


def _wait_for_callback_records(callback_status, callback_details, step_status="SUCCEEDED", **step_kw):
    context = op_id(1)
    return [
        op(1, "CONTEXT", "STARTED", name="approval", sub_type="WaitForCallback"),
        op(
            1,
            "CALLBACK",
            callback_status,
            name="approval create callback id",
            parent=context,
            CallbackDetails={"CallbackId": "Y2I=", **callback_details},
        ),
        step(2, step_status, name="approval submitter", parent=context, **step_kw),
    ]


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (
            _wait_for_callback_records("FAILED", {"Error": {"ErrorType": "Rejected", "ErrorMessage": "no"}}),
            CallbackFailedError,
        ),
        (_wait_for_callback_records("TIMED_OUT", {"Error": {"ErrorType": "Callback.Timeout"}}), CallbackTimeoutError),
        (
            _wait_for_callback_records("STARTED", {}, "FAILED", error={"ErrorType": "OSError", "ErrorMessage": "down"}),
            CallbackSubmitterError,
        ),
    ],
)
def test_wait_for_callback_failures_map_to_callback_errors_live_and_on_replay(records, expected):
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.wait_for_callback(lambda cid: None, name="approval", retry=replayflow.RetryPresets.none())
        except replayflow.CallbackError as e:
            return type(e).__name__

    live = Recorder()
    assert invoke(wf, event(*records), live)["Result"] == f'"{expected.__name__}"'
    fail = live.updates[-1]
    assert (fail["Type"], fail["Action"]) == ("CONTEXT", "FAIL")
    replayed = [
        op(
            1, "CONTEXT", "FAILED", name="approval", sub_type="WaitForCallback", ContextDetails={"Error": fail["Error"]}
        ),
        *records[1:],
    ]
    assert invoke(wf, event(*replayed))["Result"] == f'"{expected.__name__}"'


def test_invoke_sends_the_payload_and_waits_for_the_result():
    @replayflow.durable
    def wf(_, ctx):
        return (
            yield ctx.invoke(
                "arn:aws:lambda:us-east-1:1:function:child:$LATEST", {"x": 1}, name="child", tenant_id="t-1"
            )
        )

    rec = Recorder()
    assert invoke(wf, event(), rec) == {"Status": "PENDING"}
    (start,) = rec.updates
    assert start["ChainedInvokeOptions"] == {
        "FunctionName": "arn:aws:lambda:us-east-1:1:function:child:$LATEST",
        "TenantId": "t-1",
    }
    assert start["Payload"] == '{"x":1}'
    done = op(1, "CHAINED_INVOKE", "SUCCEEDED", name="child", ChainedInvokeDetails={"Result": '{"y":2}'})
    assert invoke(wf, event(done))["Result"] == '{"y":2}'


@pytest.mark.parametrize(
    ("status", "expected"),
    [("FAILED", InvokeFailedError), ("TIMED_OUT", InvokeTimedOutError), ("STOPPED", InvokeStoppedError)],
)
def test_invoke_failures_raise_distinct_errors(status, expected):
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.invoke("child:1", None)
        except replayflow.InvokeError as e:
            return [type(e).__name__, e.function_name, e.error_type]

    rec = op(1, "CHAINED_INVOKE", status, ChainedInvokeDetails={"Error": {"ErrorType": "Boom", "ErrorMessage": "x"}})
    assert orjson.loads(invoke(wf, event(rec))["Result"]) == [expected.__name__, "child:1", "Boom"]


def test_an_invoke_the_service_fails_at_once_raises_in_the_same_invocation():
    def handle(operation, request):
        (update,) = request["Updates"]
        failed = op(
            1,
            "CHAINED_INVOKE",
            "FAILED",
            id=update["Id"],
            ChainedInvokeDetails={"Error": {"ErrorType": "ResourceNotFound", "ErrorMessage": "no such fn"}},
        )
        return {"CheckpointToken": "t2", "NewExecutionState": {"Operations": [failed]}}

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.invoke("missing:1", None)
        except InvokeFailedError as e:
            return e.error_message

    with replayflow.use_transport(replayflow.MockTransport(handle)):
        assert wf(event(), None)["Result"] == '"no such fn"'


@pytest.mark.parametrize(
    "make",
    [
        lambda ctx: ctx.invoke("", 1),
        lambda ctx: ctx.invoke("f", 1, tenant_id=5),
        lambda ctx: ctx.create_callback(timeout=0.5),
        lambda ctx: ctx.create_callback(heartbeat_timeout=-1),
        lambda ctx: ctx.wait_for_callback("not callable"),
        lambda ctx: ctx.run_in_child_context(42),
        lambda ctx: ctx.run_in_child_context(lambda c: 1, sub_type="has spaces"),
        lambda ctx: ctx.wait_for_condition(42, wait_strategy=replayflow.WaitStrategy()),
    ],
)
def test_bad_arguments_raise_validation_errors(make):
    @replayflow.durable
    def wf(_, ctx):
        yield make(ctx)

    out = invoke(wf, event())
    assert out["Error"]["ErrorType"] == "replayflow.ValidationError"


@dataclasses.dataclass
class Receipt:
    id: str
    total: float


def billing(ctx: replayflow.DurableContext, total: float) -> replayflow.Workflow[Receipt]:
    charged = yield ctx.step(lambda: total, name="charge")
    return Receipt("r-1", charged)


def test_a_child_context_result_comes_back_as_its_generator_return_type():
    @replayflow.durable
    def wf(_, ctx):
        receipt = yield ctx.run_in_child_context(billing, 9.5)
        return [type(receipt).__name__, receipt.total]

    assert invoke(wf, event())["Result"] == '["Receipt",9.5]'
    recorded = op(1, "CONTEXT", "SUCCEEDED", name="billing", ContextDetails={"Result": '{"id":"r-1","total":9.5}'})
    assert invoke(wf, event(recorded))["Result"] == '["Receipt",9.5]'

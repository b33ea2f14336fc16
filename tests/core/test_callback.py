"""Callbacks (``replayflow/_ops/callback.py``): ``ctx.create_callback`` and ``ctx.wait_for_callback``."""

from __future__ import annotations

import orjson
import pytest

import replayflow
from replayflow import (
    CallbackFailedError,
    CallbackHeartbeatTimeoutError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    JsonSerDes,
)

from .wire import Recorder, event, invoke, op, op_id, step


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

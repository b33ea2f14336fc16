"""``ctx.invoke`` (``replayflow/_ops/invoke.py``): chained invokes of other functions."""

from __future__ import annotations

import orjson
import pytest

import replayflow
from replayflow import (
    InvokeFailedError,
    InvokeStoppedError,
    InvokeTimedOutError,
)

from .wire import Recorder, event, invoke, op


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

"""``ctx.run_in_child_context`` (``replayflow/_ops/child.py``): its own namespace and checkpoint."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

import replayflow
from replayflow import (
    ChildContextError,
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

"""Replay: recorded results come back without running user code; mismatches fail loudly."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import orjson
import pytest

import replayflow
from replayflow import NonDeterminismError, StepError

from .wire import Recorder, event, invoke, op, op_id, step


def body_must_not_run(*args: Any) -> Any:
    raise AssertionError("a replayed step body ran")


def test_succeeded_steps_replay_their_results_without_running():
    @replayflow.durable
    def wf(order, ctx):
        a = yield ctx.step(body_must_not_run, order["id"], name="reserve")
        b = yield from ctx.step(body_must_not_run, a, name="charge")
        return {"a": a, "b": b}

    rec = Recorder()
    out = invoke(
        wf, event(step(1, name="reserve", result={"r": 1}), step(2, name="charge", result=[1, 2]), input={"id": 7}), rec
    )
    assert out == {"Status": "SUCCEEDED", "Result": '{"a":{"r":1},"b":[1,2]}'}
    assert rec.checkpoints == []  # nothing new to record


def test_failed_step_replays_the_recorded_error_identically():
    seen = []

    def fails():
        raise KeyError("missing")

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(fails, retry=replayflow.RetryPresets.none())
        except StepError as e:
            seen.append((type(e), e.error_type, e.error_message, e.operation_name, bool(e.stack_trace)))
        return "handled"

    first = Recorder()
    assert invoke(wf, event(), first)["Result"] == '"handled"'
    fail = first.updates[-1]
    assert (fail["Action"], fail["Error"]["ErrorType"]) == ("FAIL", "KeyError")
    recorded = step(1, "FAILED", name="fails", error=fail["Error"])
    assert invoke(wf, event(recorded))["Result"] == '"handled"'
    assert seen[0] == seen[1] == (StepError, "KeyError", "'missing'", "fails", True)


def test_step_returns_the_deserialized_result_even_on_first_run():
    class Upper:
        def serialize(self, value, context):
            return value.upper()

        def deserialize(self, data, context):
            return data

    @replayflow.durable
    def wf(text, ctx):
        return (yield ctx.step(lambda: text, serdes=Upper()))

    rec = Recorder()
    assert invoke(wf, event(input="hello world"), rec)["Result"] == '"HELLO WORLD"'
    assert rec.updates[-1]["Payload"] == "HELLO WORLD"


@dataclasses.dataclass
class Shipment:
    tracking: str
    shipped_at: dt.datetime
    items: list[str]


def ship(order_id: str) -> Shipment:
    return Shipment(f"T-{order_id}", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), ["a", "b"])


def test_typed_results_come_back_as_the_annotated_type_on_first_run_and_replay():
    got: list[Any] = []

    @replayflow.durable
    def wf(order_id, ctx):
        shipment = yield from ctx.step(ship, order_id)
        got.append(shipment)
        return shipment.tracking

    rec = Recorder()
    assert invoke(wf, event(input="o1"), rec)["Result"] == '"T-o1"'
    payload = rec.updates[-1]["Payload"]
    assert orjson.loads(payload) == {"tracking": "T-o1", "shipped_at": "2026-01-02T03:04:05+00:00", "items": ["a", "b"]}
    assert invoke(wf, event(step(1, name="ship", raw=payload), input="o1"))["Result"] == '"T-o1"'
    assert got[0] == got[1] == ship("o1")


def test_result_type_can_be_given_explicitly():
    @replayflow.durable
    def wf(_, ctx):
        s = yield ctx.step(
            lambda: {"tracking": "x", "shipped_at": "2026-01-01T00:00:00Z", "items": []}, result_type=Shipment
        )
        return type(s).__name__

    assert invoke(wf, event())["Result"] == '"Shipment"'


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (op(1, "WAIT", "SUCCEEDED", name="reserve"), "WAIT/Wait named 'reserve'"),
        (step(1, name="other"), "STEP/Step named 'other'"),
        (step(1, name="reserve", sub_type="WaitForCondition"), "STEP/WaitForCondition named 'reserve'"),
        (step(1, name="reserve", parent=op_id(9), id=op_id(1)), "under parent"),
    ],
)
def test_a_changed_operation_fails_with_non_determinism_naming_both_sides(recorded, expected):
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="reserve")

    out = invoke(wf, event(recorded))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.NonDeterminismError"
    message = out["Error"]["ErrorMessage"]
    assert "operation #1 of the workflow" in message
    assert op_id(1) in message
    assert expected in message
    assert "STEP/Step named 'reserve'" in message  # what the code does now
    assert "test_replay.py" in message  # where the code yielded it


def test_non_determinism_cannot_be_caught_by_the_workflow():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(body_must_not_run, name="a")
        except Exception:
            return "swallowed"

    out = invoke(wf, event(op(1, "WAIT", "SUCCEEDED")))
    assert out["Status"] == "FAILED"
    assert "NonDeterminismError" in out["Error"]["ErrorType"]


def test_non_determinism_can_fail_the_invocation_instead_of_the_execution():
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="reserve")

    rec = Recorder()
    with pytest.raises(NonDeterminismError, match="named 'other'") as raised:
        invoke(replayflow.durable(on_non_determinism="retry")(wf), event(step(1, name="other")), rec)
    assert raised.value.operation_id == op_id(1)
    assert rec.checkpoints == []  # nothing recorded: the service retries the invocation, the execution lives on
    assert invoke(replayflow.durable(wf), event(step(1, name="other")))["Status"] == "FAILED"  # the default
    with pytest.raises(replayflow.ValidationError, match='"fail" or "retry"'):
        replayflow.durable(on_non_determinism="ignore")(wf)  # type: ignore[arg-type]


def test_code_that_ends_before_the_recorded_history_is_non_deterministic():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(body_must_not_run, name="a")
        return "done early"

    out = invoke(wf, event(step(1, name="a"), step(2, name="b")))
    assert out["Status"] == "FAILED"
    assert "returned after 1 operation(s)" in out["Error"]["ErrorMessage"]
    assert "STEP/Step named 'b'" in out["Error"]["ErrorMessage"]


def test_the_error_type_is_public():
    with pytest.raises(NonDeterminismError):
        raise NonDeterminismError("x")
    assert replayflow.NonDeterminismError.__module__ == "replayflow"


def test_a_workflow_that_never_yields_works():
    @replayflow.durable
    def wf(x, ctx):
        return x * 2

    assert invoke(wf, event(input=21)) == {"Status": "SUCCEEDED", "Result": "42"}


def test_a_workflow_that_raises_fails_with_the_error():
    @replayflow.durable
    def wf(x, ctx):
        yield ctx.wait(seconds=1)
        raise ValueError("bad input")

    out = invoke(wf, event(op(1, "WAIT", "SUCCEEDED")))
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "ValueError"
    assert out["Error"]["ErrorMessage"] == "bad input"
    assert any("raise ValueError" in line for line in out["Error"]["StackTrace"])


def test_yielding_something_that_is_not_an_operation_raises_type_error_in_the_workflow():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield 42
        except TypeError as e:
            return str(e)

    assert "must yield operations built by ctx" in invoke(wf, event())["Result"]


def test_the_undecorated_workflow_stays_reachable():
    def wf(_, ctx):
        return 1

    handler = replayflow.durable(wf)
    assert handler.workflow is wf
    assert handler.__name__ == "wf"


def test_is_replaying_flips_when_the_code_passes_the_last_recorded_operation():
    seen = []

    @replayflow.durable
    def wf(_, ctx):
        seen.append(("start", ctx.is_replaying()))
        yield ctx.step(body_must_not_run, name="a")
        seen.append(("after a", ctx.is_replaying()))
        yield ctx.wait(seconds=5, name="w")
        seen.append(("after w", ctx.is_replaying()))
        yield ctx.step(lambda: 1, name="b")

    invoke(wf, event(step(1, name="a"), op(2, "WAIT", "SUCCEEDED", name="w")))
    assert seen == [("start", True), ("after a", True), ("after w", False)]

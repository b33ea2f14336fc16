"""A history the code cannot read fails the execution clearly and changes nothing."""

from __future__ import annotations

import dataclasses

import replayflow

from .wire import Recorder, event, invoke, op_id, step


def test_a_corrupt_recorded_payload_fails_with_a_message_naming_the_operation():
    @replayflow.durable
    def wf(_, ctx):
        value = yield ctx.step(lambda: 1, name="price")
        return value

    rec = Recorder()
    out = invoke(wf, event(step(1, name="price", raw="{not json")), rec)
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.SerDesError"
    assert "'price'" in out["Error"]["ErrorMessage"]
    assert op_id(1) in out["Error"]["ErrorMessage"]
    assert rec.checkpoints == []  # nothing was overwritten


@dataclasses.dataclass
class Price:
    amount: int


def price() -> Price:
    return Price(1)


def test_a_record_that_no_longer_matches_the_result_type_fails_clearly():
    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(price)).amount

    out = invoke(wf, event(step(1, name="price", result={"cents": 5})))
    assert out["Status"] == "FAILED"
    assert "cannot read the recorded result of step 'price'" in out["Error"]["ErrorMessage"]

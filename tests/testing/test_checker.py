"""The replay-equivalence checker of run() and start(): what it catches, and turning it off."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import replayflow
from replayflow import ReplayDivergenceError
from replayflow.testing import run, start, time_out

from . import equivalence_workflows as wf

_COUNTER = itertools.count()


class DriftingSerDes:
    """A serdes whose deserialize is not a function of its payload (it appends a counter)."""

    def serialize(self, value: Any, context: Any) -> str:
        return str(value)

    def deserialize(self, data: str, context: Any) -> str:
        return f"{data}#{next(_COUNTER)}"


@replayflow.durable
def drifting(event: Any, ctx: Any) -> Any:
    token = yield ctx.step(lambda: "token", name="token", serdes=DriftingSerDes())
    yield ctx.wait(seconds=30, name="pause")
    return token.split("#")[0]


def test_a_value_that_differs_on_replay_fails_the_run_naming_the_operation():
    with pytest.raises(ReplayDivergenceError) as caught:
        run(drifting, {})
    error = caught.value
    assert error.frame == "the workflow" and error.operation == "Step 'token'" and error.position == 1
    assert error.first_run is not None and error.first_run.startswith("sent 'token#")
    assert error.replay is not None and error.replay.startswith("sent 'token#") and error.replay != error.first_run
    assert "operation #1 (Step 'token') of the workflow" in str(error)


def test_the_checker_can_be_turned_off():
    assert run(drifting, {}, check_replay=False).assert_succeeded() == "token"
    with start(drifting, {}, check_replay=False) as execution:
        assert execution.checker is None
        assert execution.advance(30).finish().succeeded


def test_start_raises_the_divergence_from_the_call_that_drove_it(monkeypatch):
    with pytest.raises(ReplayDivergenceError, match="Step 'token'"):
        start(drifting, {})  # the replay after the first invocation already differs
    monkeypatch.setattr(replayflow._ops.child, "with_error_class", lambda error, cls: error)  # see below
    with start(wf.escalate, {}) as execution:
        assert execution.checker is not None and execution.checker.divergence is None
        with pytest.raises(ReplayDivergenceError, match="ChildContext 'approval'"):
            execution.advance(60)  # the callback times out


def test_an_outcome_read_from_records_the_service_leaves_out_is_caught(monkeypatch):
    # Undo the fix of the callback error class: the class then depends on the WaitForCallback's children,
    # which the service leaves out once it finished; the replay from scratch sees them absent.
    monkeypatch.setattr(replayflow._ops.child, "with_error_class", lambda error, cls: error)
    with pytest.raises(ReplayDivergenceError) as caught:
        run(wf.escalate, {}, callbacks={"approval": time_out()})
    assert caught.value.operation == "ChildContext 'approval'"
    assert "thrown replayflow.CallbackTimeoutError" in str(caught.value.first_run)
    assert "thrown replayflow.CallbackError" in str(caught.value.replay)


def test_an_ordinary_run_is_checked_after_every_invocation():
    with start(wf.map3, {}) as execution:
        result = execution.advance(60).advance(3600).finish()
        checker = execution.checker
    assert result.assert_succeeded() == [0, 10, 20]
    assert checker is not None and checker.divergence is None
    assert checker.invocations >= 3 and checker.replays == checker.invocations
    # every frame was traced: the workflow and the three map items
    assert len(checker.first_run) == 4


def test_a_divergence_in_a_huge_value_is_shown_where_it_differs() -> None:
    from replayflow.testing._equivalence import _clip

    before, now = "x" * 5000 + "AAA" + "y" * 5000, "x" * 5000 + "BBB" + "y" * 5000
    shown_before, shown_now = _clip(before, now)
    assert len(shown_before) < 300 and "AAA" in shown_before and shown_before.startswith("...")
    assert "BBB" in shown_now and shown_now.endswith("...")
    assert _clip("short", "other") == ("short", "other")

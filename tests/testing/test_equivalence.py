"""Replay equivalence on the local service: error classes and batch identity, first run and every replay.

Each case runs the way a user runs it: ``run()`` / ``start()`` on the local service (whose invocations
leave out the operations inside a finished context), ``replay()`` over what the service hands an
invocation, and ``replayflow replay`` from a shell.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from replayflow import NonDeterminismError
from replayflow.local.engine import TERMINAL_OP
from replayflow.testing import RunResult, fail, heartbeat, replay, run, start, time_out

from . import equivalence_workflows as wf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _calls():
    wf.CALLS.clear()


def as_invoked(result: RunResult) -> list[dict[str, Any]]:
    """The operations as the service sends them to an invocation: none inside a finished context."""
    ops = {op["Id"]: op for op in result.operations}

    def visible(op: dict[str, Any]) -> bool:
        parent = ops.get(op.get("ParentId") or "")
        while parent is not None:
            if parent["Status"] in TERMINAL_OP and not (parent.get("ContextDetails") or {}).get("ReplayChildren"):
                return False
            parent = ops.get(parent.get("ParentId") or "")
        return True

    return [op for op in result.operations if visible(op)]


def cli_replay(tmp_path: Path, operations: list[dict[str, Any]], workflow: str) -> subprocess.CompletedProcess[str]:
    history = tmp_path / "history.json"
    history.write_text(json.dumps({"Operations": operations}, default=str))
    return subprocess.run(
        [sys.executable, "-m", "replayflow", "replay", str(history), f"tests.testing.equivalence_workflows:{workflow}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- error classes come from the operation's own record ------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "answer", "expected"),
    [
        ({}, time_out(), "escalated after CallbackTimeoutError"),
        ({"heartbeat": 20}, time_out(), "escalated after CallbackHeartbeatTimeoutError"),
        ({"heartbeat": 20}, [heartbeat(after=10), time_out()], "escalated after CallbackHeartbeatTimeoutError"),
        ({}, fail("over budget", after=5), "refused: over budget"),
    ],
)
def test_a_caught_callback_error_keeps_its_class_on_every_replay(event, answer, expected):
    result = run(wf.escalate, event, callbacks={"approval": answer})
    assert result.assert_succeeded() == expected  # the wait after the handler replayed the callback's failure
    assert wf.CALLS == ["notify"]
    replayed = replay(wf.escalate, as_invoked(result))  # children of the finished WaitForCallback left out
    assert replayed.assert_completed() == expected


def test_a_caught_callback_error_step_by_step_and_in_replayflow_replay(tmp_path):
    with start(wf.escalate, {}) as execution:
        execution.advance(60)  # the callback times out; the handler's wait starts
        waiting = execution.snapshot()
        assert waiting.status == "RUNNING" and waiting.get_wait("after-timeout").status == "STARTED"
        replay(wf.escalate, as_invoked(waiting)).assert_suspended(waiting_on=["after-timeout"])
        out = cli_replay(tmp_path, as_invoked(waiting), "escalate")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "OK: the code follows the history" in out.stdout
        assert execution.advance(10).finish().assert_succeeded() == "escalated after CallbackTimeoutError"


def test_an_interrupted_at_most_once_step_raises_step_interrupted_error_on_every_replay():
    result = run(wf.interrupted, {})
    assert result.assert_succeeded() == "ask a human"  # caught on the first run, and again after the wait
    assert wf.CALLS == ["charge"]  # never run again
    assert result.get_step("charge").error["ErrorType"] == "replayflow.StepInterruptedError"
    replay(wf.interrupted, result).assert_completed("ask a human")


# -- batches are part of identity ------------------------------------------------------------------------------


def _deploy(execution: Any, workflow: Any) -> None:
    execution.service.register("orders", workflow)  # new code under the running execution


def _assert_stopped(result: RunResult, batch: str, recorded: str, now: str) -> None:
    error = result.assert_failed(NonDeterminismError)
    message = error["ErrorMessage"]
    assert f"{batch} (id " in message, message
    assert f"recorded with {recorded}, but the code now has {now}" in message, message


@pytest.mark.parametrize(
    ("changed", "recorded", "now"),
    [(wf.map4, "3 items", "4 items"), (wf.map2, "at least 3 items", "2 items")],
)
def test_a_map_changed_while_it_runs_is_stopped_before_any_new_body(changed, recorded, now):
    with start(wf.map3, {}, name="orders") as execution:
        assert sorted(wf.CALLS) == ["item-0", "item-1", "item-2"]
        running = as_invoked(execution.snapshot())
        replay(changed, running).assert_non_determinism("items", match=f"recorded with {recorded}")
        _deploy(execution, changed)
        result = execution.advance(60).finish()
    _assert_stopped(result, "map 'items'", recorded, now)
    assert sorted(wf.CALLS) == ["item-0", "item-1", "item-2"]  # no item body ran again, none was added


@pytest.mark.parametrize(
    ("changed", "recorded", "now"), [(wf.map4, "3 items", "4 items"), (wf.map2, "3 items", "2 items")]
)
def test_a_map_changed_after_it_completed_is_stopped(changed, recorded, now, tmp_path):
    with start(wf.map3, {}, name="orders") as execution:
        waiting = execution.advance(60).snapshot()
        assert waiting.get_context("items").status == "SUCCEEDED"
        replay(changed, as_invoked(waiting)).assert_non_determinism("items", match=f"recorded with {recorded}")
        out = cli_replay(tmp_path, as_invoked(waiting), "map4" if changed is wf.map4 else "map2")
        assert out.returncode == 1 and "NON-DETERMINISM" in out.stdout and "map 'items'" in out.stdout, out.stdout
        _deploy(execution, changed)
        result = execution.advance(3600).finish()
    _assert_stopped(result, "map 'items'", recorded, now)


@pytest.mark.parametrize(
    ("labels", "recorded", "now"),
    [(("a", "b", "c"), "2 branches", "3 branches"), (("a",), "at least 2 branches", "1 branch")],
)
@pytest.mark.parametrize("completed", [False, True])
def test_a_parallel_with_a_branch_added_or_removed_is_stopped(labels, recorded, now, completed):
    with start(wf.parallel("a", "b"), {}, name="orders") as execution:
        if completed:
            execution.advance(60)
        _deploy(execution, wf.parallel(*labels))
        result = execution.advance(3600 if completed else 60).finish()
    if completed and "at least" in recorded:
        recorded = recorded.removeprefix("at least ")
    _assert_stopped(result, "parallel 'fan-out'", recorded, now)
    assert sorted(wf.CALLS) == ["branch-a", "branch-b"]


def test_a_renamed_parallel_branch_is_stopped():
    with start(wf.parallel("a", "b", named=True), {}, name="orders") as execution:
        execution.advance(60)
        _deploy(execution, wf.parallel("a", "z", named=True))
        result = execution.advance(3600).finish()
    _assert_stopped(result, "parallel 'fan-out'", "branch 1 named 'b'", "branch 1 named 'z'")


def test_an_unchanged_batch_replays_to_the_end():
    assert run(wf.map3, {}).assert_succeeded() == [0, 10, 20]
    assert sorted(wf.CALLS) == ["item-0", "item-1", "item-2"]


def test_with_on_non_determinism_retry_a_changed_map_fails_invocations_until_rolled_back():
    from replayflow.local import InvocationRetry, LocalDurableService, VirtualClock

    svc = LocalDurableService(
        clock=VirtualClock(), invocation_retry=InvocationRetry(max_attempts=20, initial_delay=1, max_delay=60)
    )
    with svc:
        svc.register("orders", durable_retry(wf.map3))
        arn = svc.start_execution("orders", "{}")
        svc.advance(0)
        svc.register("orders", durable_retry(wf.map4))  # a bad deploy
        svc.advance(60 + 30)
        assert svc.execution(arn).status == "RUNNING"  # the invocations fail, the execution does not
        svc.register("orders", durable_retry(wf.map3))  # the rollback
        assert svc.wait(arn).value == [0, 10, 20]
    assert sorted(wf.CALLS) == ["item-0", "item-1", "item-2"]


def durable_retry(handler: Any) -> Any:
    import replayflow

    return replayflow.durable(on_non_determinism="retry")(handler.workflow)


def test_a_flat_map_that_lost_an_item_while_running_is_stopped():
    import replayflow

    def flat(count: int) -> Any:
        @replayflow.durable
        def workflow(event: Any, ctx: Any) -> Any:
            result = yield ctx.map(list(range(count)), wf._item, name="items", nesting=replayflow.NestingType.FLAT)
            return result.get_results()

        return workflow

    with start(flat(3), {}, name="orders") as execution:
        _deploy(execution, flat(2))
        result = execution.advance(60).finish()
    _assert_stopped(result, "map 'items'", "at least 3 items", "2 items")


def test_the_history_builder_records_the_branch_count():
    from replayflow.testing import History

    h = History({})
    with h.map("items", completed="MIN_SUCCESSFUL_REACHED", branch_count=3) as block:
        block.item(result=0)
    h.wait("later", seconds=3600, elapsed=False)
    replay(wf.map3, h).assert_suspended(waiting_on=["later"])
    replay(wf.map4, h).assert_non_determinism("items", match="recorded with 3 items, but the code now has 4 items")

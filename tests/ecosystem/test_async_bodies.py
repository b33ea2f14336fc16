"""``async def`` step bodies, submitters and condition checks: awaited on the invocation's event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import replayflow
from replayflow import RetryPolicy, WaitStrategy
from replayflow.testing import run, succeed
from tests.core.wire import Recorder, event, invoke


class Flaky(Exception):
    pass


class LambdaContext:
    aws_request_id = "req-1"

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def test_an_async_step_is_awaited_and_its_result_checkpointed():
    seen = []

    async def fetch_price(sku: str) -> float:
        await asyncio.sleep(0)
        info = replayflow.step_context()  # the step's context reaches the coroutine
        seen.append((info.name, info.attempt))
        return {"a-1": 9.5}[sku]

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(fetch_price, "a-1"))

    rec = Recorder()
    out = invoke(wf, event(), rec)
    assert out == {"Status": "SUCCEEDED", "Result": "9.5"}
    assert [(u["Action"], u.get("Payload")) for u in rec.updates] == [("START", None), ("SUCCEED", "9.5")]
    assert seen == [("fetch_price", 1)]


def test_an_async_step_retries_through_the_service_and_replays_without_running():
    calls = []

    async def flaky() -> str:
        calls.append(replayflow.step_context().attempt)
        if len(calls) < 3:
            raise Flaky(f"attempt {len(calls)}")
        return "ok"

    @replayflow.durable
    def wf(_, ctx):
        value = yield ctx.step(flaky, retry=RetryPolicy(max_attempts=5, initial_delay=2, jitter="NONE"))
        yield ctx.wait(seconds=5)
        return value

    result = run(wf, None)
    assert result.assert_succeeded() == "ok"
    assert calls == [1, 2, 3]  # never again on the replays after the retries and the wait
    attempts = result.get_step("flaky").attempts
    assert [a.status for a in attempts] == ["RETRY", "RETRY", "SUCCEEDED"]
    assert attempts[0].error["ErrorType"].endswith("Flaky")


def test_async_bodies_of_a_map_run_concurrently_on_one_event_loop():
    loops = set()
    state: dict[str, object] = {"started": 0}
    items = list(range(4))

    async def price(item: int) -> int:
        loop = asyncio.get_running_loop()
        loops.add(id(loop))
        if "all" not in state:
            state["all"] = asyncio.Event()  # an asyncio.Event works only within one loop
        state["started"] += 1  # type: ignore[operator]
        if state["started"] == len(items):
            state["all"].set()  # type: ignore[attr-defined]
        await asyncio.wait_for(state["all"].wait(), 10)  # type: ignore[attr-defined]  # needs all four at once
        return item * 10

    def branch(ctx, item, index, all_items):
        return (yield ctx.step(price, item, name=f"price-{item}"))

    @replayflow.durable
    def wf(_, ctx):
        batch = yield ctx.map(items, branch)
        return batch.get_results()

    rec = Recorder()
    out = invoke(wf, event(), rec)
    assert out["Status"] == "SUCCEEDED", out
    assert out["Result"] == "[0,10,20,30]"
    assert len(loops) == 1
    assert not [t for t in threading.enumerate() if t.name == "replayflow-async"]  # stopped with the invocation


def test_near_the_deadline_an_async_body_is_cancelled_at_its_await_and_records_nothing():
    events = []

    def quick():
        return "done"

    async def slow():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "too late"

    @replayflow.durable(shutdown_margin=0.5)
    def wf(_, ctx):
        yield ctx.step(quick)
        yield ctx.step(slow)
        yield ctx.step(quick, name="never")

    rec = Recorder()
    assert invoke(wf, event(), rec, context=LambdaContext(1.0)) == {"Status": "PENDING"}
    assert events == ["cancelled"]  # the 30 s sleep was cut short at its await, not waited out
    assert [(u["Action"], u["Name"]) for u in rec.updates] == [
        ("START", "quick"),
        ("SUCCEED", "quick"),
        ("START", "slow"),
    ]


def test_an_async_submitter_and_an_async_condition_check():
    sent = []

    async def submit(callback_id: str) -> None:
        await asyncio.sleep(0)
        sent.append(callback_id)

    async def poll(state: int) -> int:
        await asyncio.sleep(0)
        return state + 1

    @replayflow.durable
    def wf(_, ctx):
        answer = yield ctx.wait_for_callback(submit, name="approval", timeout=3600)
        count = yield ctx.wait_for_condition(
            poll,
            initial_state=0,
            wait_strategy=WaitStrategy(is_done=lambda s: s >= 3, initial_delay=1, jitter="NONE"),
            name="poll",
        )
        return {"answer": answer, "count": count}

    result = run(wf, None, callbacks={"approval": succeed("yes", after=60)})
    assert result.assert_succeeded() == {"answer": "yes", "count": 3}
    assert len(sent) == 1 and sent[0] == result.get_callback("approval").callback_id


def test_an_async_body_failing_for_good_raises_step_error_with_its_type():
    async def broken() -> None:
        raise ValueError("no price")

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.step(broken, retry=replayflow.RetryPresets.none())
        except replayflow.StepError as error:
            return [error.error_type, error.error_message]

    assert run(wf, None).assert_succeeded() == ["ValueError", "no price"]


def test_a_handler_called_from_inside_a_running_event_loop_still_awaits_async_bodies():
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(double, 21))

    async def caller():  # e.g. an async test, or a framework that calls handlers from its loop
        return invoke(wf, event())

    assert asyncio.run(caller()) == {"Status": "SUCCEEDED", "Result": "42"}


def test_workflow_code_runs_no_loop_until_an_async_body_does():
    @replayflow.durable
    def wf(_, ctx):
        yield ctx.step(lambda: 1, name="sync")
        return [t.name for t in threading.enumerate() if t.name == "replayflow-async"]

    assert invoke(wf, event())["Result"] == "[]"


def test_an_async_def_workflow_or_child_body_is_a_clear_validation_error():
    async def child(ctx):
        return 1

    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.run_in_child_context(child, name="child")
        except replayflow.ChildContextError as error:  # what a child's failure raises; recorded, so replays agree
            return str(error)

    message = run(wf, None).assert_succeeded()
    assert "async def" in message and "generator" in message

    async def workflow(event, ctx):
        return 1

    with pytest.raises(replayflow.ValidationError, match="async function"):  # refused at decoration
        replayflow.durable(workflow)


def test_an_orphaned_async_branch_is_cancelled_at_its_await():
    events = []

    async def quick() -> str:
        # finish only once the slow branch is at its await: a coroutine cancelled before it starts runs nothing
        for _ in range(3000):
            if events:
                break
            await asyncio.sleep(0.01)
        return "first"

    async def slow() -> str:
        events.append("awaiting")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "late"

    def fast_branch(ctx):
        return (yield ctx.step(quick))

    def slow_branch(ctx):
        return (yield ctx.step(slow))

    @replayflow.durable
    def wf(_, ctx):
        batch = yield ctx.parallel([fast_branch, slow_branch], completion=replayflow.CompletionConfig(min_successful=1))
        return batch.get_results()

    out = invoke(wf, event())
    assert out == {"Status": "SUCCEEDED", "Result": '["first"]'}
    assert events == ["awaiting", "cancelled"]


def test_an_async_body_logs_like_a_sync_one():
    from replayflow.testing import capture_logs

    async def charge(amount: int) -> str:
        replayflow.step_context().logger.info("charging %s", amount)
        await asyncio.sleep(0)
        return "paid"

    @replayflow.durable
    def wf(_, ctx):
        return (yield ctx.step(charge, 5))

    with capture_logs() as logs:
        assert invoke(wf, event())["Status"] == "SUCCEEDED"
    (entry,) = logs.filter(message="charging 5")
    assert (entry["operationName"], entry["attempt"]) == ("charge", 1) and "executionArn" in entry

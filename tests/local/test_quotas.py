"""AWS's per-execution quotas: operations metered as AWS meters them, bytes written, the execution failing."""

from __future__ import annotations

from typing import Any

import pytest

import replayflow
from replayflow import Jitter, RetryPresets, WaitStrategy
from replayflow.local import Limits, LocalDurableService, Prices
from replayflow.testing import run


def flaky_twice(counter: list[int]) -> str:
    counter.append(1)
    if len(counter) < 3:
        raise RuntimeError("not yet")
    return "ok"


def usage_of(workflow: Any, input: Any = None, **kwargs: Any) -> Any:
    result = run(workflow, input, **kwargs)
    assert result.usage is not None
    return result


def test_a_step_counts_one_plus_its_retries():
    calls: list[int] = []

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        retry = RetryPresets.fixed(delay=1, max_attempts=5)
        return (yield ctx.step(flaky_twice, calls, name="flaky", retry=retry))

    result = usage_of(wf)
    assert result.result == "ok" and len(calls) == 3
    assert result.usage.operations == 3  # 1 + 2 retries


def test_wait_child_context_and_wait_for_condition_polls():
    def child(ctx: replayflow.DurableContext) -> Any:
        return (yield ctx.step(lambda: 1, name="inner"))

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        yield ctx.wait(5, name="pause")  # 1
        yield ctx.run_in_child_context(child, name="child")  # 1 + its step 1
        strategy = WaitStrategy(is_done=lambda s: s >= 3, initial_delay=1, jitter=Jitter.NONE, max_attempts=9)
        return (yield ctx.wait_for_condition(lambda s: s + 1, initial_state=0, wait_strategy=strategy, name="poll"))

    result = usage_of(wf)
    assert result.result == 3
    polls = result.get_step("poll").attempt
    assert result.usage.operations == 1 + 2 + 1 + (polls - 1)


def test_wait_for_callback_counts_three_plus_retries_and_map_parallel_one_per_branch():
    submitted: list[int] = []

    def submit(callback_id: str) -> None:
        flaky_twice(submitted)

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        retry = RetryPresets.fixed(delay=1, max_attempts=5)
        answer = yield ctx.wait_for_callback(submit, name="approval", timeout=60, retry=retry)
        items = yield ctx.map([1, 2, 3], lambda c, item, i, items: item * 2, name="double")
        both = yield ctx.parallel([lambda c: "left", lambda c: "right"], name="both")
        return [answer, items.get_results(), both.get_results()]

    result = run(wf, callbacks={"approval": replayflow.testing.succeed('"yes"')})
    assert result.result == ['"yes"', [2, 4, 6], ["left", "right"]]
    assert len(submitted) == 3
    assert result.usage.operations == (3 + 2) + (1 + 3) + (1 + 2)
    assert result.usage.invocations >= 2


def test_bytes_written_count_the_input_the_payloads_and_the_result():
    def wf(text: str, ctx: replayflow.DurableContext) -> Any:
        return (yield ctx.step(lambda: text * 2, name="double"))

    result = usage_of(wf, "x" * 1000)
    # the input (1002 bytes of JSON), the step's result (2002) and the execution's result (2002)
    assert result.usage.bytes_written == 1002 + 2002 + 2002
    prices = Prices()
    gb = 5006 / 1e9
    expected = (
        1 * prices.per_million_operations / 1e6
        + result.usage.invocations * prices.per_million_requests / 1e6
        + gb * prices.per_gb_written
        + gb * prices.retention_days / 30 * prices.per_gb_month_retained  # virtual time: no time running
    )
    assert result.usage.cost == pytest.approx(expected, rel=1e-3)
    assert result.usage.to_dict()["bytesWritten"] == 5006


def many_steps(count: int, ctx: replayflow.DurableContext) -> Any:
    total = 0
    for i in range(count):
        total += yield ctx.step(lambda i=i: i, name=f"s{i}")
    return total


def test_going_over_the_operation_quota_fails_the_execution_and_nothing_more_runs():
    service = LocalDurableService(limits=Limits(max_operations=20))
    ran: list[int] = []

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        for i in range(30):
            yield ctx.step(lambda i=i: ran.append(i), name=f"s{i}")

    result = run(wf, service=service)
    assert result.status == "FAILED"
    assert result.error["ErrorType"] == "ServiceQuotaExceededException"
    assert "20 durable operations" in result.error["ErrorMessage"]
    assert result.usage.operations <= 20
    assert len([op for op in result.operations if op["Type"] == "STEP"]) == result.usage.operations
    assert [e["EventType"] for e in result.events].count("ExecutionFailed") == 1
    service.close()


def test_going_over_the_bytes_quota_fails_the_execution():
    service = LocalDurableService(limits=Limits(max_bytes_written=50_000))

    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        for i in range(10):
            yield ctx.step(lambda: "y" * 10_000, name=f"s{i}")

    result = run(wf, service=service)
    assert result.status == "FAILED" and "50000 bytes written" in result.error["ErrorMessage"]
    assert result.usage.bytes_written <= 50_000
    service.close()


def test_a_run_near_a_quota_is_warned_about():
    service = LocalDurableService(limits=Limits(max_operations=10))
    result = run(many_steps, 9, service=service)
    assert result.succeeded and result.usage.operations == 9
    assert result.usage.warnings() == ["this execution used 90% of the 10 durable operations AWS allows per execution"]
    assert "warning: this execution used 90%" in result.explain()
    assert run(many_steps, 3).usage.warnings() == []
    service.close()


def test_usage_survives_a_store(tmp_path):
    store = tmp_path / "s.db"
    with LocalDurableService(store=str(store)) as service:
        service.register("many", replayflow.durable(many_steps))
        arn = service.start_execution("many", "4")
        service.wait(arn)
        before = service.usage(arn)
    with LocalDurableService(store=str(store)) as again:
        assert again.usage(arn) == before
        assert before.operations == 4


@pytest.mark.slow
@pytest.mark.parametrize("count", [10_000])
def test_a_10000_item_map_follows_the_replay_children_path(count):
    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        result = yield ctx.map(list(range(count)), lambda c, item, i, items: item, name="big")
        return sum(result.get_results())

    roomy = LocalDurableService(limits=Limits(max_operations=count + 1))
    result = run(wf, service=roomy)
    assert result.succeeded, result.error
    assert result.result == sum(range(count))
    record = roomy._engine.execution(result.arn).ops[result.get_context("big").id]  # the service's own record
    assert record["ContextDetails"].get("ReplayChildren") is True
    assert '"statuses":"SSS' in record["ContextDetails"]["Result"]  # the compact summary: one letter per item
    assert len(record["ContextDetails"]["Result"]) < 256 * 1024
    assert result.usage.operations == 1 + count
    roomy.close()

    strict = run(wf)  # the default 3,000 operations
    assert strict.status == "FAILED"
    assert strict.error["ErrorType"] == "ServiceQuotaExceededException"
    assert "3000 durable operations" in strict.error["ErrorMessage"]


def test_a_callback_result_is_data_written():
    def wf(_: Any, ctx: replayflow.DurableContext) -> Any:
        callback = yield ctx.create_callback(name="approval", timeout=60)
        yield callback.result()

    answer = '{"approved": true, "by": "someone"}'
    result = run(wf, {"id": 1}, callbacks={"approval": replayflow.testing.succeed(answer)})
    assert result.succeeded
    assert result.usage.operations == 1
    input_text = result.execution["InputPayload"]
    assert result.usage.bytes_written == len(input_text) + len(answer) + len("null")  # input, callback, result

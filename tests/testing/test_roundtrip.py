"""A builder history equals, operation by operation, what the local service records for the same run.

The service's records are read from what it sends the handler (the invocation state and the checkpoint
responses), through a spying invoker: the very dicts the interpreter replays.
"""

from __future__ import annotations

from typing import Any

import pytest

import replayflow
from replayflow import RetryPolicy
from replayflow.local import InProcessInvoker, LocalDurableService, VirtualClock
from replayflow.testing import EPOCH, History, replay, run, start, succeed

from . import workflows as wf

ORDER = {"id": "o-1", "items": ["A1"], "amount": 30}


class SpyInvoker:
    """Runs handlers in-process and keeps the latest version of every operation the service sent them."""

    def __init__(self) -> None:
        self.inner = InProcessInvoker()
        self.by_execution: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """The operations of the first execution invoked (the workflow under test)."""
        return next(iter(self.by_execution.values()))

    def invoke(self, function: Any, event: Any, context: Any, transport: Any) -> Any:
        if not (isinstance(event, dict) and "InitialExecutionState" in event):
            return self.inner.invoke(function, event, context, transport)  # a plain function
        records = self.by_execution.setdefault(event["DurableExecutionArn"], {})

        def keep(operations: Any) -> None:
            for op in operations:
                records[op["Id"]] = op

        keep(event["InitialExecutionState"]["Operations"])

        class Recording:
            def checkpoint_durable_execution(self, request: Any) -> Any:
                response = transport.checkpoint_durable_execution(request)
                keep(response["NewExecutionState"]["Operations"])
                return response

            def get_durable_execution_state(self, request: Any) -> Any:
                response = transport.get_durable_execution_state(request)
                keep(response["Operations"])
                return response

        return self.inner.invoke(function, event, context, Recording())

    def close(self) -> None:
        return None


@pytest.fixture
def spy():
    invoker = SpyInvoker()
    invoker.service = LocalDurableService(clock=VirtualClock(start=EPOCH.timestamp()), invoker=invoker)
    yield invoker
    invoker.service.close()


def comparable(ops: Any, *, timestamps: bool = True) -> dict[str, dict[str, Any]]:
    """Operations by id, minus what is random by nature (the execution's id and name, callback ids,
    stack traces) and, unless ``timestamps``, the times."""
    out = {}
    for original in ops:
        op = {k: v for k, v in original.items() if timestamps or not k.endswith("Timestamp")}
        if op["Type"] == "EXECUTION":
            op = {k: v for k, v in op.items() if k not in ("Id", "Name", "Status", "EndTimestamp")}
            op_id = "EXECUTION"
        else:
            op_id = op["Id"]
        for key in [k for k in op if k.endswith("Details")]:
            details = {k: v for k, v in op[key].items() if k != "CallbackId"}
            if not timestamps:
                details = {k: v for k, v in details.items() if not k.endswith("Timestamp")}
            if "Error" in details:
                details["Error"] = {k: v for k, v in details["Error"].items() if k != "StackTrace"}
            op[key] = details
        out[op_id] = op
    return out


def assert_same(built: History, spy: SpyInvoker, *, timestamps: bool = True) -> None:
    expected = comparable(built.operations, timestamps=timestamps)
    actual = comparable(spy.records.values(), timestamps=timestamps)
    assert actual.keys() == expected.keys()
    for op_id, op in actual.items():
        assert op == expected[op_id], f"operation {op.get('Name')!r} differs"


def test_steps_a_wait_and_a_child_context(spy):
    result = run(wf.order_workflow, ORDER, service=spy.service)
    h = History(ORDER)
    h.step("reserve", result={"sku": "A1", "held": True})
    h.wait("cool-off", seconds=300)
    with h.child("billing", result={"charged": 30, "currency": "USD"}):
        h.step("charge", result={"charged": 30, "currency": "USD"})
    h.step("ship", result="TRACK-1")
    assert_same(h, spy)  # timestamps included: the builder's clock moves as the service's does
    assert replay(wf.order_workflow, h).assert_completed() == result.assert_succeeded()


def test_an_execution_in_flight(spy):
    with start(wf.order_workflow, ORDER, service=spy.service) as execution:
        assert execution.status == "RUNNING"
        h = History(ORDER)
        h.step("reserve", result={"sku": "A1", "held": True})
        h.wait("cool-off", seconds=300, elapsed=False)
        assert_same(h, spy)
        replay(wf.order_workflow, h).assert_suspended(waiting_on=["cool-off"])


FLAKY_CALLS: list[int] = []


def flaky() -> str:
    FLAKY_CALLS.append(1)
    if len(FLAKY_CALLS) < 3:
        raise ConnectionError(f"attempt {len(FLAKY_CALLS)} failed")
    return "finally"


def fails_for_good() -> None:
    raise KeyError("no such card")


@replayflow.durable
def retrying_workflow(_: Any, ctx: replayflow.DurableContext) -> Any:
    policy = RetryPolicy(max_attempts=3, initial_delay=2, backoff_rate=2, jitter=replayflow.Jitter.NONE)
    value = yield ctx.step(flaky, name="flaky", retry=policy)
    try:
        yield ctx.step(fails_for_good, name="doomed", retry=replayflow.RetryPresets.none())
    except replayflow.StepError as error:
        return f"{value} / {error.error_type}"
    return value


def test_retries_and_a_failure(spy):
    FLAKY_CALLS.clear()
    run(retrying_workflow, None, service=spy.service).assert_succeeded("finally / KeyError")
    h = History()
    h.step("flaky", result="finally", attempts=3, duration=2 + 4)
    h.step("doomed", error=KeyError("no such card"))
    assert_same(h, spy)


def test_in_flight_retry(spy):
    FLAKY_CALLS.clear()
    with start(retrying_workflow, None, service=spy.service):
        h = History()
        h.step("flaky", retrying=1, error=ConnectionError("attempt 1 failed"), retry_delay=2)
        assert_same(h, spy)
        replay(retrying_workflow, h).assert_suspended(waiting_on=["flaky"])


def test_map_and_parallel(spy):
    run(wf.fan_out_workflow, [1, 2], service=spy.service).assert_succeeded()
    h = History([1, 2])
    with h.map("double-all", completed=True) as double:
        for i, value in enumerate((2, 4)):
            with double.item(result=value):
                h.step(f"double-{i}", result=value)
    with h.parallel("pair", completed=True) as pair:
        with pair.branch("left", result={"charged": 1, "currency": "EUR"}):
            h.step("left-charge", result={"charged": 1, "currency": "EUR"})
        with pair.branch("right", result="right"):
            h.wait("right-wait", seconds=10)
    assert_same(h, spy, timestamps=False)  # (a branch's end is when its last operation ended)


def test_callbacks(spy):
    result = run(
        wf.approval_workflow,
        {},
        service=spy.service,
        callbacks={"approval": succeed({"approved": True}, after=300), "countersign": succeed("signed", after=30)},
    )
    assert result.assert_succeeded() == "approved and signed"
    h = History({})
    h.wait_for_callback("approval", result={"approved": True})
    h.callback("countersign", result="signed")
    h.step("ask-countersign")
    assert_same(h, spy, timestamps=False)


@replayflow.durable
def pricing(request: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(lambda: {"price": 4}, name="lookup"))


def test_chained_invoke_of_a_durable_function(spy):
    run(wf.invoke_workflow, {"sku": "A1", "qty": 3}, service=spy.service, functions={"pricing-service": pricing})
    h = History({"sku": "A1", "qty": 3})
    h.invoke("price", result={"price": 4})
    assert_same(h, spy)
    assert len(spy.by_execution) == 2  # the target ran as a child execution


def test_wait_for_condition(spy):
    run(wf.polling_workflow, None, service=spy.service).assert_succeeded(3)
    h = History()
    h.wait_for_condition("poll", state={"polls": 3}, attempts=3, duration=1 + 2)
    assert_same(h, spy)

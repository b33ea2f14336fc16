"""Parallel and map: real concurrency, limits, completion policies, replay, nesting."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time

import orjson
import pytest

import replayflow
from replayflow import BatchItemStatus, CompletionConfig, CompletionReason, NestingType, ParallelBranch, ValidationError
from replayflow.testing import run

from .wire import Recorder, event, invoke, op, op_id, step


def test_step_bodies_of_different_branches_really_run_concurrently():
    both_running = threading.Barrier(2, timeout=30)  # passes only once both bodies run at the same time

    def meet():
        both_running.wait()
        return threading.current_thread().name

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel([lambda c: (yield c.step(meet)), lambda c: (yield c.step(meet))])
        return result.get_results()

    out = invoke(wf, event())
    threads = orjson.loads(out["Result"])
    assert len(set(threads)) == 2  # two different worker threads, both inside a body at once


@pytest.mark.parametrize(
    "semantics", [replayflow.StepSemantics.AT_LEAST_ONCE_PER_RETRY, replayflow.StepSemantics.AT_MOST_ONCE_PER_RETRY]
)
def test_a_finished_step_is_checkpointed_while_a_sibling_body_still_runs(semantics):
    """A branch's result does not wait for the slowest body still running: a crash meanwhile would lose it (an
    at-least-once step would run again, an at-most-once one would fail as interrupted)."""
    rec = Recorder()
    slow_started, quick_succeeded = threading.Event(), threading.Event()
    seen_while_running: list[bool] = []

    def handle(operation, request):
        answer = rec.handle(operation, request)
        for update in request.get("Updates", ()):
            if update["Action"] == "START" and update.get("Name") == "slow":
                slow_started.set()
            elif update["Action"] == "SUCCEED" and update.get("Name") == "quick":
                quick_succeeded.set()
        return answer

    def quick():  # ends after the slow body's START went out (in the background, 0.1 s into the body)
        assert slow_started.wait(timeout=30)  # the bounds are on a hang only
        return "quick"

    def slow():
        seen_while_running.append(quick_succeeded.wait(timeout=30))
        return "slow"

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel(
            [
                lambda c: (yield c.step(quick, name="quick", semantics=semantics)),
                lambda c: (yield c.step(slow, name="slow")),
            ]
        )
        return result.get_results()

    with replayflow.use_transport(replayflow.MockTransport(handle)):
        out = wf(event(), None)
    assert orjson.loads(out["Result"]) == ["quick", "slow"]
    assert seen_while_running == [True]  # the quick step's SUCCEED reached the service before the slow body ended


def test_never_more_than_max_concurrency_branches_run_at_once():
    lock = threading.Lock()
    running = peak = 0

    together = threading.Barrier(3, timeout=30)  # the first three calls meet: three ran at once, whatever the load
    calls = 0

    def work(i):
        nonlocal running, peak, calls
        with lock:
            running += 1
            calls += 1
            first_three = calls <= 3
            peak = max(peak, running)
        if first_three:
            together.wait()
        time.sleep(0.005)
        with lock:
            running -= 1
        return i

    def body(ctx, item, index, items):
        a = yield ctx.step(work, item)
        b = yield ctx.step(work, item + 100)
        return a + b

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.map(list(range(8)), body, max_concurrency=3)
        return result.get_results()

    assert orjson.loads(invoke(wf, event())["Result"]) == [2 * i + 100 for i in range(8)]
    assert peak == 3


def test_ids_and_records_follow_positions_not_scheduling_order():
    @replayflow.durable
    def wf(_, ctx):
        def slow(c):
            yield c.step(time.sleep, 0.2, name="slow")
            return "slow"

        def fast(c):
            yield c.step(lambda: None, name="fast")
            return "fast"

        result = yield ctx.parallel([slow, fast], name="race")
        return result.get_results()

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '["slow","fast"]'
    batch = op_id(1)
    by_name = {u.get("Name"): u for u in rec.updates if u["Action"] != "START"}
    assert by_name["race"]["Id"] == batch
    assert by_name["slow"]["Id"] == op_id(1, op_id(0, batch))
    assert by_name["fast"]["Id"] == op_id(1, op_id(1, batch))
    assert by_name["slow"]["ParentId"] == op_id(0, batch)
    branch_names = [u["Name"] for u in rec.updates if u.get("SubType") == "ParallelBranch" and u["Action"] == "START"]
    assert branch_names == ["parallel-branch-0", "parallel-branch-1"]


def _run_policy(outcomes, completion, max_concurrency=1):
    def branch(ok, value):
        def run(ctx):
            if not ok:
                raise ValueError(f"branch {value} failed")
            return value

        return run

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel(
            [branch(ok, i) for i, ok in enumerate(outcomes)], completion=completion, max_concurrency=max_concurrency
        )
        return {
            "reason": result.completion_reason.value,
            "status": result.status,
            "ok": result.success_count,
            "failed": result.failure_count,
            "total": result.total_count,
            "results": result.get_results(),
        }

    return orjson.loads(invoke(wf, event())["Result"])


@pytest.mark.parametrize(
    ("outcomes", "completion", "expected"),
    [
        ([True, False, True], None, ("FAILURE_TOLERANCE_EXCEEDED", "FAILED", 1, 1, 2)),
        ([True, False, True], CompletionConfig.all_completed(), ("ALL_COMPLETED", "FAILED", 2, 1, 3)),
        ([False, True, True], CompletionConfig.first_successful(), ("MIN_SUCCESSFUL_REACHED", "FAILED", 1, 1, 2)),
        (
            [True, True, True, True],
            CompletionConfig(min_successful=2),
            ("MIN_SUCCESSFUL_REACHED", "SUCCEEDED", 2, 0, 2),
        ),
        ([True, False, True], CompletionConfig(tolerated_failure_count=1), ("ALL_COMPLETED", "FAILED", 2, 1, 3)),
        (
            [False, False, True],
            CompletionConfig(tolerated_failure_count=1),
            ("FAILURE_TOLERANCE_EXCEEDED", "FAILED", 0, 2, 2),
        ),
        (
            [False, True, True, True],
            CompletionConfig(tolerated_failure_percentage=25),
            ("ALL_COMPLETED", "FAILED", 3, 1, 4),
        ),
        (
            [False, False, True, True],
            CompletionConfig(tolerated_failure_percentage=25),
            ("FAILURE_TOLERANCE_EXCEEDED", "FAILED", 0, 2, 2),
        ),
        ([True, False, True], CompletionConfig(min_successful=3), ("ALL_COMPLETED", "FAILED", 2, 1, 3)),
        (
            [False, False, True],
            CompletionConfig(min_successful=3, tolerated_failure_count=1),
            ("FAILURE_TOLERANCE_EXCEEDED", "FAILED", 0, 2, 2),
        ),
        ([], None, ("ALL_COMPLETED", "SUCCEEDED", 0, 0, 0)),
    ],
)
def test_completion_policies(outcomes, completion, expected):
    out = _run_policy(outcomes, completion)
    assert (out["reason"], out["status"], out["ok"], out["failed"], out["total"]) == expected


def test_completion_policies_hold_under_real_concurrency():
    told_to_stop = threading.Event()  # branches 2 and 3 run until the batch is over: ordered by events, not sleeps

    def block_until_told_to_stop():
        if replayflow.step_context().sleep(60):  # True: the invocation told this orphaned step to stop
            told_to_stop.set()
            raise replayflow.StepCancelledError("stopping")
        return "finished"  # pragma: no cover - only if the batch never completed

    def branch(i):
        def run(ctx):
            if i == 0:
                return i  # done as soon as it starts
            if i == 1:
                yield ctx.step(lambda: None, name="quick")
                raise ValueError("early failure")
            yield ctx.step(block_until_told_to_stop, name="slow")
            return i  # pragma: no cover - the batch completes first

        return run

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel([branch(i) for i in range(4)])  # fail-fast, all at once
        return [[item.index, item.status.value] for item in result.all] + [result.completion_reason.value]

    out = orjson.loads(invoke(wf, event())["Result"])
    assert out[-1] == "FAILURE_TOLERANCE_EXCEEDED"
    statuses = dict(out[:-1])
    assert statuses[0] == "SUCCEEDED"
    assert statuses[1] == "FAILED"
    assert statuses[2] == statuses[3] == "STARTED"  # still running when the batch completed: not waited for
    assert told_to_stop.is_set()


def test_orphaned_branches_are_told_to_stop():
    stopped = threading.Event()

    def slow_body():
        if replayflow.step_context().sleep(5):
            stopped.set()
            raise replayflow.StepCancelledError("stopping")
        return "finished"

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel(
            [lambda c: (yield c.step(slow_body)), lambda c: "quick"], completion=CompletionConfig.first_successful()
        )
        return result.get_results()

    assert invoke(wf, event())["Result"] == '["quick"]'
    assert stopped.is_set()  # its 5 s sleep was cut short: the invocation did not wait it out


def test_a_finished_batch_replays_from_its_checkpoint_without_running_branches():
    @replayflow.durable
    def wf(_, ctx):
        never = lambda c: pytest.fail("must not run")  # noqa: E731
        result = yield ctx.parallel([never, ParallelBranch(never, "second")], name="p")
        return [result.get_results(), result.completion_reason.value, [i.name for i in result.all]]

    first = Recorder()

    @replayflow.durable
    def original(_, ctx):
        result = yield ctx.parallel([lambda c: "a", ParallelBranch(lambda c: "b", "second")], name="p")
        return result.get_results()

    invoke(original, event(), first)
    summary = first.updates[-1]
    assert (summary["Type"], summary["Action"]) == ("CONTEXT", "SUCCEED")
    recorded = op(
        1, "CONTEXT", "SUCCEEDED", name="p", sub_type="Parallel", ContextDetails={"Result": summary["Payload"]}
    )
    out = invoke(wf, event(recorded))
    assert orjson.loads(out["Result"]) == [["a", "b"], "ALL_COMPLETED", ["parallel-branch-0", "second"]]


def test_a_suspended_batch_resumes_skipping_finished_branches():
    calls = []

    def b0(ctx):
        return (yield ctx.step(lambda: calls.append("b0") or "b0", name="s0"))

    def b1(ctx):
        yield ctx.wait(seconds=2, name="w")
        return "b1"

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel([b0, b1], name="p", max_concurrency=1)
        return result.get_results()

    first = Recorder()
    assert invoke(wf, event(), first) == {"Status": "PENDING"}
    assert calls == ["b0"]
    batch = op_id(1)
    branch0, branch1 = op_id(0, batch), op_id(1, batch)
    records = [
        op(1, "CONTEXT", "STARTED", name="p", sub_type="Parallel"),
        op(
            0,
            "CONTEXT",
            "SUCCEEDED",
            id=branch0,
            name="parallel-branch-0",
            sub_type="ParallelBranch",
            parent=batch,
            ContextDetails={"Result": '"b0"'},
        ),
        step(1, name="s0", parent=branch0, result="b0"),
        op(0, "CONTEXT", "STARTED", id=branch1, name="parallel-branch-1", sub_type="ParallelBranch", parent=batch),
        op(1, "WAIT", "SUCCEEDED", name="w", parent=branch1),
    ]
    second = Recorder()
    assert invoke(wf, event(*records), second)["Result"] == '["b0","b1"]'
    assert calls == ["b0"]
    assert [(u["Type"], u["Action"], u.get("Name")) for u in second.updates] == [
        ("CONTEXT", "SUCCEED", "parallel-branch-1"),
        ("CONTEXT", "SUCCEED", "p"),
    ]


def test_flat_nesting_has_no_branch_contexts():
    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel(
            [lambda c: (yield c.step(lambda: "fa", name="a")), lambda c: (yield c.step(lambda: "fb", name="b"))],
            nesting=NestingType.FLAT,
            max_concurrency=1,
        )
        return result.get_results()

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '["fa","fb"]'
    batch = op_id(1)
    assert [(u["Type"], u["Action"], u.get("ParentId")) for u in rec.updates] == [
        ("CONTEXT", "START", None),
        ("STEP", "START", batch),
        ("STEP", "SUCCEED", batch),
        ("STEP", "START", batch),
        ("STEP", "SUCCEED", batch),
        ("CONTEXT", "SUCCEED", None),
    ]
    assert rec.updates[1]["Id"] == op_id(1, op_id(0, batch))  # ids still derive from the branch


def test_map_passes_item_index_and_items_and_names_iterations():
    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.map(
            ["x", "y"],
            lambda c, item, i, items: f"{item}{i}{len(items)}",
            item_namer=lambda item, i: f"item-{item}",
            name="m",
        )
        return result.get_results()

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '["x02","y12"]'
    names = [u["Name"] for u in rec.updates if u.get("SubType") == "MapIteration" and u["Action"] == "START"]
    assert names == ["item-x", "item-y"]


def test_item_and_batch_serdes_are_honoured():
    class Wrap:
        def serialize(self, value, context):
            return f"wrapped:{value}"

        def deserialize(self, data, context):
            return data.removeprefix("wrapped:")

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.map(["X", "Y"], lambda c, item, i, items: item, item_serdes=Wrap())
        return result.get_results()

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '["X","Y"]'
    payloads = [u["Payload"] for u in rec.updates if u.get("SubType") == "MapIteration" and u["Action"] == "SUCCEED"]
    assert payloads == ["wrapped:X", "wrapped:Y"]


def test_a_summary_over_the_checkpoint_limit_replays_children():
    big = "x" * (100 * 1024)

    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.map([1, 2, 3], lambda c, item, i, items: big + str(item), name="big")
        return [len(r) for r in result.get_results()]

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == "[102401,102401,102401]"
    summary = rec.updates[-1]
    assert summary["ContextOptions"] == {"ReplayChildren": True}
    assert len(summary["Payload"]) < 1024
    # replay: the summary has statuses only; the results come back from the iterations' own checkpoints
    batch = op_id(1)
    records = [
        op(
            1,
            "CONTEXT",
            "SUCCEEDED",
            name="big",
            sub_type="Map",
            ContextDetails={"Result": summary["Payload"], "ReplayChildren": True},
        )
    ]
    for u in rec.updates:
        if u.get("SubType") == "MapIteration" and u["Action"] == "SUCCEED":
            records.append(
                op(
                    0,
                    "CONTEXT",
                    "SUCCEEDED",
                    id=u["Id"],
                    name=u["Name"],
                    sub_type="MapIteration",
                    parent=batch,
                    ContextDetails={"Result": u["Payload"]},
                )
            )
    again = Recorder()
    assert invoke(wf, event(*records), again)["Result"] == "[102401,102401,102401]"
    assert again.checkpoints == []


def test_nested_parallel():
    @replayflow.durable
    def wf(_, ctx):
        def outer(c):
            inner = yield c.parallel([lambda cc: "i1", lambda cc: "i2"], name="inner")
            return inner.get_results()

        result = yield ctx.parallel([outer], name="outer")
        return result.get_results()

    rec = Recorder()
    assert invoke(wf, event(), rec)["Result"] == '[["i1","i2"]]'
    inner = next(u for u in rec.updates if u.get("Name") == "inner")
    assert inner["ParentId"] == op_id(0, op_id(1))


def test_raise_if_error_raises_the_first_branch_error():
    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.parallel([lambda c: 1, lambda c: 1 / 0], completion=CompletionConfig.all_completed())
        try:
            result.raise_if_error()
        except replayflow.BatchError as e:
            return [e.error_type, str(e), [type(x).__name__ for x in result.get_errors()]]

    assert orjson.loads(invoke(wf, event())["Result"]) == [
        "ZeroDivisionError",
        "division by zero",
        ["ChildContextError"],
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda ctx: ctx.parallel([lambda c: 1], max_concurrency=0),
        lambda ctx: ctx.parallel([lambda c: 1], max_concurrency=True),
        lambda ctx: ctx.parallel([1]),
        lambda ctx: ctx.parallel("ab"),
        lambda ctx: ctx.map([1], 5),
        lambda ctx: ctx.map(iter([1]), lambda c, *a: 1),
        lambda ctx: ctx.map([1], lambda c, *a: 1, completion="all"),
        lambda ctx: CompletionConfig(tolerated_failure_percentage=101),
        lambda ctx: CompletionConfig(min_successful=0),
        lambda ctx: CompletionConfig(tolerated_failure_count=-1),
    ],
)
def test_bad_batch_arguments_raise_validation_errors_before_anything_is_checkpointed(make):
    @replayflow.durable
    def wf(_, ctx):
        yield make(ctx)

    rec = Recorder()
    out = invoke(wf, event(), rec)
    assert out["Status"] == "FAILED"
    assert out["Error"]["ErrorType"] == "replayflow.ValidationError"
    assert rec.checkpoints == []


def test_batch_item_statuses_are_enums():
    assert BatchItemStatus("STARTED") is BatchItemStatus.STARTED
    assert CompletionReason("ALL_COMPLETED") is CompletionReason.ALL_COMPLETED
    with pytest.raises(ValidationError):
        CompletionConfig(tolerated_failure_percentage=-1)


def test_an_item_namer_that_raises_raises_in_the_workflow():
    @replayflow.durable
    def wf(_, ctx):
        try:
            yield ctx.map([1], lambda c, *a: 1, item_namer=lambda item, i: 1 / 0)
        except ZeroDivisionError:
            return "caught at the yield"

    assert invoke(wf, event())["Result"] == '"caught at the yield"'


@dataclasses.dataclass
class Quote:
    carrier: str
    price: float


def priced(ctx: replayflow.DurableContext, carrier: str, index: int, carriers: list) -> replayflow.Workflow[Quote]:
    return (yield ctx.step(lambda: {"carrier": carrier, "price": 1.5 * (index + 1)}, name=f"q{index}"))


def test_branch_results_come_back_as_the_branch_functions_return_type_live_and_on_replay():
    @replayflow.durable
    def wf(_, ctx):
        result = yield ctx.map(["a", "b"], priced, name="quotes")
        return [type(q).__name__ for q in result.get_results()] + [result.get_results()[1].price]

    rec = Recorder()
    assert orjson.loads(invoke(wf, event(), rec)["Result"]) == ["Quote", "Quote", 3.0]
    summary = rec.updates[-1]
    recorded = op(
        1, "CONTEXT", "SUCCEEDED", name="quotes", sub_type="Map", ContextDetails={"Result": summary["Payload"]}
    )
    assert orjson.loads(invoke(wf, event(recorded))["Result"]) == ["Quote", "Quote", 3.0]


@dataclasses.dataclass
class PriceQuote:
    price: float


def make_price_quote(price: float) -> PriceQuote:
    return PriceQuote(price)


def quote_branch(ctx, item, index, items) -> replayflow.Workflow[PriceQuote]:
    return (yield ctx.step(make_price_quote, item, name="q"))


def test_a_lambda_branch_returning_a_dataclass_says_why_it_comes_back_a_dict(caplog):
    def workflow(_, ctx):
        untyped = yield ctx.map([1.0], lambda c, item, i, items: PriceQuote(item), name="lam")
        typed = yield ctx.map([2.0], functools.partial(quote_branch), name="typed")
        return [type(untyped.get_results()[0]).__name__, type(typed.get_results()[0]).__name__]

    with caplog.at_level(logging.WARNING, logger="replayflow"):
        assert run(workflow).assert_succeeded() == ["dict", "PriceQuote"]
    (warning,) = [r.getMessage() for r in caplog.records if "no return annotation" in r.getMessage()]
    assert "map 'lam': a branch returned a PriceQuote" in warning and "item_serdes=JsonSerDes(PriceQuote)" in warning

"""Suite ``parallel`` (8-x): concurrent branches, completion policies, nesting and serdes."""

from __future__ import annotations

import json
from typing import Any

import replayflow
from replayflow import CompletionConfig, DurableContext, NestingType, ParallelBranch, SerDesContext
from tests.conformance.registry import requirement

from .batch_helpers import counts, fails, outcome, returns, step_returning


@requirement("8-1")
@replayflow.durable
def parallel_basic(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [step_returning("task-1"), step_returning("task-2")], name="parallel", max_concurrency=1
    )
    return result.get_results()


@requirement("8-2")
@replayflow.durable
def parallel_unnamed(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel([returns("alpha"), returns("beta")], max_concurrency=1)
    return result.get_results()


@requirement("8-3")
@replayflow.durable
def parallel_named_branches(event: Any, ctx: DurableContext) -> Any:
    branches = [ParallelBranch(returns("one"), "first"), ParallelBranch(returns("two"), "second")]
    result = yield ctx.parallel(branches, name="named", max_concurrency=1)
    return result.get_results()


@requirement("8-4")
@replayflow.durable
def parallel_mixed_types(event: Any, ctx: DurableContext) -> Any:
    branches = [returns("hello"), returns(42), returns({"k": "v"})]
    result = yield ctx.parallel(branches, name="hetero", max_concurrency=1)
    return result.get_results()


@requirement("8-5")
@replayflow.durable
def parallel_empty(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel([], name="empty")
    return result.get_results()


@requirement("8-6")
@replayflow.durable
def parallel_fail_fast(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [returns("ok"), fails, returns("never")],
        name="failfast",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=0),
    )
    return outcome(result)


@requirement("8-7")
@replayflow.durable
def parallel_rethrow(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [fails, returns("never")],
        name="throwing",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=0),
    )
    result.raise_if_error()
    return result.get_results()


@requirement("8-8")
@replayflow.durable
def parallel_min_successful(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [returns("a"), returns("b"), returns("c"), returns("d")],
        name="min-successful",
        max_concurrency=1,
        completion=CompletionConfig(min_successful=2),
    )
    projection = counts(result)
    return {key: projection[key] for key in ("completionReason", "successCount", "totalCount")}


@requirement("8-9")
@replayflow.durable
def parallel_tolerated_failures(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [returns("a"), fails, returns("c")],
        name="tolerated",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=1),
    )
    return outcome(result)


@requirement("8-10")
@replayflow.durable
def parallel_tolerance_exceeded(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [fails, fails, returns("c")],
        name="tolerated-exceeded",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=1),
    )
    return counts(result)


@requirement("8-11")
@replayflow.durable
def parallel_concurrent(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel([returns("r0"), returns("r1"), returns("r2")], name="concurrent", max_concurrency=2)
    return result.get_results()


@requirement("8-12")
@replayflow.durable
def parallel_flat(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [step_returning("fa"), step_returning("fb")], name="flat", max_concurrency=1, nesting=NestingType.FLAT
    )
    return result.get_results()


@requirement("8-13")
@replayflow.durable
def parallel_percentage_exceeded(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [fails, fails, returns("c"), returns("d")],
        name="tolerated-pct",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_percentage=25),
    )
    return counts(result)


def waits_then_returns(ctx: DurableContext) -> Any:
    yield ctx.wait(seconds=2)
    return "b1"


@requirement("8-14")
@replayflow.durable
def parallel_branch_waits(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel([step_returning("b0"), waits_then_returns], name="replay", max_concurrency=1)
    return result.get_results()


class WrappingSerDes:
    """Stores ``v`` as ``{"wrapped": v}`` and reads it back as ``v``."""

    def serialize(self, value: Any, context: SerDesContext) -> str:
        return json.dumps({"wrapped": value})

    def deserialize(self, data: str, context: SerDesContext) -> Any:
        return json.loads(data)["wrapped"]


@requirement("8-15")
@replayflow.durable
def parallel_item_serdes(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [returns("x"), returns("y")], name="serde", max_concurrency=1, item_serdes=WrappingSerDes()
    )
    return result.get_results()


@requirement("8-16")
@replayflow.durable
def parallel_all_fail_tolerated(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [fails, fails, fails],
        name="all-fail",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=3),
    )
    return outcome(result)


@requirement("8-17")
@replayflow.durable
def parallel_min_successful_not_reached(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [returns("a"), fails, returns("c")],
        name="min-not-reached",
        max_concurrency=1,
        completion=CompletionConfig(min_successful=3),
    )
    return outcome(result)


@requirement("8-18")
@replayflow.durable
def parallel_min_successful_and_tolerance(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [fails, fails, returns("c"), returns("d")],
        name="combined",
        max_concurrency=1,
        completion=CompletionConfig(min_successful=3, tolerated_failure_count=1),
    )
    return counts(result)


@requirement("8-19")
@replayflow.durable
def parallel_invalid_concurrency(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel([returns("a"), returns("b")], name="bad-concurrency", max_concurrency=0)
    return result.get_results()


@requirement("8-20")
@replayflow.durable
def parallel_accessors(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [returns("a"), fails, returns("c")],
        name="accessors",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=1),
    )
    return {
        "hasFailure": result.has_failure,
        "successCount": len(result.succeeded()),
        "failureCount": len(result.failed()),
        "errorCount": len(result.get_errors()),
    }


def inner_parallel(ctx: DurableContext) -> Any:
    inner = yield ctx.parallel([step_returning("i1"), step_returning("i2")], name="inner", max_concurrency=1)
    return inner.get_results()


@requirement("8-21")
@replayflow.durable
def parallel_nested(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel([inner_parallel], name="outer", max_concurrency=1)
    return result.get_results()


@requirement("8-22")
@replayflow.durable
def parallel_percentage_boundary(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.parallel(
        [fails, returns("b"), returns("c"), returns("d")],
        name="pct-boundary",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_percentage=25),
    )
    return outcome(result)

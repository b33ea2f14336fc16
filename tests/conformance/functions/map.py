"""Suite ``map`` (9-x): a function over items, with completion policies, naming, serdes and replay."""

from __future__ import annotations

from typing import Any

import replayflow
from replayflow import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionConfig,
    CompletionReason,
    DurableContext,
    NestingType,
    SerDesContext,
)
from tests.conformance.registry import requirement

from .batch_helpers import BranchError, constant, counts, outcome

#: Each item of 9-16 returns this many characters: four of them exceed one checkpoint (256 KB).
LARGE_ITEM_CHARS = 70 * 1024


def greet(name: str) -> str:
    return f"Hello, {name}!"


def greet_item(ctx: DurableContext, item: str, index: int, items: list[str]) -> Any:
    return (yield ctx.step(greet, item))


def double(ctx: DurableContext, item: int, index: int, items: list[int]) -> int:
    return item * 2


def plus_index(ctx: DurableContext, item: int, index: int, items: list[int]) -> int:
    return item + index


def identity(ctx: DurableContext, item: Any, index: int, items: list[Any]) -> Any:
    return item


def ok_unless_fail(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
    if item == "fail":
        raise BranchError(f"item {index} failed")
    return item


def upper(ctx: DurableContext, item: str, index: int, items: list[str]) -> str:
    return item.upper()


@requirement("9-1")
@replayflow.durable
def map_basic(event: list[str], ctx: DurableContext) -> Any:
    result = yield ctx.map(event, greet_item, name="map", max_concurrency=1)
    return result.get_results()


@requirement("9-2")
@replayflow.durable
def map_unnamed(event: list[int], ctx: DurableContext) -> Any:
    result = yield ctx.map(event, double, max_concurrency=1)
    return result.get_results()


@requirement("9-3")
@replayflow.durable
def map_indexed(event: list[int], ctx: DurableContext) -> Any:
    result = yield ctx.map(event, plus_index, name="indexed", max_concurrency=1)
    return result.get_results()


@requirement("9-4")
@replayflow.durable
def map_empty(event: list[Any], ctx: DurableContext) -> Any:
    result = yield ctx.map(event, identity, name="empty")
    return result.get_results()


@requirement("9-5")
@replayflow.durable
def map_fail_fast(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["ok", "fail", "never"],
        ok_unless_fail,
        name="failfast",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=0),
    )
    return outcome(result)


@requirement("9-6")
@replayflow.durable
def map_rethrow(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["fail", "never"],
        ok_unless_fail,
        name="throwing",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=0),
    )
    result.raise_if_error()
    return result.get_results()


@requirement("9-7")
@replayflow.durable
def map_min_successful(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["a", "b", "c", "d"],
        identity,
        name="min-successful",
        max_concurrency=1,
        completion=CompletionConfig(min_successful=2),
    )
    projection = counts(result)
    return {key: projection[key] for key in ("completionReason", "successCount", "totalCount")}


@requirement("9-8")
@replayflow.durable
def map_tolerated_failures(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["ok", "fail", "ok"],
        ok_unless_fail,
        name="tolerated",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=1),
    )
    return outcome(result)


@requirement("9-9")
@replayflow.durable
def map_tolerance_exceeded(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["fail", "fail", "ok"],
        ok_unless_fail,
        name="tolerated-exceeded",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=1),
    )
    return counts(result)


@requirement("9-10")
@replayflow.durable
def map_percentage_exceeded(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["fail", "fail", "ok", "ok"],
        ok_unless_fail,
        name="tolerated-pct",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_percentage=25),
    )
    return counts(result)


@requirement("9-11")
@replayflow.durable
def map_concurrent(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["r0", "r1", "r2"], identity, name="concurrent", max_concurrency=2)
    return result.get_results()


def step_item(ctx: DurableContext, item: str, index: int, items: list[str]) -> Any:
    return (yield ctx.step(constant, item))


@requirement("9-12")
@replayflow.durable
def map_flat(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["fa", "fb"], step_item, name="flat", max_concurrency=1, nesting=NestingType.FLAT)
    return result.get_results()


def times_ten(ctx: DurableContext, item: int, index: int, items: list[int]) -> int:
    return item * 10


@requirement("9-13")
@replayflow.durable
def map_item_namer(event: list[int], ctx: DurableContext) -> Any:
    result = yield ctx.map(
        event, times_ten, name="named-items", max_concurrency=1, item_namer=lambda item, index: f"item-{item}"
    )
    return result.get_results()


class WrappedItemSerDes:
    """Stores an item result ``v`` as the text ``wrapped:v``."""

    def serialize(self, value: str, context: SerDesContext) -> str:
        return f"wrapped:{value}"

    def deserialize(self, data: str, context: SerDesContext) -> str:
        return data.removeprefix("wrapped:")


@requirement("9-14")
@replayflow.durable
def map_item_serdes(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["x", "y"], upper, name="serdes", max_concurrency=1, item_serdes=WrappedItemSerDes())
    return result.get_results()


def maybe_wait_then_step(ctx: DurableContext, item: str, index: int, items: list[str]) -> Any:
    if index == 1:
        yield ctx.wait(seconds=1)
    return (yield ctx.step(constant, item))


@requirement("9-15")
@replayflow.durable
def map_suspends_mid_map(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["r0", "r1"], maybe_wait_then_step, name="suspend", max_concurrency=1)
    return result.get_results()


def large_string(ctx: DurableContext, item: int, index: int, items: list[int]) -> str:
    return str(item) * LARGE_ITEM_CHARS


@requirement("9-16")
@replayflow.durable
def map_large_result(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map([1, 2, 3, 4], large_string, name="large", max_concurrency=1)
    return {"successCount": result.success_count, "totalCount": result.total_count}


@requirement("9-17")
@replayflow.durable
def map_then_wait(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["a", "b"], upper, name="then-wait", max_concurrency=1)
    yield ctx.wait(seconds=1)
    return result.get_results()


@requirement("9-18")
@replayflow.durable
def map_failure_then_wait(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(
        ["ok", "fail"],
        ok_unless_fail,
        name="fail-then-wait",
        max_concurrency=1,
        completion=CompletionConfig(tolerated_failure_count=1),
    )
    yield ctx.wait(seconds=1)
    return outcome(result)


class OpSerDes:
    """Stores a whole map result as ``OPSERDE:`` and the comma-joined item results."""

    PREFIX = "OPSERDE:"

    def serialize(self, value: BatchResult[str], context: SerDesContext) -> str:
        return self.PREFIX + ",".join(value.get_results())

    def deserialize(self, data: str, context: SerDesContext) -> BatchResult[str]:
        body = data.removeprefix(self.PREFIX)
        results = body.split(",") if body else []
        items = [BatchItem(i, BatchItemStatus.SUCCEEDED, r) for i, r in enumerate(results)]
        return BatchResult(items, CompletionReason.ALL_COMPLETED)


@requirement("9-19")
@replayflow.durable
def map_operation_serdes(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["x", "y"], upper, name="op-serde", max_concurrency=1, serdes=OpSerDes())
    return result.get_results()


@requirement("9-20")
@replayflow.durable
def map_operation_serdes_replay(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.map(["x", "y"], upper, name="op-serde-replay", max_concurrency=1, serdes=OpSerDes())
    yield ctx.wait(seconds=1)
    return result.get_results()

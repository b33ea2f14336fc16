"""Checked by mypy --strict in test_types.py: `yield from` gives operations their result types."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import Any, assert_type

import replayflow
from replayflow import BatchResult, Callback, DurableContext, Operation, Workflow


@dataclasses.dataclass
class Reservation:
    id: str
    items: list[str]


def reserve(items: list[str]) -> Reservation:
    return Reservation("r1", items)


def count(items: list[str]) -> int:
    return len(items)


def child(ctx: DurableContext, n: int) -> Workflow[str]:
    total = yield from ctx.step(count, ["a"] * n)
    assert_type(total, int)
    return str(total)


def plain_child(ctx: DurableContext) -> float:
    return 1.5


@replayflow.durable
def process(order: dict[str, Any], ctx: DurableContext) -> Generator[Operation[Any], Any, dict[str, Any]]:
    reservation = yield from ctx.step(reserve, order["items"], name="reserve")
    assert_type(reservation, Reservation)
    untyped = yield ctx.step(count, reservation.items)
    assert_type(untyped, Any)
    label = yield from ctx.run_in_child_context(child, 3)
    assert_type(label, str)
    ratio = yield from ctx.run_in_child_context(plain_child)
    assert_type(ratio, float)
    yield from ctx.wait(minutes=5)
    callback = yield from ctx.create_callback(name="approval")
    assert_type(callback, Callback[Any])
    batch = yield from ctx.parallel([lambda c: None])
    assert_type(batch, BatchResult[Any])
    state = yield from ctx.wait_for_condition(count, initial_state=[], wait_strategy=replayflow.WaitStrategy())
    assert_type(state, int)
    return {"reservation": reservation.id, "label": label, "n": untyped, "state": state}


def fan_item(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> Workflow[Reservation]:
    return (yield from ctx.step(reserve, [item]))


def branch_a(ctx: DurableContext) -> Workflow[int]:
    return (yield from ctx.step(count, ["a"]))


@replayflow.durable
def readme_forms(order: dict[str, Any], ctx: DurableContext) -> Workflow[str]:
    plain = yield ctx.step(reserve, order["items"])  # the plain form in a Workflow[T] is usable (Any)
    assert_type(plain, Any)
    mapped = yield from ctx.map(["A1", "B2"], fan_item, name="fan")
    assert_type(mapped, BatchResult[Reservation])
    both = yield from ctx.parallel([branch_a, branch_a])
    assert_type(both, BatchResult[int])
    return str(plain["id"]) + mapped.get_results()[0].id + str(both.get_results()[0])

"""Workflows the testing-toolkit tests replay, run and record."""

from __future__ import annotations

from typing import Any

import replayflow
from replayflow import CompletionConfig, JsonSerDes, ParallelBranch, RetryPolicy

#: Step bodies append their calls here when they really run (a dry replay must leave it empty).
CALLS: list[tuple[str, tuple[Any, ...]]] = []


def reserve(items: list[str]) -> dict[str, Any]:
    CALLS.append(("reserve", (items,)))
    return {"sku": items[0], "held": True}


def charge(amount: int, currency: str = "EUR") -> dict[str, Any]:
    CALLS.append(("charge", (amount, currency)))
    return {"charged": amount, "currency": currency}


def ship(reservation: dict[str, Any]) -> str:
    CALLS.append(("ship", (reservation,)))
    return "TRACK-1"


def billing(ctx: replayflow.DurableContext, amount: int) -> Any:
    receipt = yield ctx.step(charge, amount, currency="USD", name="charge")
    return receipt


@replayflow.durable
def order_workflow(order: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    ctx.logger.info("order received", extra={"order": order["id"]})
    reservation = yield ctx.step(reserve, order["items"], name="reserve")
    yield ctx.wait(minutes=5, name="cool-off")
    receipt = yield ctx.run_in_child_context(billing, order["amount"], name="billing")
    tracking = yield ctx.step(ship, reservation, name="ship")
    return {"order": order["id"], "tracking": tracking, "charged": receipt["charged"]}


def notify(callback_id: str) -> None:
    CALLS.append(("notify", (callback_id,)))


@replayflow.durable
def approval_workflow(request: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    answer = yield ctx.wait_for_callback(notify, name="approval", timeout=3600, serdes=JsonSerDes())
    if not answer.get("approved"):
        return "rejected"
    callback = yield ctx.create_callback(name="countersign", heartbeat_timeout=60)
    yield ctx.step(notify, callback.callback_id, name="ask-countersign")
    signed = yield callback.result()
    return f"approved and {signed}"


@replayflow.durable
def fan_out_workflow(items: list[int], ctx: replayflow.DurableContext) -> Any:
    def double(c: replayflow.DurableContext, item: int, index: int, all_items: list[int]) -> Any:
        return (yield c.step(lambda: item * 2, name=f"double-{index}"))

    doubled = yield ctx.map(items, double, name="double-all")

    def left(c: replayflow.DurableContext) -> Any:
        return (yield c.step(charge, 1, name="left-charge"))

    def right(c: replayflow.DurableContext) -> Any:
        yield c.wait(seconds=10, name="right-wait")
        return "right"

    pair = yield ctx.parallel([ParallelBranch(left, "left"), ParallelBranch(right, "right")], name="pair")
    return {"doubled": doubled.get_results(), "pair": [i.status.value for i in pair.all]}


@replayflow.durable
def race_workflow(_: Any, ctx: replayflow.DurableContext) -> Any:
    def slow(c: replayflow.DurableContext) -> Any:
        return (yield c.step(charge, 100, name="slow-charge"))

    def fast(c: replayflow.DurableContext) -> Any:
        return (yield c.step(charge, 1, name="fast-charge"))

    result = yield ctx.parallel([slow, fast], name="race", completion=CompletionConfig.first_successful())
    yield ctx.step(ship, {"winner": result.get_results()}, name="after-race")
    return result.completion_reason.value


@replayflow.durable
def invoke_workflow(payload: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    quote = yield ctx.invoke("pricing-service", {"sku": payload["sku"]}, name="price")
    return quote["price"] * payload["qty"]


def check_status(state: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(("check_status", (state,)))
    return {"polls": state["polls"] + 1}


@replayflow.durable
def polling_workflow(_: Any, ctx: replayflow.DurableContext) -> Any:
    final = yield ctx.wait_for_condition(
        check_status,
        initial_state={"polls": 0},
        wait_strategy=replayflow.WaitStrategy(
            is_done=lambda s: s["polls"] >= 3, initial_delay=1, jitter=replayflow.Jitter.NONE
        ),
        name="poll",
    )
    return final["polls"]


FLAKY_RETRY = RetryPolicy(max_attempts=3, initial_delay=2, jitter=replayflow.Jitter.NONE)


FLAKY_ATTEMPTS: list[int] = []


def flaky_charge(amount: int) -> dict[str, Any]:
    FLAKY_ATTEMPTS.append(amount)
    if len(FLAKY_ATTEMPTS) < 3:
        raise ConnectionError(f"gateway timeout #{len(FLAKY_ATTEMPTS)}")
    return {"charged": amount}


@replayflow.durable
def flaky_workflow(amount: int, ctx: replayflow.DurableContext) -> Any:
    receipt = yield ctx.step(flaky_charge, amount, name="charge", retry=FLAKY_RETRY)
    yield ctx.wait(hours=2, name="settle")
    return receipt


def refuse(amount: int) -> None:
    raise PermissionError(f"amount {amount} refused")


@replayflow.durable
def failing_workflow(amount: int, ctx: replayflow.DurableContext) -> Any:
    yield ctx.step(refuse, amount, name="refuse", retry=replayflow.RetryPresets.none())

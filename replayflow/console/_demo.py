"""Demo workflows for the console's screenshots and browser tests: retries, a wait, a map, a callback, an invoke."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import replayflow
from replayflow import DurableContext, RetryPresets

if TYPE_CHECKING:
    from replayflow.local import LocalDurableService

__all__ = ["approval", "attempts", "fulfil", "register_demo", "ship"]

attempts: dict[str, int] = {}


def reserve(order_id: str) -> dict[str, Any]:
    """Fails twice per order, then succeeds (to show retries)."""
    attempts[order_id] = attempts.get(order_id, 0) + 1
    if attempts[order_id] < 3:
        raise ConnectionError(f"inventory service busy (attempt {attempts[order_id]})")
    return {"reservation": f"res-{order_id}", "skus": ["A-1", "B-2"]}


def price(item: dict[str, Any]) -> dict[str, Any]:
    return {"sku": item["sku"], "total": item["quantity"] * item["unit"]}


def notify(callback_id: str) -> None:
    return None


def _price_item(ctx: DurableContext, item: dict[str, Any], index: int, items: Any) -> Any:
    return (yield ctx.step(price, item, name="price"))


@replayflow.durable
def ship(request: dict[str, Any], ctx: DurableContext) -> Any:
    """A chained-invoke target: books a carrier."""
    return (yield ctx.step(lambda: {"tracking": f"1Z-{request['order']}", "carrier": "UPS"}, name="book"))


@replayflow.durable
def fulfil(order: dict[str, Any], ctx: DurableContext) -> Any:
    """Reserve (with retries), price every item in a map, wait, ask for approval, ship through an invoke."""
    reservation = yield ctx.step(reserve, order["id"], name="reserve", retry=RetryPresets.default())
    priced = yield ctx.map(order["items"], _price_item, name="price-items")
    yield ctx.wait(seconds=5, name="cool-off")
    answer = yield ctx.wait_for_callback(notify, name="approval", timeout=3600)
    shipment = yield ctx.invoke("ship", {"order": order["id"]}, name="ship")
    return {"reservation": reservation, "lines": priced.get_results(), "approval": answer, "shipment": shipment}


@replayflow.durable
def approval(order: dict[str, Any], ctx: DurableContext) -> Any:
    """Waits for one callback, then returns its answer."""
    answer = yield ctx.wait_for_callback(notify, name="approval", timeout=3600)
    return {"order": order.get("id"), "answer": answer}


def register_demo(service: LocalDurableService) -> None:
    """Register the demo functions on a :class:`~replayflow.local.LocalDurableService`."""
    service.register("fulfil", fulfil)
    service.register("approval", approval)
    service.register("ship", ship)

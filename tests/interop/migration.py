"""One order workflow written twice, with the official AWS SDK and with replayflow, for migration tests.

Both versions perform the same operations (same ids, types and names) so that either SDK can continue an
execution the other started. The steps return values the official SDK wraps in its envelope (dicts, lists
of non-primitives, datetimes, Decimals, tuples) and the map/parallel results are batch results; the last
step computes with all of them, so a value that arrived as an envelope dict would make it fail.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import replayflow
from replayflow import CompletionConfig
from replayflow.local.official_sdk import TransportServiceClient

PLACED = dt.datetime(2026, 11, 30, 9, 15, 0, 250000, tzinfo=dt.UTC)
SHIPPED = dt.date(2026, 12, 2)


def order_of(name: str) -> dict[str, Any]:
    return {
        "id": name,
        "total": Decimal("12.50"),
        "placed": PLACED,
        "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}],
        "dims": (3, 4.5),
    }


def prices() -> list[Any]:
    return [Decimal("1.25"), Decimal("2.50")]


def price(sku: str, index: int) -> dict[str, Any]:
    return {"sku": sku, "price": Decimal("1.5") * (index + 1)}


def shipping() -> dt.date:
    return SHIPPED


def labels() -> list[str]:
    return ["fragile", "gift"]


def settle(order: dict[str, Any], listed: list[Any], mapped: list[Any], facts: list[Any], answer: str) -> Any:
    """Computes with every earlier value (Decimal arithmetic, datetime and tuple methods, dict keys)."""
    total = order["total"] + sum(listed) + sum(item["price"] for item in mapped)
    return {
        "id": order["id"],
        "total": str(total),
        "placed": order["placed"].isoformat(),
        "qty": sum(line["qty"] for line in order["lines"]),
        "area": order["dims"][0] * order["dims"][1],
        "ships": facts[0].isoformat(),
        "labels": "+".join(facts[1]),
        "answer": answer,
    }


EXPECTED = settle(order_of("ada"), prices(), [price("a", 0), price("b", 1)], [SHIPPED, labels()], '"approved"')


# -- replayflow ---------------------------------------------------------------------------------------------


def _price_branch(c: replayflow.DurableContext, item: str, index: int, items: Any) -> Any:
    return (yield c.step(price, item, index, name=f"price-{index}"))


def _ship_branch(c: replayflow.DurableContext) -> Any:
    return (yield c.step(shipping, name="ship-date"))


def _label_branch(c: replayflow.DurableContext) -> Any:
    return (yield c.step(labels, name="labels"))


def replayflow_workflow(submitted: list[str]) -> Any:
    """The workflow in replayflow; ``submitted`` collects the callback ids it hands out."""

    def order(name: str, ctx: replayflow.DurableContext) -> Any:
        placed = yield ctx.step(order_of, name, name="order")
        listed = yield ctx.step(prices, name="prices")
        everything = CompletionConfig.all_completed()
        mapped = yield ctx.map(["a", "b"], _price_branch, name="price-each", max_concurrency=1, completion=everything)
        facts = yield ctx.parallel(
            [_ship_branch, _label_branch], name="facts", max_concurrency=1, completion=everything
        )
        yield ctx.wait(seconds=10, name="cool-off")
        answer = yield ctx.wait_for_callback(submitted.append, name="approval")
        return (
            yield ctx.step(settle, placed, listed, mapped.get_results(), facts.get_results(), answer, name="settle")
        )

    return order


# -- the official SDK ---------------------------------------------------------------------------------------


def official_workflow(submitted: list[str]) -> Any:
    """The same workflow with the official SDK (``aws_durable_execution_sdk_python``)."""
    from aws_durable_execution_sdk_python.config import CompletionConfig as OfficialCompletion
    from aws_durable_execution_sdk_python.config import Duration, MapConfig, ParallelConfig

    def order(name: str, ctx: Any) -> Any:
        placed = ctx.step(lambda sc: order_of(name), name="order")
        listed = ctx.step(lambda sc: prices(), name="prices")
        everything = OfficialCompletion.all_completed()
        mapped = ctx.map(
            ["a", "b"],
            lambda c, item, i, items: c.step(lambda sc: price(item, i), name=f"price-{i}"),
            name="price-each",
            config=MapConfig(max_concurrency=1, completion_config=everything),
        )
        facts = ctx.parallel(
            [
                lambda c: c.step(lambda sc: shipping(), name="ship-date"),
                lambda c: c.step(lambda sc: labels(), name="labels"),
            ],
            name="facts",
            config=ParallelConfig(max_concurrency=1, completion_config=everything),
        )
        ctx.wait(Duration.from_seconds(10), name="cool-off")
        answer = ctx.wait_for_callback(lambda callback_id, wctx: submitted.append(callback_id), name="approval")
        return ctx.step(
            lambda sc: settle(placed, listed, mapped.get_results(), facts.get_results(), answer), name="settle"
        )

    return order


def official_handler(workflow: Any, transport: Any) -> Any:
    """``handler(event, context)`` running ``workflow`` with the official SDK, checkpointing to ``transport``."""
    from aws_durable_execution_sdk_python import durable_execution
    from aws_durable_execution_sdk_python.execution import (
        DurableExecutionInvocationInput,
        DurableExecutionInvocationInputWithClient,
    )

    inner = durable_execution(workflow)

    def handler(event: Any, context: Any) -> Any:
        invocation = DurableExecutionInvocationInput.from_json_dict(event)
        wrapped = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
            invocation, TransportServiceClient(transport)
        )
        return inner(wrapped, context)

    return handler


class OfficialInvoker:
    """A ``replayflow.local`` invoker for handlers made by :func:`official_handler` (the service's transport)."""

    def __init__(self, workflow: Any) -> None:
        self.workflow = workflow
        self.invocations = 0

    def invoke(self, function: Any, event: Any, context: Any, transport: Any) -> Any:
        from replayflow.local import InvocationOutcome
        from replayflow.local.invokers import handler_error, marshal

        self.invocations += 1
        try:
            output = official_handler(self.workflow, transport)(event, context)
        except Exception as exc:
            return InvocationOutcome(error=handler_error(exc))
        return InvocationOutcome(output=marshal(output))

    def close(self) -> None:
        return None


#: For ``replayflow replay``: the replayflow version with its defaults, and with the official format.
order_workflow = replayflow.durable(replayflow_workflow([]))
order_workflow_official_format = replayflow.durable(replayflow_workflow([]), serdes=replayflow.OFFICIAL_FORMAT)

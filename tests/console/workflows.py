"""Workflows the console tests run."""

from __future__ import annotations

from typing import Any

import replayflow
from replayflow import DurableContext

SCRIPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _echo(value: Any) -> Any:
    return value


def _item(ctx: DurableContext, item: int, index: int, items: Any) -> Any:
    return (yield ctx.step(_echo, item, name="item"))


@replayflow.durable
def wide(count: int, ctx: DurableContext) -> Any:
    """``2 * count + 2`` operations: a step, a map of ``count`` iterations with one step each."""
    yield ctx.step(_echo, "first", name="first")
    result = yield ctx.map(list(range(count)), _item, name="items")
    return len(result.get_results())


def _notify(callback_id: str) -> None:
    return None


@replayflow.durable
def approval(order: dict[str, Any], ctx: DurableContext) -> Any:
    """Waits for one callback; returns its answer."""
    answer = yield ctx.wait_for_callback(_notify, name="approval", timeout=3600)
    return {"order": order.get("id"), "answer": answer}


@replayflow.durable
def hostile(text: str, ctx: DurableContext) -> Any:
    """Puts ``text`` in a step name, a result and an error: the console must show it, not run it."""
    yield ctx.step(_echo, text, name=text[:200])
    yield ctx.step(_fail, text, name="fails", retry=replayflow.RetryPresets.none())


def _fail(text: str) -> None:
    raise ValueError(text)

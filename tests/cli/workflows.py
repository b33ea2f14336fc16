"""Workflows the CLI tests run in subprocesses (imported as tests.cli.workflows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import replayflow


def publish(callback_id: str, path: str) -> None:
    Path(path).write_text(callback_id)


@replayflow.durable
def approval(order: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    callback = yield ctx.create_callback(name="approval", timeout=300)
    yield ctx.step(publish, callback.callback_id, order["callback_file"], name="publish")
    answer = yield callback.result()
    return {"order": order["id"], "answer": answer}


def broken(_: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.step(lambda: 1 / 0, name="divide", retry=replayflow.RetryPresets.none())


def fetch(order_id: str) -> dict[str, str]:
    return {"id": order_id}


def typed_v1(order: dict[str, Any], ctx: replayflow.DurableContext) -> replayflow.Workflow[str]:
    fetched = yield from ctx.step(fetch, order["id"], name="fetch")
    return fetched["id"]


def typed_v2(order: dict[str, Any], ctx: replayflow.DurableContext) -> replayflow.Workflow[str]:
    fetched = yield from ctx.step(fetch, order["id"], name="fetch-order")  # renamed: non-deterministic
    return fetched["id"]

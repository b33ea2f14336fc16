"""Workflows the CLI tests run in subprocesses (imported as tests.cli.workflows)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import replayflow


def publish(callback_id: str, path: str) -> None:
    """Write the id where a test waits for it, atomically (a reader never sees an empty file)."""
    partial = Path(path + ".partial")
    partial.write_text(callback_id)
    partial.replace(path)


@replayflow.durable
def approval(order: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    callback = yield ctx.create_callback(name="approval", timeout=300)
    yield ctx.step(publish, callback.callback_id, order["callback_file"], name="publish")
    answer = yield callback.result()
    return {"order": order["id"], "answer": answer}


def broken(_: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.step(lambda: 1 / 0, name="divide", retry=replayflow.RetryPresets.none())


def _log(directory: str, line: str) -> str:
    with open(Path(directory) / "log.txt", "a") as log:
        log.write(line + "\n")
    return line


def _gate(directory: str) -> str:
    _log(directory, "b-start")
    while not (Path(directory) / "go").exists():  # the test kills the process here, or lets it go
        time.sleep(0.02)
    return _log(directory, "b-done")


@replayflow.durable
def gated(job: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    """Three steps that log their bodies; the second waits for a ``go`` file."""
    a = yield ctx.step(_log, job["dir"], "a", name="a")
    b = yield ctx.step(_gate, job["dir"], name="b")
    c = yield ctx.step(_log, job["dir"], "c", name="c")
    return [a, b, c]


def _tick(i: int) -> int:
    time.sleep(0.002)
    return i


@replayflow.durable
def ticking(count: int, ctx: replayflow.DurableContext) -> Any:
    """``count`` small steps: a writer that keeps writing while a test reads the store."""
    total = 0
    for i in range(count):
        total += yield ctx.step(_tick, i, name=f"t{i}")
    return total


def fetch(order_id: str) -> dict[str, str]:
    return {"id": order_id}


def typed_v1(order: dict[str, Any], ctx: replayflow.DurableContext) -> replayflow.Workflow[str]:
    fetched = yield from ctx.step(fetch, order["id"], name="fetch")
    return fetched["id"]


def typed_v2(order: dict[str, Any], ctx: replayflow.DurableContext) -> replayflow.Workflow[str]:
    fetched = yield from ctx.step(fetch, order["id"], name="fetch-order")  # renamed: non-deterministic
    return fetched["id"]


def check(item: int) -> int:
    if item % 100 == 7:
        raise ValueError(f"item {item} is bad")
    return item


def fan(_: Any, ctx: replayflow.DurableContext) -> Any:
    def one(c: replayflow.DurableContext, item: int, index: int, items: Any) -> Any:
        return (yield c.step(check, item, name="check", retry=replayflow.RetryPresets.none()))

    def nested(c: replayflow.DurableContext) -> Any:
        return (yield c.step(check, 1, name="inner"))

    yield ctx.run_in_child_context(nested, name="outer")
    completion = replayflow.CompletionConfig(tolerated_failure_count=5)
    result = yield ctx.map(list(range(200)), one, name="fan", completion=completion)
    return len(result.get_results())


def long_callback(_: Any, ctx: replayflow.DurableContext) -> Any:
    answer = yield ctx.wait_for_callback(lambda callback_id: None, name="approval", timeout=24 * 3600)
    return answer


@replayflow.durable
def forgets_a_yield(_: Any, ctx: replayflow.DurableContext) -> Any:
    ctx.step(fetch, "o-1", name="fetch")
    yield ctx.wait(seconds=1, name="pause")
    return "done"

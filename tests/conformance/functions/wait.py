"""Suite ``wait`` (2-x): durable waits, their names and duration units."""

from __future__ import annotations

from typing import Any

import replayflow
from tests.conformance.registry import requirement


@requirement("2-1")
@replayflow.durable
def wait_basic(event: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.wait(replayflow.Duration(seconds=2))


@requirement("2-2")
@replayflow.durable
def wait_named(event: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.wait(replayflow.Duration(seconds=2), name="custom_wait_name")


@requirement("2-3")
@replayflow.durable
def wait_sequential(event: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.wait(seconds=2, name="wait-1")
    yield ctx.wait(seconds=2, name="wait-2")
    return {"completedWaits": 2}


@requirement("2-4")
@replayflow.durable
def wait_minutes(event: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.wait(replayflow.Duration(minutes=1))


@requirement("2-5")
@replayflow.durable
def wait_hours(event: Any, ctx: replayflow.DurableContext) -> Any:
    yield ctx.wait(replayflow.Duration(hours=1))

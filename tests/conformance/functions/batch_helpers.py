"""What the parallel and map workflows share: constant branches, failing branches, projections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replayflow import BatchResult, DurableContext


class BranchError(Exception):
    """What a failing branch or item raises."""


def constant(value: Any) -> Any:
    """A step body that returns ``value``."""
    return value


def returns(value: Any) -> Callable[[DurableContext], Any]:
    """A branch that returns ``value`` directly, without any durable operation."""

    def branch(ctx: DurableContext) -> Any:
        return value

    return branch


def step_returning(value: Any) -> Callable[[DurableContext], Any]:
    """A branch that runs one step returning ``value``."""

    def branch(ctx: DurableContext) -> Any:
        return (yield ctx.step(constant, value))

    return branch


def fails(ctx: DurableContext) -> Any:
    """A branch that raises."""
    raise BranchError("this branch failed")


def outcome(result: BatchResult[Any]) -> dict[str, Any]:
    """The batch's completion reason, status and counts."""
    return {
        "completionReason": result.completion_reason.value,
        "status": result.status,
        "successCount": result.success_count,
        "failureCount": result.failure_count,
        "totalCount": result.total_count,
    }


def counts(result: BatchResult[Any]) -> dict[str, Any]:
    """The batch's completion reason and counts (no status)."""
    projection = outcome(result)
    del projection["status"]
    return projection

"""Workflows for the replay-equivalence tests (importable by ``replayflow replay`` run as a subprocess)."""

from __future__ import annotations

from typing import Any

import replayflow
from replayflow import CallbackFailedError, CallbackTimeoutError, StepInterruptedError, StepSemantics
from replayflow.local import ProcessExit

#: Names of step bodies as they run (the tests check no completed body runs again).
CALLS: list[str] = []


def notify(callback_id: str) -> None:
    CALLS.append("notify")


@replayflow.durable
def escalate(event: Any, ctx: Any) -> Any:
    """The issue's pattern: a handler for a timed-out or refused callback, then a later suspension."""
    try:
        yield ctx.wait_for_callback(notify, name="approval", timeout=60, heartbeat_timeout=event.get("heartbeat"))
    except CallbackTimeoutError as error:
        yield ctx.wait(seconds=10, name="after-timeout")
        return f"escalated after {type(error).__name__}"
    except CallbackFailedError as error:
        yield ctx.wait(seconds=10, name="after-failure")
        return f"refused: {error.error_message}"
    return "approved"


def charge_once() -> str:
    CALLS.append("charge")
    if CALLS.count("charge") == 1:
        raise ProcessExit(1)  # the Lambda process dies while the at-most-once body runs
    return "charged"  # pragma: no cover - an at-most-once step is never run again


@replayflow.durable
def interrupted(event: Any, ctx: Any) -> Any:
    try:
        yield ctx.step(
            charge_once,
            name="charge",
            semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
            retry=replayflow.RetryPresets.none(),
        )
    except StepInterruptedError:
        yield ctx.wait(seconds=5, name="before-asking")
        return "ask a human"
    return "charged"


def _work(label: str) -> None:
    CALLS.append(label)


def _item(ctx: Any, item: int, index: int, items: Any) -> Any:
    yield ctx.step(_work, f"item-{item}", name="work")
    yield ctx.wait(seconds=60, name="hold")
    return item * 10


def mapping(count: int) -> Any:
    """A workflow mapping over ``count`` items (each waits a minute), then waiting an hour."""

    @replayflow.durable
    def workflow(event: Any, ctx: Any) -> Any:
        result = yield ctx.map(list(range(count)), _item, name="items")
        yield ctx.wait(seconds=3600, name="later")
        return result.get_results()

    return workflow


def _branch(label: str) -> Any:
    def body(ctx: Any) -> Any:
        yield ctx.step(_work, f"branch-{label}", name="work")
        yield ctx.wait(seconds=60, name="hold")
        return label

    return body


def parallel(*labels: str, named: bool = False) -> Any:
    """A workflow with one parallel branch per label (each waits a minute), then waiting an hour."""

    @replayflow.durable
    def workflow(event: Any, ctx: Any) -> Any:
        branches = [replayflow.ParallelBranch(_branch(x), x) if named else _branch(x) for x in labels]
        result = yield ctx.parallel(branches, name="fan-out")
        yield ctx.wait(seconds=3600, name="later")
        return result.get_results()

    return workflow


map3 = mapping(3)
map4 = mapping(4)
map2 = mapping(2)

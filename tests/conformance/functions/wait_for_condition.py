"""Suite ``wait_for_condition`` (6-x): polling a check function under a wait strategy."""

from __future__ import annotations

import base64
import json
from typing import Any

import replayflow
from replayflow import DurableContext, Jitter, SerDesContext, StepError, WaitStrategy, step_context
from tests.conformance.registry import requirement


def every_second(is_done: Any = None, max_attempts: int = 60) -> WaitStrategy:
    """Poll once a second (no backoff, no jitter) until ``is_done(state)``."""
    return WaitStrategy(is_done=is_done, max_attempts=max_attempts, initial_delay=1, backoff_rate=1, jitter=Jitter.NONE)


def increment(state: int) -> int:
    return state + 1


def unchanged(state: Any) -> Any:
    return state


def at_least(threshold: int) -> Any:
    return lambda state: state >= threshold


@requirement("6-1")
@replayflow.durable
def condition_basic(event: int, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_condition(increment, initial_state=0, wait_strategy=every_second(at_least(event))))


@requirement("6-2")
@replayflow.durable
def condition_immediate(event: int, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_condition(unchanged, initial_state=5, wait_strategy=every_second(at_least(5))))


@requirement("6-3")
@replayflow.durable
def condition_named(event: int, ctx: DurableContext) -> Any:
    return (
        yield ctx.wait_for_condition(
            increment, initial_state=0, wait_strategy=every_second(at_least(2)), name="poll-status"
        )
    )


@requirement("6-4")
@replayflow.durable
def condition_initial_state(event: int, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_condition(increment, initial_state=5, wait_strategy=every_second(at_least(event))))


@requirement("6-5")
@replayflow.durable
def condition_fixed_delay(event: int, ctx: DurableContext) -> Any:
    strategy = WaitStrategy(is_done=at_least(event), initial_delay=2, backoff_rate=1, jitter=Jitter.NONE)
    return (yield ctx.wait_for_condition(increment, initial_state=0, wait_strategy=strategy))


@requirement("6-6")
@replayflow.durable
def condition_max_attempts(event: int, ctx: DurableContext) -> Any:
    strategy = every_second(lambda state: False, max_attempts=3)
    return (yield ctx.wait_for_condition(increment, initial_state=event, wait_strategy=strategy))


def raises_on_first_attempt(state: Any) -> Any:
    attempt = step_context().attempt
    if attempt == 1:
        raise RuntimeError(f"the check failed on attempt {attempt}")
    return state


@requirement("6-7")
@replayflow.durable
def condition_check_raises(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_condition(raises_on_first_attempt, initial_state=0, wait_strategy=every_second()))


@requirement("6-8")
@replayflow.durable
def condition_check_raises_caught(event: Any, ctx: DurableContext) -> Any:
    try:
        return (yield ctx.wait_for_condition(raises_on_first_attempt, initial_state=0, wait_strategy=every_second()))
    except StepError:
        return "recovered"


def advance_job(state: dict[str, Any]) -> dict[str, Any]:
    attempts = state["attempts"] + 1
    return {"status": "DONE" if attempts >= 2 else "PENDING", "attempts": attempts}


@requirement("6-9")
@replayflow.durable
def condition_object_state(event: Any, ctx: DurableContext) -> Any:
    strategy = every_second(lambda state: state["status"] != "PENDING")
    return (
        yield ctx.wait_for_condition(
            advance_job, initial_state={"status": "PENDING", "attempts": 0}, wait_strategy=strategy
        )
    )


def returns_null(state: Any) -> None:
    return None


def stop_at_once(state: Any, attempt: int) -> None:
    return None


@requirement("6-10")
@replayflow.durable
def condition_null_state(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_condition(returns_null, initial_state=None, wait_strategy=stop_at_once))


class Base64SerDes:
    """Checkpoints the string state base64-encoded."""

    def serialize(self, value: str, context: SerDesContext) -> str:
        return json.dumps(base64.b64encode(value.encode()).decode())

    def deserialize(self, data: str, context: SerDesContext) -> str:
        return base64.b64decode(json.loads(data)).decode()


def append_x(state: str) -> str:
    return state + "x"


@requirement("6-11")
@replayflow.durable
def condition_custom_serdes(event: Any, ctx: DurableContext) -> Any:
    strategy = every_second(lambda state: len(state) >= 2)
    return (yield ctx.wait_for_condition(append_x, initial_state="", wait_strategy=strategy, serdes=Base64SerDes()))


def times_ten(value: int) -> int:
    return value * 10


@requirement("6-12")
@replayflow.durable
def condition_then_step(event: int, ctx: DurableContext) -> Any:
    state = yield ctx.wait_for_condition(increment, initial_state=0, wait_strategy=every_second(at_least(event)))
    return (yield ctx.step(times_ten, state))


@requirement("6-13")
@replayflow.durable
def condition_sequential(event: Any, ctx: DurableContext) -> Any:
    first = yield ctx.wait_for_condition(increment, initial_state=0, wait_strategy=every_second(at_least(2)))
    return (yield ctx.wait_for_condition(increment, initial_state=first, wait_strategy=every_second(at_least(4))))

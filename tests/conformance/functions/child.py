"""Suite ``child`` (3-x): child contexts, their names, errors, replay, large results and logging."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import replayflow
from replayflow import ChildContextError, DurableContext, RetryPresets, SerDesContext, step_context
from tests.conformance.registry import requirement

NO_RETRY = RetryPresets.none()

#: A child result bigger than one checkpoint (256 KB) is not stored; replay rebuilds it.
LARGE_RESULT_BYTES = 300 * 1024


def return_input(value: Any) -> Any:
    return value


def failing_step() -> str:
    raise RuntimeError("the inner step failed")


def fails_first_attempt(value: str) -> str:
    attempt = step_context().attempt
    if attempt == 1:
        raise RuntimeError(f"attempt {attempt} failed")
    return value


def always_fails() -> str:
    raise RuntimeError(f"attempt {step_context().attempt} failed")


def small_value(value: str) -> str:
    return value[:4]


def crash_on_first_run(value: str, first_run: bool) -> str:
    """Work until the step's START is durable, then kill the process (a real Lambda runtime crash), on the
    step's first run.

    The requirement's crash comes *after* ContextStarted and StepStarted are checkpointed. An at-least-once
    step's START travels with its result unless the body is still running after ``start_checkpoint_delay``
    (0.1 s): then a background flush sends it. The body waits for that flush's answer (it reads the
    checkpointer, which only a test may do), however long a loaded machine takes, before the process dies.
    """
    if first_run:
        checkpointer = replayflow.step_context()._host.checkpointer  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30  # bounds a hang only
        while checkpointer.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        with checkpointer._send_lock:  # the send under way, if any, has its answer
            pass
        os._exit(1)
    return value


class UppercaseTextSerDes:
    """Stores a string result as its uppercased text."""

    def serialize(self, value: str, context: SerDesContext) -> str:
        return value.upper()

    def deserialize(self, data: str, context: SerDesContext) -> str:
        return data


# -- child bodies ---------------------------------------------------------------------------------------------


def single_step(child: DurableContext, value: str) -> Any:
    return (yield child.step(return_input, value))


def two_steps(child: DurableContext, value: str) -> Any:
    first = yield child.step(return_input, value, name="first")
    return (yield child.step(return_input, first, name="second"))


def failing_child(child: DurableContext) -> Any:
    return (yield child.step(failing_step, retry=NO_RETRY))


def inner_child(child: DurableContext, value: str) -> Any:
    return (yield child.step(return_input, value, name="inner_step"))


def outer_child(child: DurableContext, value: str) -> Any:
    yield child.step(return_input, value, name="outer_step")
    return (yield child.run_in_child_context(inner_child, value))


def retrying_child(child: DurableContext, value: str) -> Any:
    retry = RetryPresets.fixed(delay=1, max_attempts=3)
    return (yield child.step(fails_first_attempt, value, retry=retry))


def exhausting_child(child: DurableContext) -> Any:
    return (yield child.step(always_fails, retry=RetryPresets.fixed(delay=1, max_attempts=2)))


def step_then_wait(child: DurableContext, value: str) -> Any:
    result = yield child.step(return_input, value)
    yield child.wait(seconds=1)
    return result


def large_result(child: DurableContext, value: str) -> Any:
    child.logger.info(f"building the large result for {value}")
    seed = yield child.step(small_value, value)
    return seed * (LARGE_RESULT_BYTES // len(seed))


def crashing_child(child: DurableContext, value: str) -> Any:
    # The history decides: once the step's start is recorded, this code is replaying and the step is re-run.
    first_run = not child.is_replaying()
    return (yield child.step(crash_on_first_run, value, first_run))


def wait_only(child: DurableContext, value: str) -> Any:
    yield child.wait(seconds=1)
    return value


def raises_directly(child: DurableContext) -> Any:
    raise RuntimeError("the child body failed before any durable operation")


def returns_null(child: DurableContext) -> None:
    return None


def logs_only(child: DurableContext, value: str) -> str:
    child.logger.info(f"child context received {value}")
    return value


# -- workflows --------------------------------------------------------------------------------------------------


@requirement("3-1")
@replayflow.durable
def child_basic(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(single_step, event))


@requirement("3-2")
@replayflow.durable
def child_named(event: dict[str, str], ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(single_step, event["value"], name=event["name"]))


@requirement("3-3")
@replayflow.durable
def child_sequential_steps(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(two_steps, event))


@requirement("3-4")
@replayflow.durable
def child_error(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(failing_child))


@requirement("3-5")
@replayflow.durable
def child_error_caught(event: str, ctx: DurableContext) -> Any:
    with contextlib.suppress(ChildContextError):
        yield ctx.run_in_child_context(failing_child)
    return (yield ctx.step(return_input, event, name="recovery"))


@requirement("3-6")
@replayflow.durable
def child_nested(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(outer_child, event))


@requirement("3-7")
@replayflow.durable
def child_step_retry(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(retrying_child, event))


@requirement("3-8")
@replayflow.durable
def child_step_retry_exhausted(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(exhausting_child))


@requirement("3-9")
@replayflow.durable
def child_replay_cached(event: str, ctx: DurableContext) -> Any:
    result = yield ctx.run_in_child_context(single_step, event)
    yield ctx.wait(seconds=1)
    return result


@requirement("3-10")
@replayflow.durable
def child_step_and_wait(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(step_then_wait, event))


@requirement("3-11")
@replayflow.durable(log_replay=True)
def child_large_result(event: str, ctx: DurableContext) -> Any:
    big = yield ctx.run_in_child_context(large_result, event)
    yield ctx.wait(seconds=1)
    return {"length": len(big)}


@requirement("3-12", process=True)
@replayflow.durable
def child_interrupted(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(crashing_child, event))


@requirement("3-13")
@replayflow.durable
def child_wait_inside(event: str, ctx: DurableContext) -> Any:
    yield ctx.run_in_child_context(wait_only, event)
    return (yield ctx.step(return_input, event))


@requirement("3-14")
@replayflow.durable
def child_custom_serdes(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(single_step, event, serdes=UppercaseTextSerDes()))


@requirement("3-15")
@replayflow.durable
def child_error_without_step(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(raises_directly))


@requirement("3-16")
@replayflow.durable
def child_returns_null(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(returns_null))


@requirement("3-17")
@replayflow.durable(log_replay=True)
def child_logger_only(event: str, ctx: DurableContext) -> Any:
    result = yield ctx.run_in_child_context(logs_only, event)
    yield ctx.wait(seconds=1)
    return result


@requirement("3-18")
@replayflow.durable
def child_then_step_and_wait(event: str, ctx: DurableContext) -> Any:
    inner = yield ctx.run_in_child_context(step_then_wait, event)
    result = yield ctx.step(return_input, inner)
    yield ctx.wait(seconds=1)
    return result

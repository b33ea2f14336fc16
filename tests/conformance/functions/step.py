"""Suite ``step`` (1-x): steps, their names, results, serdes, retries, semantics and logging."""

from __future__ import annotations

import json
import os
from typing import Any

import replayflow
from replayflow import RetryPolicy, RetryPresets, SerDesContext, StepError, StepSemantics, step_context
from tests.conformance.registry import requirement

NO_RETRY = RetryPresets.none()


class TransientError(Exception):
    """An error worth retrying."""


# -- step bodies ----------------------------------------------------------------------------------------------


def greet(name: str) -> str:
    return f"Hello, {name}!"


def step_one() -> str:
    return "first"


def step_two(previous: str) -> str:
    return f"{previous}_second"


def build_response(event: dict[str, Any]) -> dict[str, Any]:
    return {"user": {"name": event["name"], "tags": event["tags"]}, "count": len(event["tags"])}


def do_nothing() -> None:
    return None


def return_input(value: Any) -> Any:
    return value


def failing_func() -> str:
    raise RuntimeError("this step always fails")


def always_fail() -> str:
    raise RuntimeError(f"attempt {step_context().attempt} failed")


def fails_until(successful_attempt: int, result: str) -> str:
    """Fail every attempt before ``successful_attempt`` (the attempt number is durable state)."""
    attempt = step_context().attempt
    if attempt < successful_attempt:
        raise RuntimeError(f"attempt {attempt} failed")
    return result


def transient_then_ok() -> str:
    if step_context().attempt == 1:
        raise TransientError("temporarily unavailable")
    return "recovered"


def always_transient() -> str:
    raise TransientError("temporarily unavailable")


class UppercaseSerDes:
    """JSON, with every string value uppercased on the way in."""

    def serialize(self, value: Any, context: SerDesContext) -> str:
        return json.dumps(_upper(value))

    def deserialize(self, data: str, context: SerDesContext) -> Any:
        return json.loads(data)


def _upper(value: Any) -> Any:
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, list):
        return [_upper(v) for v in value]
    if isinstance(value, dict):
        return {k: _upper(v) for k, v in value.items()}
    return value


# -- workflows --------------------------------------------------------------------------------------------------


@requirement("1-1")
@replayflow.durable
def step_basic(event: str, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(greet, event))


@requirement("1-2")
@replayflow.durable
def step_named(event: str, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(greet, event, name="custom_step_name"))


@requirement("1-3")
@replayflow.durable
def step_sequential(event: Any, ctx: replayflow.DurableContext) -> Any:
    result1 = yield ctx.step(step_one)
    result2 = yield ctx.step(step_two, result1)
    return result2


@requirement("1-4")
@replayflow.durable
def step_complex_result(event: dict[str, Any], ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(build_response, event))


@requirement("1-5")
@replayflow.durable
def step_null_result(event: Any, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(do_nothing))


@requirement("1-6")
@replayflow.durable
def step_custom_serdes(event: str, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(return_input, event, serdes=UppercaseSerDes()))


def logged_greeting(name: str) -> str:
    logger = step_context().logger
    logger.info(f"Greeting step started for: {name}")
    greeting = greet(name)
    logger.info(f"Greeting step completed with: {greeting}")
    return greeting


@requirement("1-7")
@replayflow.durable
def step_logger(event: str, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(logged_greeting, event))


def compute() -> str:
    return "computed"


@requirement("1-8")
@replayflow.durable
def step_then_wait(event: Any, ctx: replayflow.DurableContext) -> Any:
    result = yield ctx.step(compute)
    yield ctx.wait(seconds=2)
    return result


def cached_value() -> str:
    step_context().logger.info("step executed")
    return "cached_value"


@requirement("1-9")
@replayflow.durable
def step_replay_skips(event: Any, ctx: replayflow.DurableContext) -> Any:
    result = yield ctx.step(cached_value)
    yield ctx.wait(seconds=1)
    return result


def failing_logged() -> str:
    step_context().logger.info("step executed")
    raise RuntimeError("permanent failure")


@requirement("1-10")
@replayflow.durable
def step_replay_rethrows(event: Any, ctx: replayflow.DurableContext) -> Any:
    try:
        yield ctx.step(failing_logged, retry=NO_RETRY)
    except StepError as error:
        caught = str(error)
    yield ctx.wait(seconds=1)
    return caught


@requirement("1-11")
@replayflow.durable
def step_retry_then_succeed(event: Any, ctx: replayflow.DurableContext) -> Any:
    retry = RetryPresets.fixed(delay=1, max_attempts=3)
    return (yield ctx.step(fails_until, 2, "Operation succeeded", name="unreliable_func", retry=retry))


@requirement("1-12")
@replayflow.durable
def step_retry_exhausted(event: Any, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(always_fail, retry=RetryPresets.fixed(delay=1, max_attempts=4)))


@requirement("1-13")
@replayflow.durable
def step_default_retry(event: Any, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(fails_until, 3, "third time lucky", name="unreliable_func"))


@requirement("1-14")
@replayflow.durable
def step_custom_backoff(event: Any, ctx: replayflow.DurableContext) -> Any:
    retry = RetryPolicy(max_attempts=5, initial_delay=2, backoff_rate=3, jitter=replayflow.Jitter.NONE)
    return (yield ctx.step(fails_until, 3, "third time lucky", name="unreliable_func", retry=retry))


def retry_on_transient(error: BaseException, attempt: int) -> int | None:
    """Retry TransientError (after 1 s, up to 3 attempts); give up on anything else."""
    return 1 if isinstance(error, TransientError) and attempt < 3 else None


def no_retry_on_transient(error: BaseException, attempt: int) -> int | None:
    """Never retry TransientError; retry anything else after 1 s, up to 3 attempts."""
    return None if isinstance(error, TransientError) or attempt >= 3 else 1


@requirement("1-15")
@replayflow.durable
def step_retry_specific_error(event: Any, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(transient_then_ok, retry=retry_on_transient))


@requirement("1-16")
@replayflow.durable
def step_no_retry_specific_error(event: Any, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(always_transient, retry=no_retry_on_transient))


def crash_on_first_attempt(value: str) -> str:
    """Log the input, then kill the process on the first attempt (a real Lambda runtime crash)."""
    context = step_context()
    context.logger.info(f"processing {value}")
    if context.attempt == 1:
        os._exit(1)
    return "succeeded on second attempt"


@requirement("1-17", process=True)
@replayflow.durable
def step_at_most_once_interrupted(event: str, ctx: replayflow.DurableContext) -> Any:
    return (
        yield ctx.step(
            crash_on_first_attempt,
            event,
            name="at_most_once_flaky_step",
            semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
            retry=NO_RETRY,
        )
    )


@requirement("1-18", process=True)
@replayflow.durable
def step_at_most_once_retried(event: str, ctx: replayflow.DurableContext) -> Any:
    return (
        yield ctx.step(
            crash_on_first_attempt,
            event,
            semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
            retry=RetryPresets.fixed(delay=1, max_attempts=3),
        )
    )


@requirement("1-19")
@replayflow.durable
def step_fails(event: Any, ctx: replayflow.DurableContext) -> Any:
    return (yield ctx.step(failing_func, retry=NO_RETRY))


def use_value(value: str) -> str:
    return value


@requirement("1-20")
@replayflow.durable
def step_error_caught(event: Any, ctx: replayflow.DurableContext) -> Any:
    try:
        value = yield ctx.step(failing_func, retry=NO_RETRY)
    except StepError:
        value = "fallback_result"
    return (yield ctx.step(use_value, value))

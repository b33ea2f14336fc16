"""Workflows written with AWS's own SDK (aws-durable-execution-sdk-python), served by ``replayflow serve``."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

RETRY = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1), jitter_strategy=JitterStrategy.NONE)
    )
)


def pack(name: str, step: Any) -> str:
    if step.attempt < 2:
        raise ConnectionError("warehouse API is down")
    return f"{name} packed (attempt {step.attempt})"


def nested(ctx: DurableContext) -> int:
    return ctx.step(lambda _: 41, name="inner") + 1


@durable_execution
def order(event: Any, context: DurableContext) -> Any:
    greeting = context.step(lambda _: f"hello {event['name']}", name="greet")
    packed = context.step(lambda step: pack(event["name"], step), name="pack", config=RETRY)
    context.wait(Duration.from_seconds(2), name="cool-off")
    approval = context.wait_for_callback(lambda callback_id, ctx: None, name="approve")
    doubled = context.map([1, 2, 3], lambda ctx, item, index, items: item * 2, name="double")
    pair = context.parallel([lambda ctx: "left", lambda ctx: "right"], name="pair")
    inner = context.run_in_child_context(nested, name="nest")
    charged = context.invoke("charge", {"amount": 5}, name="charge")
    return {
        "greeting": greeting,
        "packed": packed,
        "approval": approval,
        "doubled": doubled.get_results(),
        "pair": pair.get_results(),
        "inner": inner,
        "charged": charged,
    }


@durable_execution
def charge(event: Any, context: DurableContext) -> Any:
    return context.step(lambda _: {"charged": event["amount"]}, name="charge-card")

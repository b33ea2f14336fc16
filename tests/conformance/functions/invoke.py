"""Suite ``invoke`` (5-x): chained invokes of other functions, their payloads, errors and replay."""

from __future__ import annotations

import json
from typing import Any

import replayflow
from replayflow import DurableContext, InvokeError, SerDesContext
from tests.conformance.registry import requirement
from tests.conformance.targets import ECHO, FAIL, MEASURE, UPPERCASE

#: A payload close to the 256 KB a single checkpointed operation payload may hold.
LARGE_PAYLOAD_CHARS = 250 * 1024


def prepare() -> dict[str, str]:
    return {"prepared": "by a step"}


def describe(result: Any) -> str:
    return f"the target answered {json.dumps(result)}"


@requirement("5-1")
@replayflow.durable
def invoke_basic(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, event))


@requirement("5-2")
@replayflow.durable
def invoke_named(event: dict[str, Any], ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, event["payload"], name=event["name"]))


@requirement("5-3")
@replayflow.durable
def invoke_complex(event: dict[str, Any], ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, event))


@requirement("5-4")
@replayflow.durable
def invoke_null(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, None))


@requirement("5-5")
@replayflow.durable
def invoke_target_fails(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.invoke(FAIL))


@requirement("5-6")
@replayflow.durable
def invoke_target_fails_caught(event: Any, ctx: DurableContext) -> Any:
    try:
        return (yield ctx.invoke(FAIL))
    except InvokeError as error:
        return f"fallback: {error.error_message}"


@requirement("5-7")
@replayflow.durable
def invoke_large_payload(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.invoke(MEASURE, "x" * LARGE_PAYLOAD_CHARS))


@requirement("5-8")
@replayflow.durable
def invoke_tenant(event: dict[str, Any], ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, event["payload"], tenant_id=event["tenantId"]))


@requirement("5-9")
@replayflow.durable
def invoke_then_wait(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.invoke(ECHO, {"replayed": False})
    yield ctx.wait(seconds=1)
    return result


@requirement("5-10")
@replayflow.durable
def invoke_failure_then_wait(event: Any, ctx: DurableContext) -> Any:
    try:
        outcome = yield ctx.invoke(FAIL)
    except InvokeError as error:
        outcome = f"caught: {error.error_message}"
    yield ctx.wait(seconds=1)
    return outcome


@requirement("5-11")
@replayflow.durable
def step_then_invoke(event: Any, ctx: DurableContext) -> Any:
    prepared = yield ctx.step(prepare)
    return (yield ctx.invoke(ECHO, prepared))


@requirement("5-12")
@replayflow.durable
def invoke_then_step(event: Any, ctx: DurableContext) -> Any:
    result = yield ctx.invoke(ECHO, {"value": 42})
    return (yield ctx.step(describe, result))


def invoke_in_child(child: DurableContext) -> Any:
    return (yield child.invoke(ECHO, {"from": "child context"}))


@requirement("5-13")
@replayflow.durable
def invoke_inside_child(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(invoke_in_child))


@requirement("5-14")
@replayflow.durable
def invoke_sequential(event: Any, ctx: DurableContext) -> Any:
    first = yield ctx.invoke(ECHO, "first")
    second = yield ctx.invoke(UPPERCASE, "second")
    return [first, second]


class UppercasePayloadSerDes:
    """Sends the payload as JSON with every string uppercased."""

    def serialize(self, value: Any, context: SerDesContext) -> str:
        return json.dumps({k: v.upper() if isinstance(v, str) else v for k, v in value.items()})

    def deserialize(self, data: str, context: SerDesContext) -> Any:
        return json.loads(data)


@requirement("5-15")
@replayflow.durable
def invoke_payload_serdes(event: dict[str, Any], ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, event, payload_serdes=UppercasePayloadSerDes()))


class UppercaseResultSerDes:
    """Reads the target's result text uppercased."""

    def serialize(self, value: Any, context: SerDesContext) -> str:
        return json.dumps(value)

    def deserialize(self, data: str, context: SerDesContext) -> str:
        return data.upper()


@requirement("5-16")
@replayflow.durable
def invoke_result_serdes(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.invoke(ECHO, event, result_serdes=UppercaseResultSerDes()))

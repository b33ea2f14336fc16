"""Suite ``wait_for_callback`` (7-x): create a callback, hand its id to a submitter, wait for the answer."""

from __future__ import annotations

from typing import Any

import replayflow
from replayflow import CallbackError, CallbackTimeoutError, DurableContext, JsonSerDes, RetryPresets, step_context
from tests.conformance.registry import requirement


def submit(callback_id: str) -> None:
    """Hand the callback id to the external system (here: just log it)."""
    step_context().logger.info(f"waiting for callback {callback_id}")


def submit_fails(callback_id: str) -> None:
    raise ConnectionError(f"could not reach the approval system for {callback_id}")


@requirement("7-1")
@replayflow.durable
def wfcb_basic(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name=event))


@requirement("7-2")
@replayflow.durable
def wfcb_named(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name="approval"))


@requirement("7-3")
@replayflow.durable
def wfcb_anonymous(event: Any, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(lambda callback_id: None))


@requirement("7-4")
@replayflow.durable
def wfcb_failure(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name=event))


@requirement("7-5")
@replayflow.durable
def wfcb_timeout(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name=event, timeout=3))


@requirement("7-6")
@replayflow.durable
def wfcb_failure_caught(event: str, ctx: DurableContext) -> Any:
    try:
        return (yield ctx.wait_for_callback(submit, name=event))
    except CallbackError:
        return "recovered"


@requirement("7-7")
@replayflow.durable
def wfcb_submitter_fails(event: str, ctx: DurableContext) -> Any:
    retry = RetryPresets.fixed(delay=1, max_attempts=2)
    return (yield ctx.wait_for_callback(submit_fails, name=event, retry=retry))


def wrapper(child: DurableContext, name: str) -> Any:
    return (yield child.wait_for_callback(submit, name=name))


@requirement("7-8")
@replayflow.durable
def wfcb_in_child(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.run_in_child_context(wrapper, event, name="wrapper"))


@requirement("7-9")
@replayflow.durable
def wfcb_sequential(event: Any, ctx: DurableContext) -> Any:
    yield ctx.wait_for_callback(submit, name="first")
    return (yield ctx.wait_for_callback(submit, name="second"))


def fixed_data() -> dict[str, str]:
    return {"order": "A-1"}


@requirement("7-10")
@replayflow.durable
def wfcb_after_wait_and_step(event: str, ctx: DurableContext) -> Any:
    yield ctx.wait(seconds=1)
    yield ctx.step(fixed_data)
    return (yield ctx.wait_for_callback(submit, name=event))


@requirement("7-11")
@replayflow.durable
def wfcb_json_result(event: str, ctx: DurableContext) -> Any:
    answer = yield ctx.wait_for_callback(submit, name=event, serdes=JsonSerDes())
    return answer["status"]


@requirement("7-12")
@replayflow.durable
def wfcb_heartbeat_timeout(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name=event, heartbeat_timeout=5))


@requirement("7-13")
@replayflow.durable
def wfcb_heartbeat_keeps_alive(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name=event, heartbeat_timeout=10))


@requirement("7-14")
@replayflow.durable
def wfcb_timeout_caught(event: str, ctx: DurableContext) -> Any:
    try:
        return (yield ctx.wait_for_callback(submit, name=event, timeout=3))
    except CallbackTimeoutError:
        return "timed-out-handled"


@requirement("7-15")
@replayflow.durable
def wfcb_empty_result(event: str, ctx: DurableContext) -> Any:
    return (yield ctx.wait_for_callback(submit, name=event))

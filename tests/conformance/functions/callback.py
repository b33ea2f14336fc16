"""Suite ``callback`` (4-x): callbacks completed, failed, heartbeated or left to time out from outside."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs

import replayflow
from replayflow import CallbackFailedError, CallbackTimeoutError, DurableContext, JsonSerDes, SerDesContext
from tests.conformance.registry import requirement

JSON = JsonSerDes()


def record_progress(label: str) -> str:
    return f"{label} done"


@requirement("4-1")
@replayflow.durable
def callback_basic(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    return (yield callback.result())


@requirement("4-2")
@replayflow.durable
def callback_named(event: Any, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name="approval", serdes=JSON)
    return (yield callback.result())


@requirement("4-3")
@replayflow.durable
def callback_timeout(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, timeout=5, serdes=JSON)
    return (yield callback.result())


@requirement("4-4")
@replayflow.durable
def callback_heartbeat_timeout(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, heartbeat_timeout=5, serdes=JSON)
    return (yield callback.result())


@requirement("4-5")
@replayflow.durable
def callback_heartbeat_keeps_alive(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, heartbeat_timeout=10, serdes=JSON)
    return (yield callback.result())


@requirement("4-6")
@replayflow.durable
def callback_failure(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    return (yield callback.result())


@requirement("4-7")
@replayflow.durable
def callback_step_then_failure(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    yield ctx.step(record_progress, "notification")
    return (yield callback.result())


@requirement("4-8")
@replayflow.durable
def callback_step_then_timeout(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, timeout=5, serdes=JSON)
    yield ctx.step(record_progress, "notification")
    return (yield callback.result())


@requirement("4-9")
@replayflow.durable
def callback_resolves_during_wait(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    yield ctx.wait(seconds=5)
    return (yield callback.result())


@requirement("4-10")
@replayflow.durable
def callback_fails_during_wait(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    yield ctx.wait(seconds=5)
    return (yield callback.result())


@requirement("4-11")
@replayflow.durable
def callback_times_out_during_wait(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, timeout=3, serdes=JSON)
    yield ctx.wait(seconds=6)
    return (yield callback.result())


@requirement("4-12")
@replayflow.durable
def callback_then_wait(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    result = yield callback.result()
    yield ctx.wait(seconds=2)
    return result


@requirement("4-13")
@replayflow.durable
def callback_failure_caught_then_wait(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=JSON)
    try:
        message = yield callback.result()
    except CallbackFailedError as error:
        message = f"callback failed: {error.error_message}"
    yield ctx.wait(seconds=2)
    return message


@requirement("4-14")
@replayflow.durable
def callback_timeout_caught_then_wait(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, timeout=3, serdes=JSON)
    try:
        message = yield callback.result()
    except CallbackTimeoutError as error:
        message = f"callback timed out: {error.error_message}"
    yield ctx.wait(seconds=2)
    return message


@attrs.frozen
class Notification:
    """What the external system sends: an id, a message and when it happened."""

    id: str
    message: str
    timestamp: dt.datetime


class NotificationSerDes:
    """Reads the callback's JSON into a :class:`Notification` (the ISO timestamp into a datetime)."""

    def serialize(self, value: Notification, context: SerDesContext) -> str:
        return json.dumps({"id": value.id, "message": value.message, "timestamp": value.timestamp.isoformat()})

    def deserialize(self, data: str, context: SerDesContext) -> Notification:
        raw = json.loads(data)
        return Notification(raw["id"], raw["message"], dt.datetime.fromisoformat(raw["timestamp"]))


@requirement("4-15")
@replayflow.durable
def callback_typed_serdes(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=NotificationSerDes())
    notification: Notification = yield callback.result()
    return {
        "received": {
            "id": notification.id,
            "message": notification.message,
            "timestamp": int(notification.timestamp.timestamp()),
        }
    }


class NumberSerDes:
    """Reads the callback's payload as a number."""

    def serialize(self, value: int, context: SerDesContext) -> str:
        return str(value)

    def deserialize(self, data: str, context: SerDesContext) -> int:
        return int(json.loads(data))


@requirement("4-16")
@replayflow.durable
def callback_number_serdes(event: str, ctx: DurableContext) -> Any:
    callback = yield ctx.create_callback(name=event, serdes=NumberSerDes())
    count = yield callback.result()
    return {"count": count, "doubled": count * 2}


@requirement("4-17")
@replayflow.durable
def callback_sequential(event: list[str], ctx: DurableContext) -> Any:
    callback_a = yield ctx.create_callback(name=event[0], serdes=JSON)
    result_a = yield callback_a.result()
    callback_b = yield ctx.create_callback(name=event[1], serdes=JSON)
    result_b = yield callback_b.result()
    return [result_a, result_b]


@requirement("4-18")
@replayflow.durable
def callback_two_in_order(event: list[str], ctx: DurableContext) -> Any:
    callback_a = yield ctx.create_callback(name=event[0], serdes=JSON)
    callback_b = yield ctx.create_callback(name=event[1], serdes=JSON)
    result_a = yield callback_a.result()
    result_b = yield callback_b.result()
    return [result_a, result_b]


@requirement("4-19")
@replayflow.durable
def callback_two_reversed(event: list[str], ctx: DurableContext) -> Any:
    callback_a = yield ctx.create_callback(name=event[0], serdes=JSON)
    callback_b = yield ctx.create_callback(name=event[1], serdes=JSON)
    result_b = yield callback_b.result()
    result_a = yield callback_a.result()
    return [result_a, result_b]

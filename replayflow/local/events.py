"""History events in the shape of GetDurableExecutionHistory.

Events are stored as plain dicts with integer epoch-millisecond timestamps and payload containers
``{"Payload": ..., "Truncated": False}``; :func:`render_event` turns one into the API's shape (timestamps as
``datetime`` for the Python API, epoch seconds for REST JSON; payloads dropped when execution data is not
included). Every event carries its ``<EventType>Details`` key, even when empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["DETAILS_KEY", "EVENT_TYPES", "data", "op_event", "plain_event", "render_event"]

EVENT_TYPES = (
    "ExecutionStarted",
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionStopped",
    "ContextStarted",
    "ContextSucceeded",
    "ContextFailed",
    "WaitStarted",
    "WaitSucceeded",
    "WaitCancelled",
    "StepStarted",
    "StepSucceeded",
    "StepFailed",
    "ChainedInvokeStarted",
    "ChainedInvokeSucceeded",
    "ChainedInvokeFailed",
    "ChainedInvokeTimedOut",
    "ChainedInvokeStopped",
    "CallbackStarted",
    "CallbackSucceeded",
    "CallbackFailed",
    "CallbackTimedOut",
    "InvocationCompleted",
    "ExecutionPaused",
    "ExecutionResumed",
)
#: ``"StepStarted"`` -> ``"StepStartedDetails"``.
DETAILS_KEY = {t: t + "Details" for t in EVENT_TYPES}

#: Nested timestamps (besides ``EventTimestamp``), by details key.
_TIMESTAMPS = {
    "WaitStartedDetails": ("ScheduledEndTimestamp",),
    "InvocationCompletedDetails": ("StartTimestamp", "EndTimestamp"),
}
_DATA_KEYS = ("Input", "Result", "Error")


def data(payload: Any) -> dict[str, Any]:
    """An ``EventInput`` / ``EventResult`` / ``EventError`` container (``Payload`` omitted when ``None``)."""
    if payload is None:
        return {"Truncated": False}
    return {"Payload": payload, "Truncated": False}


def op_event(
    events: list[dict[str, Any]], event_type: str, op: Mapping[str, Any], timestamp: int, details: dict[str, Any]
) -> dict[str, Any]:
    """Append the event of an operation (``Id``, ``Name``, ``ParentId``, ``SubType`` from ``op``)."""
    event: dict[str, Any] = {"EventType": event_type, "EventId": len(events) + 1, "EventTimestamp": timestamp}
    sub_type = op.get("SubType")
    if sub_type is not None:
        event["SubType"] = sub_type
    event["Id"] = op["Id"]
    name = op.get("Name")
    if name is not None:
        event["Name"] = name
    parent = op.get("ParentId")
    if parent is not None:
        event["ParentId"] = parent
    event[DETAILS_KEY[event_type]] = details
    events.append(event)
    return event


def plain_event(
    events: list[dict[str, Any]], event_type: str, timestamp: int, details: dict[str, Any]
) -> dict[str, Any]:
    """Append an event that belongs to no operation (``InvocationCompleted``)."""
    event = {
        "EventType": event_type,
        "EventId": len(events) + 1,
        "EventTimestamp": timestamp,
        DETAILS_KEY[event_type]: details,
    }
    events.append(event)
    return event


def render_event(event: dict[str, Any], include_data: bool, timestamp: Callable[[int], Any]) -> dict[str, Any]:
    """A stored event in the API's shape: ``timestamp`` converts epoch ms; payloads dropped unless included."""
    out = dict(event)
    out["EventTimestamp"] = timestamp(event["EventTimestamp"])
    key = DETAILS_KEY[event["EventType"]]
    details = event[key]
    stamps = _TIMESTAMPS.get(key)
    if stamps is None and include_data:
        return out
    details = dict(details)
    if stamps:
        for name in stamps:
            if name in details:
                details[name] = timestamp(details[name])
    if not include_data:
        for name in _DATA_KEYS:
            if name in details:
                details[name] = {"Truncated": True}
    out[key] = details
    return out

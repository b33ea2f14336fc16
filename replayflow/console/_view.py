"""An execution as the console draws it: operations with their attempts and spans, invocations, usage.

:func:`execution_view` reads what GetDurableExecution and GetDurableExecutionHistory answer (timestamps as
epoch milliseconds) and nothing else, so the same view is built from a served instance, a SQLite store or
a history file. :func:`usage` is what the execution has spent against AWS's per-execution quotas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from replayflow._wire import EVENT_ENDINGS, split_event_type

__all__ = ["MAX_BYTES", "MAX_OPERATIONS", "execution_view", "usage"]

#: AWS's per-execution quotas (hard): durable operations, and bytes of data written.
MAX_OPERATIONS = 3_000
MAX_BYTES = 100_000_000  # "100 MB", as replayflow.local.Limits reads it


def _payload(container: object) -> Any:
    """The ``Payload`` of an event's Input/Result/Error container (``None`` when absent)."""
    return container.get("Payload") if isinstance(container, Mapping) else None


def _size(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode())
    return len(json.dumps(value, separators=(",", ":")).encode())


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    value = event.get(f"{event['EventType']}Details")
    return value if isinstance(value, Mapping) else {}


def usage(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Operations (distinct durable operations), bytes (operation payloads written) and invocations.

    Computed from the history; the execution's own input is not counted as written data.
    """
    ids: set[str] = set()
    written = 0
    invocations = 0
    for event in events:
        event_type = event["EventType"]
        if event_type == "InvocationCompleted":
            invocations += 1
            continue
        if event_type.startswith("Execution"):
            continue
        ids.add(event["Id"])
        details = _details(event)
        for key in ("Input", "Result", "Error"):
            written += _size(_payload(details.get(key)))
    return {"operations": len(ids), "bytes": written, "invocations": invocations}


def _new_operation(event: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {
        "id": event["Id"],
        "parent": event.get("ParentId"),
        "name": event.get("Name"),
        "type": kind,
        "subType": event.get("SubType"),
        "status": "STARTED",
        "start": event["EventTimestamp"],
        "end": None,
        "attempts": [],
    }


#: The fields of an operation's ``<Kind>Started`` event details the view keeps: (view field, details key).
_STARTED_FIELDS = {
    "Wait": (("scheduledEnd", "ScheduledEndTimestamp"), ("duration", "Duration")),
    "Callback": (("callbackId", "CallbackId"), ("timeout", "Timeout"), ("heartbeatTimeout", "HeartbeatTimeout")),
    "ChainedInvoke": (("functionName", "FunctionName"), ("childArn", "DurableExecutionArn")),
}


def _apply(op: dict[str, Any], kind: str, phase: str, event: Mapping[str, Any]) -> None:
    """Fold one history event into its operation."""
    at = event["EventTimestamp"]
    details = _details(event)
    if phase == "Started":
        _started(op, kind, details, at)
        return
    error = _payload(details.get("Error"))
    if kind == "Step" and op["attempts"] and _attempt_ended(op, details, at, error):
        return
    op["status"] = EVENT_ENDINGS.get(phase, phase.upper())
    op["end"] = at
    if error is not None:
        op["error"] = error
    result = _payload(details.get("Result"))
    if result is not None:
        op["result"] = result


def _started(op: dict[str, Any], kind: str, details: Mapping[str, Any], at: int) -> None:
    if kind == "Step":
        op["attempts"].append({"start": at, "end": None})
        op["status"] = "STARTED"
    elif kind == "ChainedInvoke":
        op["input"] = _payload(details.get("Input"))
    for field, key in _STARTED_FIELDS.get(kind, ()):
        op[field] = details.get(key)


def _attempt_ended(op: dict[str, Any], details: Mapping[str, Any], at: int, error: object) -> bool:
    """End a step's last attempt; ``True`` when a retry is scheduled (the step is then PENDING)."""
    retry = details.get("RetryDetails") or {}
    attempt = op["attempts"][-1]
    attempt["end"] = at
    attempt["number"] = retry.get("CurrentAttempt", len(op["attempts"]))
    if error is not None:
        attempt["error"] = error
    if retry.get("NextAttemptDelaySeconds") is None:
        return False
    attempt["retryDelay"] = retry["NextAttemptDelaySeconds"]
    attempt["retryAt"] = at + int(retry["NextAttemptDelaySeconds"] * 1000)
    op["status"] = "PENDING"
    return True


def execution_view(execution: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The console's view of one execution (``execution`` from GetDurableExecution, ``events`` its history).

    Timestamps are epoch milliseconds, in and out. Operations come in start order, each with its parent id,
    status, start and end, step attempts (with their errors and retry delays), wait and callback details.
    """
    events = list(events)
    operations: dict[str, dict[str, Any]] = {}
    invocations: list[dict[str, Any]] = []
    for event in events:
        event_type = event["EventType"]
        if event_type == "InvocationCompleted":
            details = _details(event)
            invocation = {
                "start": details.get("StartTimestamp", event["EventTimestamp"]),
                "end": details.get("EndTimestamp", event["EventTimestamp"]),
                "requestId": details.get("RequestId"),
            }
            if details.get("Error"):
                invocation["error"] = _payload(details["Error"])
            invocations.append(invocation)
            continue
        split = split_event_type(event_type)
        if split is None or split[1] == "EXECUTION":
            continue
        kind, _, phase = split
        op = operations.get(event["Id"])
        if op is None:
            op = operations[event["Id"]] = _new_operation(event, kind)
        _apply(op, kind, phase, event)
    return {
        "execution": dict(execution),
        "operations": list(operations.values()),
        "invocations": invocations,
        "usage": usage(events),
        "quotas": {"operations": MAX_OPERATIONS, "bytes": MAX_BYTES},
    }

"""Histories recorded by a service, as AWS and replayflow dump them.

:func:`load_history` reads any of:

* ``GetDurableExecutionState`` output: ``{"Operations": [...]}`` or a bare list of operations, with
  timestamps as epoch milliseconds (the invocation event), epoch seconds (AWS CLI JSON) or ISO strings
  (boto3 responses dumped with ``json.dumps(..., default=str)``);
* ``GetDurableExecutionHistory`` output: ``{"Events": [...]}`` or a bare list of events; each operation's
  final record is rebuilt from its events (call the API with ``IncludeExecutionData=True``: without it the
  events carry no payloads, and replay cannot read results);
* a durable invocation event (``{"InitialExecutionState": {"Operations": [...]}}``);
* what ``replayflow history --json`` writes (the execution plus its events and/or operations);
* any object holding one of these next to ``GetDurableExecution`` fields (``DurableExecutionArn``,
  ``Status``, ``Result``, ``Error``), or under ``"Execution"``.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import orjson

from replayflow._errors import HistoryFormatError
from replayflow._wire import EVENT_ENDINGS, TERMINAL_STATUSES, OperationDict, split_event_type

__all__ = ["HistoryFormatError", "HistorySource", "RecordedHistory", "load_history", "operations_from_events"]

#: What :func:`load_history` accepts: a path, JSON text, or parsed JSON.
HistorySource = str | os.PathLike[str] | bytes | Mapping[str, Any] | Sequence[Mapping[str, Any]]

_REPLAY_ARN = "arn:aws:lambda:us-east-1:123456789012:function:recorded:$LATEST/durable-execution/recorded/{}"


@attrs.frozen
class RecordedHistory:
    """A history loaded from a dump: the operations to replay, and what the dump said about the execution."""

    operations: tuple[OperationDict, ...]
    arn: str
    #: ``"operations"``, ``"events"`` or ``"invocation"``.
    format: str
    #: The file it was read from, if any.
    source: str | None = None
    #: The execution's status as recorded (``RUNNING``, ``SUCCEEDED``, ...), when the dump says.
    status: str | None = None
    #: The execution's result payload / error, when the dump says.
    result: str | None = None
    error: Mapping[str, Any] | None = None
    #: Things that may make the replay unfaithful (truncated or missing payloads...).
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.operations)


def load_history(source: HistorySource, *, arn: str | None = None) -> RecordedHistory:
    """Read a recorded history (see the module docstring); ``HistoryFormatError`` says what is wrong."""
    path: str | None = None
    data: object = source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        path = os.fspath(source)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise HistoryFormatError(f"cannot read the history file {path}: {exc.strerror or exc}") from exc
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            where = path or "the history"
            raise HistoryFormatError(f"{where} is not JSON: {exc}") from exc
    return _parse(data, arn, path)


def _parse(data: object, arn: str | None, path: str | None) -> RecordedHistory:
    where = path or "the history"
    execution = _execution_of(data)
    if isinstance(data, Mapping):
        arn = arn or _str(data.get("DurableExecutionArn")) or _str(execution.get("DurableExecutionArn"))
    ops, outcome, warnings, fmt = _records(data, where)
    status, result, error = _outcome(execution, outcome)
    if not any(op["Type"] == "EXECUTION" for op in ops):
        ops.insert(0, _made_up_execution(execution, arn, warnings))
    if arn is None:
        execution_op = next(op for op in ops if op["Type"] == "EXECUTION")
        arn = _REPLAY_ARN.format(execution_op["Id"])
    return RecordedHistory(tuple(ops), arn, fmt, path, status, result, error, tuple(warnings))


def _records(data: object, where: str) -> tuple[list[OperationDict], dict[str, Any] | None, list[str], str]:
    """``(operations, the outcome its events say or None, warnings, format)`` of a dump."""
    events, operations, fmt = _find(data)
    if operations is not None:
        return [_operation(op, i, where) for i, op in enumerate(operations)], None, [], fmt
    if events is None:
        raise HistoryFormatError(
            f"{where} is not a recorded history: expected GetDurableExecutionState output ({{'Operations': [...]}}), "
            f"GetDurableExecutionHistory output ({{'Events': [...]}}), an invocation event, or a list of either"
        )
    ops, outcome, warnings = operations_from_events(events)
    return ops, outcome, warnings, fmt


def _execution_of(data: object) -> Mapping[str, Any]:
    """What a dump says about the execution (GetDurableExecution output, nested or at the top), else ``{}``."""
    if not isinstance(data, Mapping):
        return {}
    nested = data.get("Execution") or data.get("execution")
    if isinstance(nested, Mapping):
        return nested
    if "Status" in data or "DurableExecutionArn" in data:
        return data
    return {}


def _outcome(
    execution: Mapping[str, Any], from_events: Mapping[str, Any] | None
) -> tuple[str | None, str | None, Mapping[str, Any] | None]:
    """``(status, result, error)`` as the dump says, else as its events (when it has events) say."""
    status = _str(execution.get("Status"))
    result = _str(execution.get("Result"))
    error = execution.get("Error") if isinstance(execution.get("Error"), Mapping) else None
    if from_events is not None:
        status = status or from_events.get("status")
        result = result if result is not None else from_events.get("result")
        error = error or from_events.get("error")
    return status, result, error


def _made_up_execution(execution: Mapping[str, Any], arn: str | None, warnings: list[str]) -> OperationDict:
    """The EXECUTION operation of a history that has none (it carries the input, when the dump has it)."""
    input_payload = _str(execution.get("InputPayload"))
    exec_id = (arn or "").rsplit("/", 1)[-1] or "recorded-execution"
    if input_payload is None:
        warnings.append("the history has no EXECUTION operation and no input: the workflow is replayed with input None")
    return {
        "Id": exec_id,
        "Type": "EXECUTION",
        "Status": "STARTED",
        "ExecutionDetails": {"InputPayload": input_payload} if input_payload is not None else {},
    }


#: ``(events, operations, format)`` found in a dump: one of the two is a list, or neither is found.
_Found = tuple[Sequence[Any] | None, Sequence[object] | None, str]
_NOT_FOUND: _Found = (None, None, "")
#: Where a dump may nest a history: tried in order after the top-level keys.
_NESTING_KEYS = ("State", "state", "History", "history")


def _find(data: object) -> _Found:
    """``(events, operations, format)`` found in ``data``."""
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return _find_in_list(data)
    if not isinstance(data, Mapping):
        return _NOT_FOUND
    return _find_at_top(data) or _find_nested(data)


def _find_in_list(data: Sequence[Any]) -> _Found:
    """A bare list is of events when its first item has an ``EventType``, else of operations."""
    if data and isinstance(data[0], Mapping) and "EventType" in data[0]:
        return data, None, "events"
    return None, data, "operations"


def _find_at_top(data: Mapping[str, Any]) -> _Found | None:
    state = data.get("InitialExecutionState")
    if isinstance(state, Mapping) and isinstance(state.get("Operations"), list):
        return None, state["Operations"], "invocation"
    if isinstance(data.get("Operations"), list):
        return None, data["Operations"], "operations"
    if isinstance(data.get("Events"), list):
        return data["Events"], None, "events"
    return None


def _find_nested(data: Mapping[str, Any]) -> _Found:
    for key in _NESTING_KEYS:
        inner = data.get(key)
        if isinstance(inner, Mapping | list):
            found = _find(inner)
            if found[0] is not None or found[1] is not None:
                return found
    return _NOT_FOUND


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _operation(op: object, index: int, where: str) -> OperationDict:
    if not isinstance(op, Mapping) or not isinstance(op.get("Id"), str) or not isinstance(op.get("Type"), str):
        raise HistoryFormatError(f"{where}: operation #{index} is not an Operation with Id and Type: {op!r:.200}")
    record: dict[str, object] = {}
    for key, value in op.items():
        if isinstance(value, Mapping) and key.endswith("Details"):
            record[key] = {k: _timestamp(v) if k.endswith("Timestamp") else v for k, v in value.items()}
        elif key.endswith("Timestamp"):
            record[key] = _timestamp(value)
        else:
            record[key] = value
    record.setdefault("Status", "STARTED")
    return cast("OperationDict", record)  # a dump's Operation, timestamps normalized


def _timestamp(value: object) -> object:
    """Epoch milliseconds from epoch ms, epoch seconds, an ISO string or a datetime (else unchanged)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return round(value * 1000) if abs(value) < 100_000_000_000 else int(value)
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return round(moment.timestamp() * 1000)


# -- GetDurableExecutionHistory events -> operations ----------------------------------------------------------

_DETAILS = {
    "STEP": "StepDetails",
    "WAIT": "WaitDetails",
    "CALLBACK": "CallbackDetails",
    "CONTEXT": "ContextDetails",
    "CHAINED_INVOKE": "ChainedInvokeDetails",
    "EXECUTION": "ExecutionDetails",
}


def operations_from_events(
    events: Sequence[Mapping[str, Any]],
) -> tuple[list[OperationDict], dict[str, Any], list[str]]:
    """Rebuild each operation's final record from ``GetDurableExecutionHistory`` events.

    Returns ``(operations in start order, the execution's outcome {status, result, error}, warnings)``.
    """
    folder = _Folder()
    ordered = sorted(events, key=lambda e: e.get("EventId", 0)) if all("EventId" in e for e in events) else events
    for index, event in enumerate(ordered):
        folder.add(index, event)
    warnings = folder.warnings
    if folder.missing_payloads:
        warnings.append(
            "the events carry no payloads (call GetDurableExecutionHistory with IncludeExecutionData=True): "
            "replay cannot read the recorded results"
        )
    operations = cast("list[OperationDict]", list(folder.ops.values()))  # records the folder built from events
    return operations, folder.outcome, warnings


class _Folder:
    """Folds events into operation records, in event order."""

    def __init__(self) -> None:
        self.ops: dict[str, dict[str, Any]] = {}
        self.outcome: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.attempts: dict[str, int] = {}
        self.missing_payloads = False

    def add(self, index: int, event: Mapping[str, Any]) -> None:
        identity = _identity(index, event)
        if identity is None:
            return  # InvocationCompleted, ExecutionPaused/Resumed: no operation state
        event_type, op_type, phase, op_id = identity
        details: Mapping[str, Any] = event.get(f"{event_type}Details") or {}
        when = _timestamp(event.get("EventTimestamp"))
        rec = self.ops.get(op_id) or self._first_record(op_id, op_type, event, when)
        info: dict[str, object] = rec.setdefault(_DETAILS[op_type], {})
        payload, truncated, _ = _payload(details.get("Input" if phase == "Started" else "Result"))
        error, error_truncated, _ = _payload(details.get("Error"))
        if truncated or error_truncated:
            self.warnings.append(f"{event_type} of {rec.get('Name') or op_id}: the payload is truncated in the history")
        if op_type == "EXECUTION":
            self._execution(phase, info, payload, error)
        elif phase == "Started":
            self._started(op_type, rec, info, details, when)
        else:
            self._ended(op_type, phase, rec, info, details, when, payload, error)

    def _first_record(self, op_id: str, op_type: str, event: Mapping[str, Any], when: object) -> dict[str, Any]:
        """The record an operation's first event opens (its identity and start time)."""
        rec: dict[str, Any] = {"Id": op_id, "Type": op_type, "Status": "STARTED"}
        for key in ("ParentId", "Name", "SubType"):
            if event.get(key) is not None:
                rec[key] = event[key]
        if isinstance(when, int):
            rec["StartTimestamp"] = when
        self.ops[op_id] = rec
        return rec

    def _execution(self, phase: str, info: dict[str, object], payload: object, error: object) -> None:
        if phase == "Started":
            if payload is not None:
                info["InputPayload"] = payload
            return
        self.outcome["status"] = EVENT_ENDINGS[phase]
        if payload is not None:
            self.outcome["result"] = payload
        if error is not None:
            self.outcome["error"] = error

    def _started(
        self, op_type: str, rec: dict[str, Any], info: dict[str, object], details: Mapping[str, Any], when: object
    ) -> None:
        if op_type == "STEP":
            rec["Status"] = "STARTED"
            info.pop("NextAttemptTimestamp", None)
        elif op_type == "WAIT":
            end = _timestamp(details.get("ScheduledEndTimestamp"))
            if end is None and isinstance(when, int) and details.get("Duration") is not None:
                end = when + int(details["Duration"]) * 1000
            if end is not None:
                info["ScheduledEndTimestamp"] = end
        elif op_type == "CALLBACK" and details.get("CallbackId") is not None:
            info["CallbackId"] = details["CallbackId"]

    def _ended(
        self,
        op_type: str,
        phase: str,
        rec: dict[str, Any],
        info: dict[str, object],
        details: Mapping[str, Any],
        when: object,
        payload: object,
        error: object,
    ) -> None:
        status = EVENT_ENDINGS[phase]
        if op_type == "STEP":
            status = self._step_attempt_ended(rec["Id"], status, info, details, when)
        rec["Status"] = status
        if status in TERMINAL_STATUSES and isinstance(when, int):
            rec["EndTimestamp"] = when
        if payload is None and status == "SUCCEEDED" and op_type in ("STEP", "CONTEXT"):
            self.missing_payloads = True
        _set_outcome(op_type, status, info, payload, error)

    def _step_attempt_ended(
        self, op_id: str, status: str, info: dict[str, object], details: Mapping[str, Any], when: object
    ) -> str:
        """Count a step's attempt; its status is ``PENDING`` when the event schedules a retry."""
        retry = details.get("RetryDetails") or {}
        self.attempts[op_id] = self.attempts.get(op_id, 0) + 1
        info["Attempt"] = retry.get("CurrentAttempt") or self.attempts[op_id]
        info.pop("NextAttemptTimestamp", None)
        if retry.get("NextAttemptDelaySeconds") is None:
            return status
        if isinstance(when, int):
            info["NextAttemptTimestamp"] = when + int(retry["NextAttemptDelaySeconds"]) * 1000
        return "PENDING"  # a retry is scheduled (a wait_for_condition poll "succeeds" this way too)


def _set_outcome(op_type: str, status: str, info: dict[str, object], payload: object, error: object) -> None:
    """Write an ending event's result and error into the operation's details."""
    if payload is not None:
        info["Result"] = payload
        if op_type == "CONTEXT" and payload == "":
            info["ReplayChildren"] = True  # an empty summary: the result was too big to checkpoint
    if error is not None:
        info["Error"] = error
    elif status == "SUCCEEDED":
        info.pop("Error", None)


def _identity(index: int, event: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    """``(EventType, operation Type, phase, operation Id)`` of an event that starts or ends an operation."""
    event_type = event.get("EventType")
    if not isinstance(event_type, str):
        raise HistoryFormatError(f"event #{index} has no EventType: {event!r:.200}")
    split = _split(event_type)
    if split is None:
        return None
    op_id = event.get("Id")
    if not isinstance(op_id, str):
        raise HistoryFormatError(f"event #{index} ({event_type}) has no operation Id")
    return event_type, split[0], split[1], op_id


def _split(event_type: str) -> tuple[str, str] | None:
    """``(operation Type, phase)`` of an event that starts or ends an operation, else ``None``."""
    split = split_event_type(event_type)
    if split is None or (split[2] != "Started" and split[2] not in EVENT_ENDINGS):
        return None
    return split[1], split[2]


def _payload(wrapper: object) -> tuple[object, bool, bool]:
    """``(payload, truncated, absent)`` of an ``EventResult`` / ``EventInput`` / ``EventError``."""
    if not isinstance(wrapper, Mapping):
        return None, False, False
    if "Payload" not in wrapper:
        return None, bool(wrapper.get("Truncated")), True
    return wrapper["Payload"], bool(wrapper.get("Truncated")), False

"""CheckpointDurableExecution: validate a batch of OperationUpdates, then apply it and record its events.

The batch is validated as a whole first (so it applies atomically or not at all), following the
service's rules: which actions each operation type accepts from which status, that ``Type``, ``SubType``,
``Name`` and ``ParentId`` never change ("Inconsistent ..."), that a ``ParentId`` names a CONTEXT that exists
or is STARTed earlier in the batch, that one id appears twice only as a STEP/CONTEXT START followed by a
non-START, that an EXECUTION update comes at most once and last, and the size limits. Applying is O(1)
per update: each update stores a new operation dict, appends to the change log and appends its events
(conformance.md §4.1 emission rules).

Validation is a table of per-type checks (``_CHECKS``) after the checks every update gets; applying is a
table of per-type appliers (``_APPLY``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from replayflow._wire import MAX_WAIT_SECONDS, ErrorObjectDict, OperationDict, OperationUpdateDict

from .errors import InvalidParameterValueError
from .events import data, op_event
from .limits import Limits
from .naming import parse_function_target
from .records import CallbackDeadlines, Completion, Execution
from .timers import TimerKind

__all__ = ["Effects", "apply_updates", "validate_updates"]

_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_SUB_TYPE = re.compile(r"[a-zA-Z0-9_-]{1,32}")
_NAME = re.compile(r"[\x20-\x7E]{1,256}")
_TENANT = re.compile(r"[a-zA-Z0-9._:/=+\-@ ]{1,256}")
_TYPES = frozenset({"EXECUTION", "CONTEXT", "STEP", "WAIT", "CALLBACK", "CHAINED_INVOKE"})
_ACTIONS = frozenset({"START", "SUCCEED", "FAIL", "RETRY", "CANCEL"})
_VALID_ACTIONS = {
    "STEP": frozenset({"START", "SUCCEED", "FAIL", "RETRY"}),
    "CONTEXT": frozenset({"START", "SUCCEED", "FAIL"}),
    "WAIT": frozenset({"START", "CANCEL"}),
    "CALLBACK": frozenset({"START"}),
    "CHAINED_INVOKE": frozenset({"START"}),
    "EXECUTION": frozenset({"SUCCEED", "FAIL"}),
}
_MAX_CALLBACK_TIMEOUT = 99_999_999
_NOTHING: OperationDict = {}
_BAD_ID = "Id must be 1-64 characters of [a-zA-Z0-9-_]."

#: An update as it arrives (unchecked JSON).
RawUpdate = Mapping[str, object]


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    return type(value) is str and pattern.fullmatch(value) is not None


class Effects(Protocol):
    """What applying updates asks of the service."""

    def arm(self, ex: Execution, kind: TimerKind, key: str, due_ms: int) -> None:
        """Arm a timer of ``kind`` for operation ``key`` at ``due_ms``."""

    def new_callback(self, ex: Execution, op_id: str) -> str:
        """Make and register a callback id for a CALLBACK operation."""

    def start_chained_invoke(
        self, ex: Execution, op_id: str, function_name: str, tenant_id: str | None, payload: str | None
    ) -> tuple[str | None, ErrorObjectDict | None]:
        """Start the target: ``(child execution arn or None, error if it could not be started)``."""


# -- validation -------------------------------------------------------------------------------------------


class _Batch:
    """What validating a batch has seen so far, and what it meters (``last`` and ``started`` are set by
    :func:`validate_updates`; no ``__init__``: one is made for every checkpoint)."""

    #: id -> (Type, Action) of its latest update in this batch
    last: dict[str, tuple[str, str]]
    #: id -> Type, for STARTs in this batch
    started: dict[str, str]
    payload_chars = 0
    written = 0
    operations = 0


def validate_updates(ex: Execution, updates: object, limits: Limits) -> tuple[int, int]:
    """Raise ``InvalidParameterValueException`` for the first problem in ``updates`` (nothing is applied).

    Returns what the batch meters: ``(durable operations, bytes written)`` (see :mod:`.limits`).
    """
    if not isinstance(updates, list):
        raise InvalidParameterValueError("Updates must be a list of OperationUpdate.")
    count = len(updates)
    if count > limits.max_updates:
        raise InvalidParameterValueError(f"Cannot checkpoint more than {limits.max_updates} updates in one request.")
    batch = _Batch()
    batch.last = {}
    batch.started = {}
    for index, update in enumerate(updates, 1):
        if not isinstance(update, dict):
            raise InvalidParameterValueError("Each update must be an OperationUpdate object.")
        _check_update(ex, batch, update, limits, index == count)
    if batch.payload_chars * 4 + count * 1024 > limits.max_request_bytes:
        size = len(orjson.dumps(updates))
        if size > limits.max_request_bytes:
            raise InvalidParameterValueError(
                f"The checkpoint request is {size} bytes; at most {limits.max_request_bytes} bytes are allowed."
            )
    return batch.operations, batch.written


def _check_update(ex: Execution, batch: _Batch, update: RawUpdate, limits: Limits, is_last: bool) -> None:
    """The checks every update gets, then its type's (``_CHECKS``). One function on purpose: it runs for
    every update of every checkpoint, and the rarer checks (data, EXECUTION, an existing operation's
    consistency, the refusals' messages) are their own functions."""
    ops = ex.ops
    op_id = update.get("Id")
    if type(op_id) is not str:
        raise InvalidParameterValueError(_BAD_ID)
    current = ops.get(op_id)
    # fields equal to a stored operation's were validated when it was stored: skip their patterns
    if current is None and not _ID.fullmatch(op_id):
        raise InvalidParameterValueError(_BAD_ID)
    op_type = update.get("Type")
    action = update.get("Action")
    if op_type not in _TYPES or action not in _VALID_ACTIONS[op_type]:
        raise InvalidParameterValueError(_kind_problem(op_type, action))
    stored = current or _NOTHING
    parent = update.get("ParentId")
    if parent is not None and parent != stored.get("ParentId") and not _matches(_ID, parent):
        raise InvalidParameterValueError("ParentId must be 1-64 characters of [a-zA-Z0-9-_].")
    name = update.get("Name")
    if name is not None and name != stored.get("Name") and not _matches(_NAME, name):
        raise InvalidParameterValueError("Name must be 1-256 printable ASCII characters.")
    sub_type = update.get("SubType")
    if sub_type is not None and sub_type != stored.get("SubType") and not _matches(_SUB_TYPE, sub_type):
        raise InvalidParameterValueError("SubType must be 1-32 characters of [a-zA-Z0-9-_].")
    payload = update.get("Payload")
    error = update.get("Error")
    if payload is not None or error is not None:
        _check_data(ex, batch, payload, error, op_type, limits)
    if op_type == "EXECUTION":
        _check_execution(action, payload, error, is_last)
        return
    # one id twice only as a STEP/CONTEXT START followed by a non-START
    previous = batch.last.get(op_id)
    if previous is not None and not (
        previous[0] in ("STEP", "CONTEXT") and previous[1] == "START" and action != "START"
    ):
        raise InvalidParameterValueError("Cannot checkpoint multiple operations with the same ID.")
    if parent is not None and _parent_type(ops, batch, parent) != "CONTEXT":
        raise InvalidParameterValueError("Invalid parent operation id.")
    status: str | None = None
    if current is not None:
        _check_consistent(update, current, op_type, parent)
        status = current["Status"]
    if previous is not None:  # STARTed earlier in this batch
        status = "STARTED"
    _CHECKS[op_type](update, action, status, payload, error)
    if status is None or action == "RETRY":  # a new operation, or one more attempt of a step
        batch.operations += 1
    batch.last[op_id] = (op_type, action)
    if action == "START":
        batch.started[op_id] = op_type


def _kind_problem(op_type: object, action: object) -> str:
    """What is wrong with an update's Type and Action."""
    if op_type not in _TYPES:
        return "Unknown operation type."
    if action not in _ACTIONS:
        return "Unknown operation action."
    return "Invalid action for the given operation type."


def _check_execution(action: str, payload: object, error: object, is_last: bool) -> None:
    if not is_last:
        raise InvalidParameterValueError("EXECUTION checkpoint must be the last update.")
    _check_close(action, payload, error)


def _check_data(ex: Execution, batch: _Batch, payload: object, error: object, op_type: str, limits: Limits) -> None:
    """Check and meter an update's Payload and Error."""
    if payload is not None:
        if type(payload) is not str:
            raise InvalidParameterValueError("Payload must be a string.")
        batch.payload_chars += len(payload)
        batch.written += len(payload) if payload.isascii() else len(payload.encode())
        _check_payload(ex, op_type, payload, limits)
    if error is not None:
        batch.written += _check_error(error, limits)


def _parent_type(ops: dict[str, OperationDict], batch: _Batch, parent: object) -> str | None:
    """The Type of operation ``parent``: STARTed in this batch, or stored (``None``: no such operation)."""
    if type(parent) is not str:
        return None
    started = batch.started.get(parent)
    if started is not None:
        return started
    parent_op = ops.get(parent)
    return parent_op["Type"] if parent_op is not None else None


def _check_consistent(update: RawUpdate, current: OperationDict, op_type: str, parent: object) -> None:
    """Type, SubType, Name and ParentId never change."""
    if op_type != current["Type"]:
        raise InvalidParameterValueError("Inconsistent operation type.")
    sub_type = update.get("SubType")
    if sub_type is not None and sub_type != current.get("SubType"):
        raise InvalidParameterValueError("Inconsistent operation subtype.")
    name = update.get("Name")
    if name is not None and name != current.get("Name"):
        raise InvalidParameterValueError("Inconsistent operation name.")
    if parent is not None and parent != current.get("ParentId"):
        raise InvalidParameterValueError("Inconsistent parent operation id.")


def _check_payload(ex: Execution, op_type: str, payload: str, limits: Limits) -> None:
    if op_type == "EXECUTION":
        limit = limits.chained_invoke_payload_bytes if ex.parent else limits.execution_payload_bytes
    elif op_type == "CHAINED_INVOKE":
        limit = limits.chained_invoke_payload_bytes
    else:
        limit = limits.operation_payload_bytes
    if len(payload) * 4 > limit:
        size = len(payload.encode())
        if size > limit:
            what = "chained invoke input" if op_type == "CHAINED_INVOKE" else "Payload"
            raise InvalidParameterValueError(
                f"The {what} is {size} bytes; at most {limit} bytes are allowed for {op_type}."
            )


def _check_error(error: object, limits: Limits) -> int:
    if not isinstance(error, dict):
        raise InvalidParameterValueError("Error must be an ErrorObject.")
    for key in ("ErrorType", "ErrorMessage", "ErrorData"):
        value = error.get(key)
        if value is not None and type(value) is not str:
            raise InvalidParameterValueError(f"Error.{key} must be a string.")
    trace = error.get("StackTrace")
    if trace is not None and (not isinstance(trace, list) or not all(type(t) is str for t in trace)):
        raise InvalidParameterValueError("Error.StackTrace must be a list of strings.")
    size = len(orjson.dumps(error))
    if size >= limits.error_bytes:
        raise InvalidParameterValueError(f"Error object size must be less than {limits.error_bytes} bytes.")
    return size


def _int_option(options: object, key: str, low: int, high: int, what: str) -> int | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        raise InvalidParameterValueError(f"Invalid {what} for the given action.")
    value = options.get(key)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise InvalidParameterValueError(f"{what}.{key} must be an integer between {low} and {high}.")
    return value


def _check_close(action: str, payload: object, error: object) -> None:
    """A FAIL carries no Payload, a SUCCEED no Error."""
    if action == "FAIL" and payload is not None:
        raise InvalidParameterValueError("Cannot provide a Payload for FAIL action.")
    if action == "SUCCEED" and error is not None:
        raise InvalidParameterValueError("Cannot provide an Error for SUCCEED action.")


def _check_step(update: RawUpdate, action: str, status: str | None, payload: object, error: object) -> None:
    if action == "START":
        if status is not None and status != "READY":
            raise InvalidParameterValueError("Invalid current STEP state to start.")
        return
    if status is not None and status not in ("STARTED", "READY"):
        what = "re-attempt" if action == "RETRY" else "close"
        raise InvalidParameterValueError(f"Invalid current STEP state to {what}.")
    if action == "FAIL" and payload is not None:  # (not _check_close: this runs for most updates)
        raise InvalidParameterValueError("Cannot provide a Payload for FAIL action.")
    if action == "SUCCEED" and error is not None:
        raise InvalidParameterValueError("Cannot provide an Error for SUCCEED action.")
    if action == "RETRY":
        _check_retry(update, payload, error)


def _check_retry(update: RawUpdate, payload: object, error: object) -> None:
    options = update.get("StepOptions")
    if _int_option(options, "NextAttemptDelaySeconds", 1, MAX_WAIT_SECONDS, "StepOptions") is None:
        raise InvalidParameterValueError("Invalid StepOptions for the given action.")
    if error is not None and payload is not None:
        raise InvalidParameterValueError("Cannot provide both error and payload to RETRY a STEP.")


def _check_context(update: RawUpdate, action: str, status: str | None, payload: object, error: object) -> None:
    if action == "START":
        if status is not None:
            raise InvalidParameterValueError("Cannot start a CONTEXT that already exist.")
        return
    if status is not None and status != "STARTED":
        raise InvalidParameterValueError("Invalid current CONTEXT state to close.")
    _check_close(action, payload, error)
    _check_context_options(update.get("ContextOptions"))


def _check_context_options(options: object) -> None:
    if options is None:
        return
    replay = options.get("ReplayChildren") if isinstance(options, dict) else None
    if not isinstance(options, dict) or (replay is not None and type(replay) is not bool):
        raise InvalidParameterValueError("Invalid ContextOptions for the given action.")


def _check_wait(update: RawUpdate, action: str, status: str | None, payload: object, error: object) -> None:
    if action == "START":
        if status is not None:
            raise InvalidParameterValueError("Cannot start a WAIT that already exist.")
        if _int_option(update.get("WaitOptions"), "WaitSeconds", 1, MAX_WAIT_SECONDS, "WaitOptions") is None:
            raise InvalidParameterValueError("Invalid WaitOptions for the given action.")
        return
    if status != "STARTED":
        raise InvalidParameterValueError("Cannot cancel a WAIT that does not exist or has already completed.")


def _check_callback(update: RawUpdate, action: str, status: str | None, payload: object, error: object) -> None:
    if status is not None:
        raise InvalidParameterValueError("Cannot start a CALLBACK that already exist.")
    options = update.get("CallbackOptions")
    _int_option(options, "TimeoutSeconds", 0, _MAX_CALLBACK_TIMEOUT, "CallbackOptions")
    _int_option(options, "HeartbeatTimeoutSeconds", 0, _MAX_CALLBACK_TIMEOUT, "CallbackOptions")


def _check_chained_invoke(update: RawUpdate, action: str, status: str | None, payload: object, error: object) -> None:
    if status is not None:
        raise InvalidParameterValueError("Cannot start a CHAINED_INVOKE operation that already exists.")
    options = update.get("ChainedInvokeOptions")
    if not isinstance(options, dict):
        raise InvalidParameterValueError("Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.")
    target = options.get("FunctionName")
    if type(target) is not str or not 1 <= len(target) <= 256 or parse_function_target(target) is None:
        raise InvalidParameterValueError(f"Invalid function name or ARN: {target!r}.")
    tenant = options.get("TenantId")
    if tenant is not None and (type(tenant) is not str or not _TENANT.fullmatch(tenant)):
        raise InvalidParameterValueError("Invalid TenantId.")


_Check = Callable[[RawUpdate, str, "str | None", object, object], None]
_CHECKS: dict[str, _Check] = {
    "STEP": _check_step,
    "CONTEXT": _check_context,
    "WAIT": _check_wait,
    "CALLBACK": _check_callback,
    "CHAINED_INVOKE": _check_chained_invoke,
}

# -- applying ---------------------------------------------------------------------------------------------


def _new_op(update: OperationUpdateDict, op_type: str, status: str, now: int) -> OperationDict:
    op: OperationDict = {"Id": update["Id"]}
    parent = update.get("ParentId")
    if parent is not None:
        op["ParentId"] = parent
    name = update.get("Name")
    if name is not None:
        op["Name"] = name
    op["Type"] = op_type
    sub_type = update.get("SubType")
    if sub_type is not None:
        op["SubType"] = sub_type
    op["StartTimestamp"] = now
    op["Status"] = status
    return op


def apply_updates(ex: Execution, updates: list[OperationUpdateDict], now: int, effects: Effects) -> None:
    """Apply a validated batch at time ``now`` (epoch ms)."""
    for update in updates:
        _APPLY[update["Type"]](ex, update, now, effects)


#: A closed step: its new operation dict, and its event's type and details.
_Closed = tuple[OperationDict, str, dict[str, Any]]


def _apply_step(ex: Execution, update: OperationUpdateDict, now: int, effects: Effects) -> None:
    action = update["Action"]
    op_id = update["Id"]
    current = ex.ops.get(op_id)
    if action == "START":
        if current is None:
            op = _new_op(update, "STEP", "STARTED", now)
            op["StepDetails"] = {"Attempt": 0}
            ex.add_op(op)
        else:  # READY -> STARTED: a new attempt; the last attempt's Result (a condition's state) is kept
            restarted = current["StepDetails"].copy()
            restarted.pop("NextAttemptTimestamp", None)
            op = {**current, "Status": "STARTED", "StepDetails": restarted}
            ex.pending.discard(op_id)
            ex.set_op(op)
        op_event(ex.events, "StepStarted", op, now, {})
        return
    if current is None:
        base = _new_op(update, "STEP", "STARTED", now)
        attempt = 1
    else:
        base = current
        attempt = current["StepDetails"].get("Attempt", 0) + 1
        ex.pending.discard(op_id)
    event_details: dict[str, Any]
    if action == "SUCCEED":  # inline, unlike FAIL and RETRY: the most common update of all
        payload = update.get("Payload")
        op = {**base, "Status": "SUCCEEDED", "EndTimestamp": now, "StepDetails": {"Attempt": attempt}}
        if payload is not None:
            op["StepDetails"]["Result"] = payload
        event_type = "StepSucceeded"
        event_details = {"Result": data(payload), "RetryDetails": {"CurrentAttempt": attempt}}
    elif action == "FAIL":
        op, event_type, event_details = _step_failed(update, base, attempt, now)
    else:
        op, event_type, event_details = _step_retried(update, base, attempt, now)
        ex.pending.add(op_id)
        effects.arm(ex, "retry", op_id, op["StepDetails"]["NextAttemptTimestamp"])
    if current is None:
        ex.add_op(op)
    else:
        ex.set_op(op)
    op_event(ex.events, event_type, op, now, event_details)


def _step_failed(update: OperationUpdateDict, base: OperationDict, attempt: int, now: int) -> _Closed:
    error = update.get("Error")
    op: OperationDict = {**base, "Status": "FAILED", "EndTimestamp": now, "StepDetails": {"Attempt": attempt}}
    if error is not None:
        op["StepDetails"]["Error"] = error
    return op, "StepFailed", {"Error": data(error), "RetryDetails": {"CurrentAttempt": attempt}}


def _step_retried(update: OperationUpdateDict, base: OperationDict, attempt: int, now: int) -> _Closed:
    """RETRY: PENDING until the next attempt is due, then READY (no event then)."""
    delay = update["StepOptions"]["NextAttemptDelaySeconds"]
    op: OperationDict = {
        **base,
        "Status": "PENDING",
        "StepDetails": {"Attempt": attempt, "NextAttemptTimestamp": now + delay * 1000},
    }
    payload = update.get("Payload")
    if payload is not None:
        op["StepDetails"]["Result"] = payload
    error = update.get("Error")
    retry = {"CurrentAttempt": attempt, "NextAttemptDelaySeconds": delay}
    if error is not None:
        op["StepDetails"]["Error"] = error
        return op, "StepFailed", {"Error": data(error), "RetryDetails": retry}
    return op, "StepSucceeded", {"Result": data(payload), "RetryDetails": retry}  # wait_for_condition's state


def _apply_context(ex: Execution, update: OperationUpdateDict, now: int, effects: Effects) -> None:
    action = update["Action"]
    current = ex.ops.get(update["Id"])
    if action == "START":
        op = _new_op(update, "CONTEXT", "STARTED", now)
        ex.add_op(op)
        op_event(ex.events, "ContextStarted", op, now, {})
        return
    base = current if current is not None else _new_op(update, "CONTEXT", "STARTED", now)
    details: dict[str, Any] = {}
    options = update.get("ContextOptions")
    if options and options.get("ReplayChildren") is not None:
        details["ReplayChildren"] = options["ReplayChildren"]
    event_details: dict[str, Any]
    if action == "SUCCEED":
        payload = update.get("Payload")
        if payload is not None:
            details["Result"] = payload
        op = {**base, "Status": "SUCCEEDED", "EndTimestamp": now, "ContextDetails": details}
        event_type, event_details = "ContextSucceeded", {"Result": data(payload)}
    else:
        error = update.get("Error")
        if error is not None:
            details["Error"] = error
        op = {**base, "Status": "FAILED", "EndTimestamp": now, "ContextDetails": details}
        event_type, event_details = "ContextFailed", {"Error": data(error)}
    if current is None:
        ex.add_op(op)
    else:
        ex.set_op(op)
    op_event(ex.events, event_type, op, now, event_details)


def _apply_wait(ex: Execution, update: OperationUpdateDict, now: int, effects: Effects) -> None:
    op_id = update["Id"]
    if update["Action"] == "START":
        seconds = update["WaitOptions"]["WaitSeconds"]
        due = now + seconds * 1000
        op = _new_op(update, "WAIT", "STARTED", now)
        op["WaitDetails"] = {"ScheduledEndTimestamp": due}
        ex.add_op(op)
        ex.pending.add(op_id)
        effects.arm(ex, "wait", op_id, due)
        op_event(ex.events, "WaitStarted", op, now, {"Duration": seconds, "ScheduledEndTimestamp": due})
        return
    op = {**ex.ops[op_id], "Status": "CANCELLED", "EndTimestamp": now}
    ex.set_op(op)
    ex.pending.discard(op_id)
    details: dict[str, Any] = {}
    error = update.get("Error")
    if error is not None:
        details["Error"] = data(error)
    op_event(ex.events, "WaitCancelled", op, now, details)


def _apply_callback(ex: Execution, update: OperationUpdateDict, now: int, effects: Effects) -> None:
    op_id = update["Id"]
    options = update.get("CallbackOptions") or {}
    timeout = options.get("TimeoutSeconds") or 0
    heartbeat = options.get("HeartbeatTimeoutSeconds") or 0
    op = _new_op(update, "CALLBACK", "STARTED", now)
    callback_id = effects.new_callback(ex, op_id)
    op["CallbackDetails"] = {"CallbackId": callback_id}
    ex.add_op(op)
    ex.pending.add(op_id)
    deadlines = CallbackDeadlines(
        timeout, heartbeat, now + timeout * 1000 if timeout else 0, now + heartbeat * 1000 if heartbeat else 0
    )
    ex.callbacks[op_id] = deadlines
    if deadlines.timeout_due:
        effects.arm(ex, "callback_timeout", op_id, deadlines.timeout_due)
    if deadlines.heartbeat_due:
        effects.arm(ex, "callback_heartbeat", op_id, deadlines.heartbeat_due)
    details: dict[str, Any] = {"CallbackId": callback_id}
    if heartbeat:
        details["HeartbeatTimeout"] = heartbeat
    if timeout:
        details["Timeout"] = timeout
    op_event(ex.events, "CallbackStarted", op, now, details)


def _apply_chained_invoke(ex: Execution, update: OperationUpdateDict, now: int, effects: Effects) -> None:
    op_id = update["Id"]
    options = update["ChainedInvokeOptions"]
    function_name = options["FunctionName"]
    tenant = options.get("TenantId")
    payload = update.get("Payload")
    op = _new_op(update, "CHAINED_INVOKE", "STARTED", now)
    op["ChainedInvokeDetails"] = {}
    ex.add_op(op)
    child_arn, error = effects.start_chained_invoke(ex, op_id, function_name, tenant, payload)
    details: dict[str, Any] = {"FunctionName": function_name}
    if tenant is not None:
        details["TenantId"] = tenant
    details["Input"] = data(payload)
    details["ExecutedVersion"] = "$LATEST"
    if child_arn is not None:
        details["DurableExecutionArn"] = child_arn
    op_event(ex.events, "ChainedInvokeStarted", op, now, details)
    if error is not None:  # the target could not be started: FAILED right away
        failed: OperationDict = {
            **op,
            "Status": "FAILED",
            "EndTimestamp": now,
            "ChainedInvokeDetails": {"Error": error},
        }
        ex.set_op(failed)
        op_event(ex.events, "ChainedInvokeFailed", failed, now, {"Error": data(error)})
    else:
        ex.pending.add(op_id)


def _apply_execution(ex: Execution, update: OperationUpdateDict, now: int, effects: Effects) -> None:
    execution_op = ex.ops[ex.id]
    if update["Action"] == "SUCCEED":
        ex.completion = Completion("SUCCEEDED", update.get("Payload"), None)
        ex.set_op({**execution_op, "Status": "SUCCEEDED", "EndTimestamp": now})
    else:
        ex.completion = Completion("FAILED", None, dict(update.get("Error") or {}))
        ex.set_op({**execution_op, "Status": "FAILED", "EndTimestamp": now})


_Apply = Callable[[Execution, OperationUpdateDict, int, Effects], None]
_APPLY: dict[str, _Apply] = {
    "STEP": _apply_step,
    "CONTEXT": _apply_context,
    "WAIT": _apply_wait,
    "CALLBACK": _apply_callback,
    "CHAINED_INVOKE": _apply_chained_invoke,
    "EXECUTION": _apply_execution,
}

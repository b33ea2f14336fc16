"""CheckpointDurableExecution: validate a batch of OperationUpdates, then apply it and record its events.

The batch is validated as a whole first (so it applies atomically or not at all), following the
service's rules: which actions each operation type accepts from which status, that ``Type``, ``SubType``,
``Name`` and ``ParentId`` never change ("Inconsistent ..."), that a ``ParentId`` names a CONTEXT that exists
or is STARTed earlier in the batch, that one id appears twice only as a STEP/CONTEXT START followed by a
non-START, that an EXECUTION update comes at most once and last, and the size limits. Applying is O(1)
per update: each update stores a new operation dict, appends to the change log and appends its events
(conformance.md §4.1 emission rules).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import orjson

from replayflow._wire import MAX_WAIT_SECONDS

from .errors import invalid_parameter
from .events import data, op_event
from .limits import Limits
from .naming import parse_function_target
from .records import Execution

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
_NOTHING: dict[str, Any] = {}


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return type(value) is str and pattern.fullmatch(value) is not None


class Effects(Protocol):
    """What applying updates asks of the service."""

    def _arm(self, ex: Execution, kind: str, key: str, due_ms: int) -> None:
        """Arm a timer of ``kind`` for operation ``op_id`` at ``due_ms``."""

    def _new_callback(self, ex: Execution, op_id: str) -> str:
        """Make and register a callback id for a CALLBACK operation."""

    def _start_chained_invoke(
        self, ex: Execution, op_id: str, function_name: str, tenant_id: str | None, payload: str | None
    ) -> tuple[str | None, dict[str, Any] | None]:
        """Start the target: ``(child execution arn or None, error if it could not be started)``."""


# -- validation -------------------------------------------------------------------------------------------


def validate_updates(ex: Execution, updates: Any, limits: Limits) -> tuple[int, int]:  # noqa: PLR0915 - hot path
    """Raise ``InvalidParameterValueException`` for the first problem in ``updates`` (nothing is applied).

    Returns what the batch meters: ``(durable operations, bytes written)`` (see :mod:`.limits`).
    """
    if not isinstance(updates, list):
        raise invalid_parameter("Updates must be a list of OperationUpdate.")
    count = len(updates)
    if count > limits.max_updates:
        raise invalid_parameter(f"Cannot checkpoint more than {limits.max_updates} updates in one request.")
    ops = ex.ops
    last: dict[str, tuple[str, str]] = {}  # id -> (Type, Action) of its latest update in this batch
    started: dict[str, str] = {}  # id -> Type, for STARTs in this batch
    payload_chars = 0
    written = 0
    operations = 0
    index = 0
    for update in updates:
        index += 1
        if not isinstance(update, dict):
            raise invalid_parameter("Each update must be an OperationUpdate object.")
        op_id = update.get("Id")
        op_type = update.get("Type")
        action = update.get("Action")
        if type(op_id) is not str:
            raise invalid_parameter("Id must be 1-64 characters of [a-zA-Z0-9-_].")
        current = ops.get(op_id)
        # fields equal to a stored operation's were validated when it was stored: skip their patterns
        if current is None and not _ID.fullmatch(op_id):
            raise invalid_parameter("Id must be 1-64 characters of [a-zA-Z0-9-_].")
        if op_type not in _TYPES:
            raise invalid_parameter("Unknown operation type.")
        if action not in _ACTIONS:
            raise invalid_parameter("Unknown operation action.")
        if action not in _VALID_ACTIONS[op_type]:
            raise invalid_parameter("Invalid action for the given operation type.")
        parent = update.get("ParentId")
        name = update.get("Name")
        sub_type = update.get("SubType")
        stored = current or _NOTHING
        if parent is not None and parent != stored.get("ParentId") and not _matches(_ID, parent):
            raise invalid_parameter("ParentId must be 1-64 characters of [a-zA-Z0-9-_].")
        if name is not None and name != stored.get("Name") and not _matches(_NAME, name):
            raise invalid_parameter("Name must be 1-256 printable ASCII characters.")
        if sub_type is not None and sub_type != stored.get("SubType") and not _matches(_SUB_TYPE, sub_type):
            raise invalid_parameter("SubType must be 1-32 characters of [a-zA-Z0-9-_].")
        payload = update.get("Payload")
        error = update.get("Error")
        if payload is not None:
            if type(payload) is not str:
                raise invalid_parameter("Payload must be a string.")
            payload_chars += len(payload)
            written += len(payload) if payload.isascii() else len(payload.encode())
            _check_payload(ex, op_type, payload, limits)
        if error is not None:
            written += _check_error(error, limits)

        if op_type == "EXECUTION":
            if index != count:
                raise invalid_parameter("EXECUTION checkpoint must be the last update.")
            if action == "SUCCEED" and error is not None:
                raise invalid_parameter("Cannot provide an Error for SUCCEED action.")
            if action == "FAIL" and payload is not None:
                raise invalid_parameter("Cannot provide a Payload for FAIL action.")
            continue

        # one id twice only as a STEP/CONTEXT START followed by a non-START
        previous = last.get(op_id)
        if previous is not None and not (
            previous[0] in ("STEP", "CONTEXT") and previous[1] == "START" and action != "START"
        ):
            raise invalid_parameter("Cannot checkpoint multiple operations with the same ID.")
        if parent is not None:
            parent_type = started.get(parent)
            if parent_type is None:
                parent_op = ops.get(parent)
                parent_type = parent_op["Type"] if parent_op is not None else None
            if parent_type != "CONTEXT":
                raise invalid_parameter("Invalid parent operation id.")

        if current is not None:
            if op_type != current["Type"]:
                raise invalid_parameter("Inconsistent operation type.")
            if sub_type is not None and sub_type != current.get("SubType"):
                raise invalid_parameter("Inconsistent operation subtype.")
            if name is not None and name != current.get("Name"):
                raise invalid_parameter("Inconsistent operation name.")
            if parent is not None and parent != current.get("ParentId"):
                raise invalid_parameter("Inconsistent parent operation id.")
            status: str | None = current["Status"]
        else:
            status = None
        if previous is not None:  # STARTed earlier in this batch
            status = "STARTED"
        _CHECKS[op_type](update, action, status, payload, error)
        if status is None or action == "RETRY":  # a new operation, or one more attempt of a step
            operations += 1
        last[op_id] = (op_type, action)
        if action == "START":
            started[op_id] = op_type
    if payload_chars * 4 + count * 1024 > limits.max_request_bytes:
        size = len(orjson.dumps(updates))
        if size > limits.max_request_bytes:
            raise invalid_parameter(
                f"The checkpoint request is {size} bytes; at most {limits.max_request_bytes} bytes are allowed."
            )
    return operations, written


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
            raise invalid_parameter(f"The {what} is {size} bytes; at most {limit} bytes are allowed for {op_type}.")


def _check_error(error: Any, limits: Limits) -> int:
    if not isinstance(error, dict):
        raise invalid_parameter("Error must be an ErrorObject.")
    for key in ("ErrorType", "ErrorMessage", "ErrorData"):
        value = error.get(key)
        if value is not None and type(value) is not str:
            raise invalid_parameter(f"Error.{key} must be a string.")
    trace = error.get("StackTrace")
    if trace is not None and (not isinstance(trace, list) or not all(type(t) is str for t in trace)):
        raise invalid_parameter("Error.StackTrace must be a list of strings.")
    size = len(orjson.dumps(error))
    if size >= limits.error_bytes:
        raise invalid_parameter(f"Error object size must be less than {limits.error_bytes} bytes.")
    return size


def _int_option(options: Any, key: str, low: int, high: int, what: str) -> int | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        raise invalid_parameter(f"Invalid {what} for the given action.")
    value = options.get(key)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise invalid_parameter(f"{what}.{key} must be an integer between {low} and {high}.")
    return value


def _check_step(update: dict[str, Any], action: str, status: str | None, payload: Any, error: Any) -> None:
    if action == "START":
        if status is not None and status != "READY":
            raise invalid_parameter("Invalid current STEP state to start.")
        return
    if status is not None and status not in ("STARTED", "READY"):
        if action == "RETRY":
            raise invalid_parameter("Invalid current STEP state to re-attempt.")
        raise invalid_parameter("Invalid current STEP state to close.")
    if action == "FAIL" and payload is not None:
        raise invalid_parameter("Cannot provide a Payload for FAIL action.")
    if action == "SUCCEED" and error is not None:
        raise invalid_parameter("Cannot provide an Error for SUCCEED action.")
    if action == "RETRY":
        options = update.get("StepOptions")
        if _int_option(options, "NextAttemptDelaySeconds", 1, MAX_WAIT_SECONDS, "StepOptions") is None:
            raise invalid_parameter("Invalid StepOptions for the given action.")
        if error is not None and payload is not None:
            raise invalid_parameter("Cannot provide both error and payload to RETRY a STEP.")


def _check_context(update: dict[str, Any], action: str, status: str | None, payload: Any, error: Any) -> None:
    if action == "START":
        if status is not None:
            raise invalid_parameter("Cannot start a CONTEXT that already exist.")
        return
    if status is not None and status != "STARTED":
        raise invalid_parameter("Invalid current CONTEXT state to close.")
    if action == "FAIL" and payload is not None:
        raise invalid_parameter("Cannot provide a Payload for FAIL action.")
    if action == "SUCCEED" and error is not None:
        raise invalid_parameter("Cannot provide an Error for SUCCEED action.")
    options = update.get("ContextOptions")
    if options is not None:
        replay = options.get("ReplayChildren") if isinstance(options, dict) else None
        if not isinstance(options, dict) or (replay is not None and type(replay) is not bool):
            raise invalid_parameter("Invalid ContextOptions for the given action.")


def _check_wait(update: dict[str, Any], action: str, status: str | None, payload: Any, error: Any) -> None:
    if action == "START":
        if status is not None:
            raise invalid_parameter("Cannot start a WAIT that already exist.")
        if _int_option(update.get("WaitOptions"), "WaitSeconds", 1, MAX_WAIT_SECONDS, "WaitOptions") is None:
            raise invalid_parameter("Invalid WaitOptions for the given action.")
        return
    if status != "STARTED":
        raise invalid_parameter("Cannot cancel a WAIT that does not exist or has already completed.")


def _check_callback(update: dict[str, Any], action: str, status: str | None, payload: Any, error: Any) -> None:
    if status is not None:
        raise invalid_parameter("Cannot start a CALLBACK that already exist.")
    options = update.get("CallbackOptions")
    _int_option(options, "TimeoutSeconds", 0, _MAX_CALLBACK_TIMEOUT, "CallbackOptions")
    _int_option(options, "HeartbeatTimeoutSeconds", 0, _MAX_CALLBACK_TIMEOUT, "CallbackOptions")


def _check_chained_invoke(update: dict[str, Any], action: str, status: str | None, payload: Any, error: Any) -> None:
    if status is not None:
        raise invalid_parameter("Cannot start a CHAINED_INVOKE operation that already exists.")
    options = update.get("ChainedInvokeOptions")
    if not isinstance(options, dict):
        raise invalid_parameter("Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.")
    target = options.get("FunctionName")
    if type(target) is not str or not 1 <= len(target) <= 256 or parse_function_target(target) is None:
        raise invalid_parameter(f"Invalid function name or ARN: {target!r}.")
    tenant = options.get("TenantId")
    if tenant is not None and (type(tenant) is not str or not _TENANT.fullmatch(tenant)):
        raise invalid_parameter("Invalid TenantId.")


_CHECKS = {
    "STEP": _check_step,
    "CONTEXT": _check_context,
    "WAIT": _check_wait,
    "CALLBACK": _check_callback,
    "CHAINED_INVOKE": _check_chained_invoke,
}

# -- applying ---------------------------------------------------------------------------------------------


def _new_op(update: dict[str, Any], op_type: str, status: str, now: int) -> dict[str, Any]:
    op: dict[str, Any] = {"Id": update["Id"]}
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


def apply_updates(ex: Execution, updates: list[dict[str, Any]], now: int, effects: Effects) -> None:
    """Apply a validated batch at time ``now`` (epoch ms)."""
    for update in updates:
        op_type = update["Type"]
        if op_type == "STEP":
            _apply_step(ex, update, now, effects)
        elif op_type == "CONTEXT":
            _apply_context(ex, update, now)
        elif op_type == "WAIT":
            _apply_wait(ex, update, now, effects)
        elif op_type == "CALLBACK":
            _apply_callback(ex, update, now, effects)
        elif op_type == "CHAINED_INVOKE":
            _apply_chained_invoke(ex, update, now, effects)
        else:
            _apply_execution(ex, update, now)


def _apply_step(ex: Execution, update: dict[str, Any], now: int, effects: Effects) -> None:  # noqa: PLR0915
    action = update["Action"]
    op_id = update["Id"]
    current = ex.ops.get(op_id)
    events = ex.events
    if action == "START":
        if current is None:
            op = _new_op(update, "STEP", "STARTED", now)
            op["StepDetails"] = {"Attempt": 0}
            ex.add_op(op)
        else:  # READY -> STARTED: a new attempt; the last attempt's Result (a condition's state) is kept
            restarted = dict(current["StepDetails"])
            restarted.pop("NextAttemptTimestamp", None)
            op = {**current, "Status": "STARTED", "StepDetails": restarted}
            ex.pending.discard(op_id)
            ex.set_op(op)
        op_event(events, "StepStarted", op, now, {})
        return
    if current is None:
        base = _new_op(update, "STEP", "STARTED", now)
        attempt = 1
    else:
        base = current
        attempt = current["StepDetails"].get("Attempt", 0) + 1
        ex.pending.discard(op_id)
    payload = update.get("Payload")
    error = update.get("Error")
    details: dict[str, Any]
    if action == "SUCCEED":
        details = {"Attempt": attempt}
        if payload is not None:
            details["Result"] = payload
        op = {**base, "Status": "SUCCEEDED", "EndTimestamp": now, "StepDetails": details}
        event_type = "StepSucceeded"
        event_details: dict[str, Any] = {"Result": data(payload), "RetryDetails": {"CurrentAttempt": attempt}}
    elif action == "FAIL":
        details = {"Attempt": attempt}
        if error is not None:
            details["Error"] = error
        op = {**base, "Status": "FAILED", "EndTimestamp": now, "StepDetails": details}
        event_type = "StepFailed"
        event_details = {"Error": data(error), "RetryDetails": {"CurrentAttempt": attempt}}
    else:  # RETRY: PENDING until the next attempt is due, then READY (no event)
        delay = update["StepOptions"]["NextAttemptDelaySeconds"]
        due = now + delay * 1000
        details = {"Attempt": attempt, "NextAttemptTimestamp": due}
        if payload is not None:
            details["Result"] = payload
        if error is not None:
            details["Error"] = error
        op = {**base, "Status": "PENDING", "StepDetails": details}
        retry = {"CurrentAttempt": attempt, "NextAttemptDelaySeconds": delay}
        if error is not None:
            event_type = "StepFailed"
            event_details = {"Error": data(error), "RetryDetails": retry}
        else:  # wait_for_condition's "continue": the new state as the result
            event_type = "StepSucceeded"
            event_details = {"Result": data(payload), "RetryDetails": retry}
        ex.pending.add(op_id)
        effects._arm(ex, "retry", op_id, due)
    if current is None:
        ex.add_op(op)
    else:
        ex.set_op(op)
    op_event(events, event_type, op, now, event_details)


def _apply_context(ex: Execution, update: dict[str, Any], now: int) -> None:
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


def _apply_wait(ex: Execution, update: dict[str, Any], now: int, effects: Effects) -> None:
    op_id = update["Id"]
    if update["Action"] == "START":
        seconds = update["WaitOptions"]["WaitSeconds"]
        due = now + seconds * 1000
        op = _new_op(update, "WAIT", "STARTED", now)
        op["WaitDetails"] = {"ScheduledEndTimestamp": due}
        ex.add_op(op)
        ex.pending.add(op_id)
        effects._arm(ex, "wait", op_id, due)
        op_event(ex.events, "WaitStarted", op, now, {"Duration": seconds, "ScheduledEndTimestamp": due})
        return
    current = ex.ops[op_id]
    op = {**current, "Status": "CANCELLED", "EndTimestamp": now}
    ex.set_op(op)
    ex.pending.discard(op_id)
    details: dict[str, Any] = {}
    error = update.get("Error")
    if error is not None:
        details["Error"] = data(error)
    op_event(ex.events, "WaitCancelled", op, now, details)


def _apply_callback(ex: Execution, update: dict[str, Any], now: int, effects: Effects) -> None:
    op_id = update["Id"]
    options = update.get("CallbackOptions") or {}
    timeout = options.get("TimeoutSeconds") or 0
    heartbeat = options.get("HeartbeatTimeoutSeconds") or 0
    op = _new_op(update, "CALLBACK", "STARTED", now)
    callback_id = effects._new_callback(ex, op_id)
    op["CallbackDetails"] = {"CallbackId": callback_id}
    ex.add_op(op)
    ex.pending.add(op_id)
    timeout_due = now + timeout * 1000 if timeout else 0
    heartbeat_due = now + heartbeat * 1000 if heartbeat else 0
    ex.callbacks[op_id] = [timeout, heartbeat, timeout_due, heartbeat_due]
    if timeout_due:
        effects._arm(ex, "callback_timeout", op_id, timeout_due)
    if heartbeat_due:
        effects._arm(ex, "callback_heartbeat", op_id, heartbeat_due)
    details: dict[str, Any] = {"CallbackId": callback_id}
    if heartbeat:
        details["HeartbeatTimeout"] = heartbeat
    if timeout:
        details["Timeout"] = timeout
    op_event(ex.events, "CallbackStarted", op, now, details)


def _apply_chained_invoke(ex: Execution, update: dict[str, Any], now: int, effects: Effects) -> None:
    op_id = update["Id"]
    options = update["ChainedInvokeOptions"]
    function_name = options["FunctionName"]
    tenant = options.get("TenantId")
    payload = update.get("Payload")
    op = _new_op(update, "CHAINED_INVOKE", "STARTED", now)
    op["ChainedInvokeDetails"] = {}
    ex.add_op(op)
    child_arn, error = effects._start_chained_invoke(ex, op_id, function_name, tenant, payload)
    details: dict[str, Any] = {"FunctionName": function_name}
    if tenant is not None:
        details["TenantId"] = tenant
    details["Input"] = data(payload)
    details["ExecutedVersion"] = "$LATEST"
    if child_arn is not None:
        details["DurableExecutionArn"] = child_arn
    op_event(ex.events, "ChainedInvokeStarted", op, now, details)
    if error is not None:  # the target could not be started: FAILED right away
        failed = {**op, "Status": "FAILED", "EndTimestamp": now, "ChainedInvokeDetails": {"Error": error}}
        ex.set_op(failed)
        op_event(ex.events, "ChainedInvokeFailed", failed, now, {"Error": data(error)})
    else:
        ex.pending.add(op_id)


def _apply_execution(ex: Execution, update: dict[str, Any], now: int) -> None:
    execution_op = ex.ops[ex.id]
    if update["Action"] == "SUCCEED":
        ex.completion = ("SUCCEEDED", update.get("Payload"), None)
        ex.set_op({**execution_op, "Status": "SUCCEEDED", "EndTimestamp": now})
    else:
        ex.completion = ("FAILED", None, update.get("Error") or {})
        ex.set_op({**execution_op, "Status": "FAILED", "EndTimestamp": now})

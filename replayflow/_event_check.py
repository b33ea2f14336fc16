"""Checks of operation records from the invocation event and state pages, naming the field that is wrong.

The hot path indexes records without looking inside them (only their Ids are checked). An operation checks
the Type and Status of a record when it first reads it (``Interpreter.claim``, a batch's branch); these
checks run when that or indexing fails, or when an operation could not read its record, so a malformed
event is an :class:`InvalidEventError` that says what is wrong instead of an ``AttributeError`` from deep
inside the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import DurableExecutionError, InvalidEventError
from ._ids import operation_id

if TYPE_CHECKING:
    from ._interpreter import Scope

__all__ = ["check_claimed", "check_execution", "check_operations", "check_read", "operation_problem"]

_DETAILS = (
    "ExecutionDetails",
    "StepDetails",
    "WaitDetails",
    "CallbackDetails",
    "ContextDetails",
    "ChainedInvokeDetails",
)
#: fields the SDK reads from a record's details, with the types it can read
_DETAIL_FIELDS: dict[str, tuple[type, ...]] = {
    "InputPayload": (str,),
    "Result": (str,),
    "Error": (dict,),
    "Attempt": (int,),
    "CallbackId": (str,),
    "ReplayChildren": (bool,),
}
_ERROR_FIELDS = ("ErrorType", "ErrorMessage", "ErrorData")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def operation_problem(op: Any) -> str | None:
    """What is wrong with the operation record ``op`` (``"Status is missing"``...), or ``None``."""
    if not isinstance(op, dict):
        return f"it is a {_kind(op)}, not an object"
    for key in ("Id", "Type", "Status"):
        value = op.get(key)
        if value is None:
            return f"{key} is missing"
        if not isinstance(value, str) or not value:
            return f"{key} must be a non-empty string, got {_kind(value)} {value!r:.40}"
    for key in ("SubType", "Name", "ParentId"):
        value = op.get(key)
        if value is not None and not isinstance(value, str):
            return f"{key} must be a string, got {_kind(value)}"
    for key in _DETAILS:
        details = op.get(key)
        if details is None:
            continue
        if not isinstance(details, dict):
            return f"{key} must be an object, got {_kind(details)}"
        problem = _details_problem(details)
        if problem:
            return f"{key}.{problem}"
    return None


def _details_problem(details: dict[str, Any]) -> str | None:
    for field, types in _DETAIL_FIELDS.items():
        value = details.get(field)
        if value is None:
            continue
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            return f"{field} must be a {'/'.join(t.__name__ for t in types)}, got {_kind(value)}"
        if isinstance(value, dict):  # the Error object
            for key in _ERROR_FIELDS:
                if value.get(key) is not None and not isinstance(value[key], str):
                    return f"Error.{key} must be a string, got {_kind(value[key])}"
            trace = value.get("StackTrace")
            if trace is not None and (not isinstance(trace, list) or not all(isinstance(x, str) for x in trace)):
                return "Error.StackTrace must be a list of strings"
    return None


def check_operations(operations: Any, where: str) -> None:
    """Raise :class:`InvalidEventError` naming the first malformed record of ``operations`` (at ``where``)."""
    if not isinstance(operations, list):
        raise InvalidEventError(f"{where} must be a list of operations, got {_kind(operations)}")
    seen: set[str] = set()
    for i, op in enumerate(operations):
        problem = operation_problem(op)
        if problem:
            raise InvalidEventError(f"{where}[{i}] is not an operation: {problem}")
        if op["Id"] in seen:
            raise InvalidEventError(f"operation {op['Id']} appears twice in {where}")
        seen.add(op["Id"])


#: the fields of an EXECUTION record as the service sends it; one with only these takes a few checks
_PLAIN_EXECUTION = frozenset({"Id", "Type", "Status", "Name", "StartTimestamp", "EndTimestamp", "ExecutionDetails"})
_INPUT_ONLY = frozenset({"InputPayload"})


def check_execution(op: Any) -> None:
    """The EXECUTION record must carry its input as a string (or none)."""
    details = op.get("ExecutionDetails")
    if (
        op.keys() <= _PLAIN_EXECUTION
        and op["Id"]  # a str: index_operations checked; and Type is "EXECUTION"
        and op.get("Status").__class__ is str
        and op["Status"]
        and op.get("Name", "").__class__ is str
        and (
            details is None
            or (
                details.__class__ is dict
                and details.keys() <= _INPUT_ONLY
                and details.get("InputPayload", "").__class__ is str
            )
        )
    ):
        return  # the common record, in a few checks; anything else gets the full check
    problem = operation_problem(op)
    if problem:
        raise InvalidEventError(f"the EXECUTION operation {op.get('Id')!r:.80}: {problem}")


def check_read(rec: Any, op_id: str) -> None:
    """An operation reads record ``op_id`` for the first time: its Type and Status must be strings (the
    index does not look inside records); otherwise an :class:`InvalidEventError` names what is wrong."""
    if rec.get("Type").__class__ is not str or rec.get("Status").__class__ is not str:
        problem = operation_problem(rec) or "it cannot be read"
        raise InvalidEventError(f"operation {op_id} in the execution state: {problem}")


def check_claimed(records: dict[str, Any], scope: Scope, error: Exception) -> None:
    """An operation failed to start: if the record it claimed last in ``scope`` is malformed, that is the
    cause, and an :class:`InvalidEventError` (which ends the invocation) instead of ``error``."""
    if not scope.counter or isinstance(error, DurableExecutionError):
        return
    op_id = operation_id(scope.prefix, scope.counter)
    rec = records.get(op_id)
    problem = operation_problem(rec) if rec is not None else None
    if problem:
        raise InvalidEventError(f"operation {op_id} in the execution state: {problem}") from error

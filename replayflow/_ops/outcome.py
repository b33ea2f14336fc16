"""What every operation writes when it starts and ends: updates, payloads, error objects and hooks.

One place for the bookkeeping the operations share: the ``OperationUpdate`` builder, serializing a result
(wrapped errors, the checkpoint size limit) and reading it back as replay will, the ``ErrorObject`` of an
exception, the START / FAIL updates with their hooks, and the record-identity test.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from replayflow._errors import DurableOperationError, PayloadTooLargeError, SerDesError, error_type_name
from replayflow._wire import (
    CHECKPOINT_PAYLOAD_LIMIT_BYTES,
    ERROR_OBJECT_LIMIT_BYTES,
    ErrorObjectDict,
    OperationUpdateDict,
)

if TYPE_CHECKING:
    from replayflow._interpreter import Frame
    from replayflow._serdes import SerDesContext
    from replayflow._wire import OperationDict

    from .base import Host

__all__ = [
    "error_object",
    "fail",
    "read_back",
    "recorded_as",
    "recorded_error",
    "serialize",
    "start",
    "too_large",
    "update",
    "with_error",
]


def update(
    op_type: str,
    action: str,
    op_id: str,
    sub_type: str,
    name: str | None,
    parent_id: str | None,
    payload: str | None = None,
) -> OperationUpdateDict:
    """An ``OperationUpdate`` wire dict (``Name``, ``ParentId`` and ``Payload`` only when there is one; ``""``
    is no name, as in the official SDK)."""
    result: OperationUpdateDict = {"Id": op_id, "Type": op_type, "Action": action, "SubType": sub_type}
    if name:
        result["Name"] = name
    if parent_id is not None:
        result["ParentId"] = parent_id
    if payload is not None:
        result["Payload"] = payload
    return result


def start(host: Host, frame: Frame, started: OperationUpdateDict, name: str | None) -> None:
    """Queue an operation's START update and tell the hooks it started."""
    host.enqueue(started)
    host.operation_started(frame, started["Id"], started["Type"], started["SubType"], name)


def with_error(update: OperationUpdateDict, error: ErrorObjectDict) -> OperationUpdateDict:
    """``update`` (a FAIL or RETRY) recording ``error``."""
    update["Error"] = error
    return update


def fail(
    host: Host,
    frame: Frame,
    failed: OperationUpdateDict,
    name: str | None,
    error: ErrorObjectDict,
    cause: BaseException | None,
) -> None:
    """Queue an operation's FAIL update recording ``error`` and tell the hooks it failed (with ``cause``)."""
    host.enqueue(with_error(failed, error))
    host.operation_ended(frame, failed["Id"], failed["Type"], failed["SubType"], name, "FAILED", cause)


def recorded_as(
    rec: OperationDict, op_type: str, sub_type: str | None, name: str | None, parent_id: str | None
) -> bool:
    """Whether ``rec`` was written by this operation: same Type, SubType, Name (``""`` is no name) and ParentId.

    (``Interpreter.claim`` runs the same test inline: it is the replay hot path.)
    """
    recorded_name = rec.get("Name")
    return (
        rec.get("Type") == op_type
        and rec.get("SubType") == sub_type
        and rec.get("ParentId") == parent_id
        and (recorded_name == name or (recorded_name or None) == (name or None))
    )


def recorded_error(details: Mapping[str, Any] | None) -> ErrorObjectDict:
    """The ``Error`` of a record's details (``{}`` when it has none)."""
    error: ErrorObjectDict | None = details.get("Error") if details else None
    return error if error else ErrorObjectDict()


#: a str of at most this many characters fits the limit whatever they are (at most 4 UTF-8 bytes each)
_QUARTER_LIMIT = CHECKPOINT_PAYLOAD_LIMIT_BYTES // 4


def too_large(payload: str, limit: int = CHECKPOINT_PAYLOAD_LIMIT_BYTES) -> bool:
    """Whether ``payload`` is over ``limit`` bytes in UTF-8 (encoded only when it might be)."""
    return len(payload) > limit // 4 and len(payload.encode()) > limit


def serialize(serdes: Any, value: Any, context: SerDesContext, what: str, *, checkpoint: bool = False) -> str | None:
    """``serdes.serialize(value)``; any failure is a :class:`SerDesError` naming ``what``, as is a non-str.

    ``checkpoint``: the payload goes into a checkpoint, so one over the limit is a :class:`PayloadTooLargeError`.
    """
    try:
        payload = serdes.serialize(value, context)
    except SerDesError:
        raise
    except Exception as exc:
        raise SerDesError(f"cannot serialize {what}: {exc}") from exc
    if payload is None:
        return None
    if not isinstance(payload, str):
        raise SerDesError(f"{type(serdes).__name__}.serialize must return a str, got {type(payload).__name__}")
    if checkpoint and len(payload) > _QUARTER_LIMIT and too_large(payload):  # (the length test first: no call)
        raise PayloadTooLargeError(
            f"{what} is {len(payload.encode()):,} bytes once serialized; a checkpoint holds at "
            f"most {CHECKPOINT_PAYLOAD_LIMIT_BYTES:,}. Store large data elsewhere (e.g. S3) and return a "
            f"reference, or build it in a child context (results over the limit are rebuilt on replay)."
        )
    return payload


def read_back(serdes: Any, payload: str, context: SerDesContext, what: str) -> Any:
    """``payload`` deserialized, as replay will see it; a failure is a :class:`SerDesError` naming ``what``."""
    try:
        return serdes.deserialize(payload, context)
    except SerDesError:
        raise
    except Exception as exc:
        raise SerDesError(f"cannot read back {what}: {exc}") from exc


def error_object(error: BaseException) -> ErrorObjectDict:
    """The wire ``ErrorObject`` for ``error``: what the history records and replays."""
    if isinstance(error, DurableOperationError) and error.error_type:
        obj: ErrorObjectDict = {"ErrorType": error.error_type, "ErrorMessage": error.error_message or ""}
        if error.error_data is not None:
            obj["ErrorData"] = error.error_data
        if error.stack_trace:
            obj["StackTrace"] = list(error.stack_trace)
    else:
        obj = {"ErrorType": error_type_name(error), "ErrorMessage": str(error)}
        trace = traceback.format_exception(error)
        obj["StackTrace"] = [line.rstrip("\n") for chunk in trace for line in chunk.splitlines()][-60:]
    return _fit(obj)


def _fix(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _escaped(obj: ErrorObjectDict) -> ErrorObjectDict:
    """``obj`` with characters JSON cannot carry (lone surrogates) written as ``\\udcff`` escapes."""
    fixed: ErrorObjectDict = {}
    if "ErrorType" in obj:
        fixed["ErrorType"] = _fix(obj["ErrorType"])
    if "ErrorMessage" in obj:
        fixed["ErrorMessage"] = _fix(obj["ErrorMessage"])
    if "ErrorData" in obj:
        fixed["ErrorData"] = _fix(obj["ErrorData"])
    if "StackTrace" in obj:
        fixed["StackTrace"] = [_fix(line) for line in obj["StackTrace"]]
    return fixed


def _fit(obj: ErrorObjectDict) -> ErrorObjectDict:
    """Trim an ErrorObject until its JSON is within the service's 32 KB limit."""
    limit = ERROR_OBJECT_LIMIT_BYTES - 512
    try:
        orjson.dumps(obj)
    except TypeError:  # a lone surrogate (``os.fsdecode`` of a non-UTF-8 file name): keep it visible, escaped
        obj = _escaped(obj)
    while len(orjson.dumps(obj)) > limit:
        trace = obj.get("StackTrace")
        if trace:
            obj["StackTrace"] = trace[len(trace) // 2 + 1 :] if len(trace) > 1 else []
            if not obj["StackTrace"]:
                del obj["StackTrace"]
            continue
        data = obj.get("ErrorData")
        if data and len(data) > 1024:
            obj["ErrorData"] = data[: len(data) // 2] + "...[truncated]"
            continue
        message = obj.get("ErrorMessage") or ""
        obj["ErrorMessage"] = message[: max(len(message) // 2, 64)] + "...[truncated]"
        if len(message) <= 128:
            break
    return obj

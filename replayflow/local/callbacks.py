"""The callback APIs: SendDurableExecutionCallbackSuccess / Failure / Heartbeat."""

from __future__ import annotations

from typing import Any, cast

import orjson

from replayflow._wire import CallbackDetailsDict, OperationDict

from . import naming
from .engine import RUNNING, Engine
from .errors import CallbackClosedError, InvalidParameterValueError
from .events import data, op_event
from .records import Execution
from .shapes import check_error_object

__all__ = ["CallbackApi"]


class CallbackApi:
    """Completing callbacks from outside: unknown, expired or closed ids get ``CallbackTimeoutException``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _open_callback(self, callback_id: object) -> tuple[Execution, str, OperationDict]:
        if not isinstance(callback_id, str) or not naming.valid_callback_id(callback_id):
            raise InvalidParameterValueError("CallbackId must match [A-Za-z0-9+/]+={0,2} (1-1024 characters).")
        engine = self._engine
        where = engine.callbacks.get(callback_id)
        if where is None:
            raise CallbackClosedError("The callback ID is not valid, or the callback has already been closed.")
        ex = engine.executions[where[0]]
        op = ex.ops[where[1]]
        if ex.status != RUNNING or op["Status"] != "STARTED":
            raise CallbackClosedError("The callback has already been closed, or its execution has ended.")
        return ex, where[1], op

    def _close_callback(
        self, ex: Execution, op_id: str, op: OperationDict, status: str, event_type: str, key: str, value: Any
    ) -> None:
        now = self._engine.now_ms()
        details = dict(op["CallbackDetails"])
        if value is not None:
            details[key] = value  # "Result" or "Error"
        new: OperationDict = {
            **op,
            "Status": status,
            "EndTimestamp": now,
            "CallbackDetails": cast("CallbackDetailsDict", details),
        }
        if value is not None:  # metered as data written (see .limits)
            ex.bytes_written += len(value.encode()) if isinstance(value, str) else len(orjson.dumps(value))
        ex.set_op(new)
        ex.callbacks.pop(op_id, None)
        op_event(ex.events, event_type, new, now, {key: data(value)})
        self._engine.operation_changed(ex, op_id)

    def send_durable_execution_callback_success(
        self, CallbackId: str, Result: bytes | str | None = None
    ) -> dict[str, object]:
        """Complete a callback with ``Result`` (stored as the UTF-8 text of the bytes, verbatim)."""
        engine = self._engine
        engine.calls["SendDurableExecutionCallbackSuccess"] += 1
        text = None if Result is None else self._result_text(Result)
        with engine.lock:
            ex, op_id, op = self._open_callback(CallbackId)
            self._close_callback(ex, op_id, op, "SUCCEEDED", "CallbackSucceeded", "Result", text)
        return {}

    def _result_text(self, result: bytes | str) -> str:
        raw = result.encode() if isinstance(result, str) else bytes(result)
        limit = self._engine.limits.callback_result_bytes
        if len(raw) > limit:
            raise InvalidParameterValueError(f"The callback Result is {len(raw)} bytes; at most {limit} are allowed.")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidParameterValueError("The callback Result must be UTF-8 text.") from exc

    def send_durable_execution_callback_failure(
        self, CallbackId: str, Error: dict[str, Any] | None = None
    ) -> dict[str, object]:
        """Complete a callback with a failure (``Error`` is an ErrorObject)."""
        engine = self._engine
        engine.calls["SendDurableExecutionCallbackFailure"] += 1
        error = check_error_object(Error, engine.limits)
        with engine.lock:
            ex, op_id, op = self._open_callback(CallbackId)
            self._close_callback(ex, op_id, op, "FAILED", "CallbackFailed", "Error", error)
        return {}

    def send_durable_execution_callback_heartbeat(self, CallbackId: str) -> dict[str, object]:
        """Keep a callback alive: its heartbeat timeout starts again (no history event)."""
        engine = self._engine
        engine.calls["SendDurableExecutionCallbackHeartbeat"] += 1
        with engine.lock:
            ex, op_id, _ = self._open_callback(CallbackId)
            deadlines = ex.callbacks[op_id]
            if deadlines.heartbeat:
                due = engine.now_ms() + deadlines.heartbeat * 1000
                ex.callbacks[op_id] = deadlines._replace(heartbeat_due=due)
                engine.arm(ex, "callback_heartbeat", op_id, due)
                engine.save(ex)
        return {}

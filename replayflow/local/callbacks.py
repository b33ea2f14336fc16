"""The callback APIs: SendDurableExecutionCallbackSuccess / Failure / Heartbeat."""

from __future__ import annotations

from typing import Any

import orjson

from . import naming
from .engine import RUNNING, Engine
from .errors import callback_timeout, invalid_parameter
from .events import data, op_event
from .records import Execution
from .shapes import check_error_object

__all__ = ["CallbackApi"]


class CallbackApi(Engine):
    """Completing callbacks from outside: unknown, expired or closed ids get ``CallbackTimeoutException``."""

    def _open_callback(self, callback_id: Any) -> tuple[Execution, str, dict[str, Any]]:
        if not isinstance(callback_id, str) or not naming.valid_callback_id(callback_id):
            raise invalid_parameter("CallbackId must match [A-Za-z0-9+/]+={0,2} (1-1024 characters).")
        where = self._callbacks.get(callback_id)
        if where is None:
            raise callback_timeout("The callback ID is not valid, or the callback has already been closed.")
        ex = self._executions[where[0]]
        op = ex.ops[where[1]]
        if ex.status != RUNNING or op["Status"] != "STARTED":
            raise callback_timeout("The callback has already been closed, or its execution has ended.")
        return ex, where[1], op

    def _close_callback(
        self, ex: Execution, op_id: str, op: dict[str, Any], status: str, event_type: str, key: str, value: Any
    ) -> None:
        now = self._now_ms()
        details = dict(op["CallbackDetails"])
        if value is not None:
            details[key] = value
        new = {**op, "Status": status, "EndTimestamp": now, "CallbackDetails": details}
        if value is not None:  # metered as data written (see .limits)
            ex.bytes_written += len(value.encode()) if isinstance(value, str) else len(orjson.dumps(value))
        ex.set_op(new)
        ex.callbacks.pop(op_id, None)
        ex.pending.discard(op_id)
        ex.updated_ids.append(op_id)
        op_event(ex.events, event_type, new, now, {key: data(value)})
        self._wake(ex)
        self._save(ex)

    def send_durable_execution_callback_success(
        self, CallbackId: str, Result: bytes | str | None = None
    ) -> dict[str, Any]:
        """Complete a callback with ``Result`` (stored as the UTF-8 text of the bytes, verbatim)."""
        self.calls["SendDurableExecutionCallbackSuccess"] += 1
        text: str | None = None
        if Result is not None:
            raw = Result.encode() if isinstance(Result, str) else bytes(Result)
            if len(raw) > self.limits.callback_result_bytes:
                raise invalid_parameter(
                    f"The callback Result is {len(raw)} bytes; at most {self.limits.callback_result_bytes} are allowed."
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise invalid_parameter("The callback Result must be UTF-8 text.") from exc
        with self._lock:
            ex, op_id, op = self._open_callback(CallbackId)
            self._close_callback(ex, op_id, op, "SUCCEEDED", "CallbackSucceeded", "Result", text)
        return {}

    def send_durable_execution_callback_failure(
        self, CallbackId: str, Error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Complete a callback with a failure (``Error`` is an ErrorObject)."""
        self.calls["SendDurableExecutionCallbackFailure"] += 1
        error = check_error_object(Error, self.limits)
        with self._lock:
            ex, op_id, op = self._open_callback(CallbackId)
            self._close_callback(ex, op_id, op, "FAILED", "CallbackFailed", "Error", error)
        return {}

    def send_durable_execution_callback_heartbeat(self, CallbackId: str) -> dict[str, Any]:
        """Keep a callback alive: its heartbeat timeout starts again (no history event)."""
        self.calls["SendDurableExecutionCallbackHeartbeat"] += 1
        with self._lock:
            ex, op_id, _ = self._open_callback(CallbackId)
            deadlines = ex.callbacks[op_id]
            if deadlines[1]:
                deadlines[3] = self._now_ms() + deadlines[1] * 1000
                self._arm(ex, "callback_heartbeat", op_id, deadlines[3])
                self._save(ex)
        return {}

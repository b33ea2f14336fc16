"""``ctx.invoke``: call another Lambda function (durable or not) and wait for its result.

The workflow checkpoints CHAINED_INVOKE START with the payload; the service runs the target and completes
the operation with its result or error; the invocation suspends meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from replayflow._errors import (
    InvokeError,
    InvokeFailedError,
    InvokeStoppedError,
    InvokeTimedOutError,
    PayloadTooLargeError,
    SerDesError,
)
from replayflow._serdes import JsonSerDes, SerDes
from replayflow._wire import OPEN_STATUSES, OperationDict, Status

from .base import BLOCKED, DurableOperation, Host, Throw, field
from .outcome import serialize, start, too_large, update

if TYPE_CHECKING:
    from replayflow._interpreter import Frame

__all__ = ["Invoke"]

T = TypeVar("T")

#: Chained-invoke payloads and results are the functions' own input and result: plain JSON in both SDKs
#: (never read as official SDK envelopes).
PLAIN = JsonSerDes()

#: Largest chained-invoke input the service accepts.
INVOKE_PAYLOAD_LIMIT_BYTES = 1024 * 1024

_ERRORS: dict[str, type[InvokeError]] = {
    Status.FAILED: InvokeFailedError,
    Status.TIMED_OUT: InvokeTimedOutError,
    Status.STOPPED: InvokeStoppedError,
}


class Invoke(DurableOperation[T]):
    """``ctx.invoke(function_name, payload)``."""

    __slots__ = ()
    _fields = ("function_name", "payload", "name", "tenant_id", "payload_serdes", "result_serdes")
    function_name: str = field(0)
    payload: object = field(1)
    name: str | None = field(2)
    tenant_id: str | None = field(3)
    payload_serdes: SerDes[Any] = field(4)
    result_serdes: SerDes[Any] = field(5)

    def __new__(
        cls,
        function_name: str,
        payload: object,
        name: str | None,
        tenant_id: str | None,
        payload_serdes: SerDes[Any] | None,
        result_serdes: SerDes[Any] | None,
    ) -> Invoke[T]:
        return tuple.__new__(
            cls,
            (
                function_name,
                payload,
                name,
                tenant_id,
                payload_serdes or PLAIN,
                result_serdes or PLAIN,
            ),
        )

    def run(self, it: Host, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "CHAINED_INVOKE", "ChainedInvoke", self.name)
        resolve = self._resolver(it, op_id)
        if rec is None:
            self._start(it, frame, op_id)
            return it.wait_for(frame, op_id, resolve)
        value = resolve(rec)
        if value is BLOCKED:
            return it.wait_for(frame, op_id, resolve)
        return value

    def _start(self, it: Host, frame: Frame, op_id: str) -> None:
        try:
            payload = serialize(self.payload_serdes, self.payload, it.serdes_context(op_id), "the payload")
        except SerDesError as error:
            raise Throw(error) from error
        if payload is not None and too_large(payload, INVOKE_PAYLOAD_LIMIT_BYTES):
            raise Throw(
                PayloadTooLargeError(
                    f"the payload for {self.function_name!r} is {len(payload.encode()):,} bytes; "
                    f"a chained invoke accepts at most {INVOKE_PAYLOAD_LIMIT_BYTES:,}"
                )
            )
        options: dict[str, Any] = {"FunctionName": self.function_name}
        if self.tenant_id is not None:
            options["TenantId"] = self.tenant_id
        started = update("CHAINED_INVOKE", "START", op_id, "ChainedInvoke", self.name, frame.scope.parent_id, payload)
        started["ChainedInvokeOptions"] = options
        start(it, frame, started, self.name)

    def _resolver(self, it: Host, op_id: str) -> Callable[[OperationDict], Any]:
        def resolve(rec: OperationDict) -> Any:
            status = rec["Status"]
            details = rec.get("ChainedInvokeDetails") or {}
            if status == Status.SUCCEEDED:
                return it.decode(self.result_serdes, details.get("Result"), op_id, f"invoke of {self.function_name!r}")
            if status in OPEN_STATUSES:
                return BLOCKED
            error = details.get("Error") or {}
            cls = _ERRORS.get(status, InvokeError)
            raise Throw(
                cls.from_error_object(
                    error,
                    operation_id=op_id,
                    name=self.name,
                    default_message=f"{self.function_name} ended with status {status}",
                    function_name=self.function_name,
                )
            )

        return resolve

"""``ctx.invoke``: call another Lambda function (durable or not) and wait for its result.

The workflow checkpoints CHAINED_INVOKE START with the payload; the service runs the target and completes
the operation with its result or error; the invocation suspends meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import (
    InvokeError,
    InvokeFailedError,
    InvokeStoppedError,
    InvokeTimedOutError,
    PayloadTooLargeError,
    SerDesError,
)
from .._interpreter import BLOCKED, Throw
from .base import Operation, field, update
from .._serdes import JsonSerDes

if TYPE_CHECKING:
    from .._interpreter import Frame, Interpreter

__all__ = ["Invoke"]

T = TypeVar("T")

#: Chained-invoke payloads and results are the functions' own input and result: plain JSON in both SDKs
#: (never read as official SDK envelopes).
PLAIN = JsonSerDes()

#: Largest chained-invoke input the service accepts.
INVOKE_PAYLOAD_LIMIT_BYTES = 1024 * 1024

_ERRORS: dict[str, type[InvokeError]] = {
    "FAILED": InvokeFailedError,
    "TIMED_OUT": InvokeTimedOutError,
    "STOPPED": InvokeStoppedError,
}


class Invoke(Operation[T]):
    """``ctx.invoke(function_name, payload)``."""

    __slots__ = ()
    _fields = ("function_name", "payload", "name", "tenant_id", "payload_serdes", "result_serdes")
    function_name: str = field(0)
    payload: Any = field(1)
    name: str | None = field(2)
    tenant_id: str | None = field(3)
    payload_serdes: Any = field(4)
    result_serdes: Any = field(5)

    def __new__(
        cls,
        function_name: str,
        payload: Any,
        name: str | None,
        tenant_id: str | None,
        payload_serdes: Any,
        result_serdes: Any,
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

    def _run(self, it: Interpreter, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "CHAINED_INVOKE", "ChainedInvoke", self.name)
        if rec is None:
            try:
                payload = self.payload_serdes.serialize(self.payload, it.serdes_context(op_id))
            except Exception as exc:
                error = exc if isinstance(exc, SerDesError) else SerDesError(f"cannot serialize the payload: {exc}")
                raise Throw(error) from exc
            if payload is not None and len(payload.encode()) > INVOKE_PAYLOAD_LIMIT_BYTES:
                raise Throw(
                    PayloadTooLargeError(
                        f"the payload for {self.function_name!r} is {len(payload.encode()):,} bytes; "
                        f"a chained invoke accepts at most {INVOKE_PAYLOAD_LIMIT_BYTES:,}"
                    )
                )
            options: dict[str, Any] = {"FunctionName": self.function_name}
            if self.tenant_id is not None:
                options["TenantId"] = self.tenant_id
            start = update("CHAINED_INVOKE", "START", op_id, "ChainedInvoke", self.name, frame.scope.parent_id)
            start["ChainedInvokeOptions"] = options
            if payload is not None:
                start["Payload"] = payload
            it.enqueue(start)
            it.operation_started(frame, op_id, "CHAINED_INVOKE", "ChainedInvoke", self.name)
            return it.wait_for(frame, op_id, self._resolver(it, op_id))
        resolve = self._resolver(it, op_id)
        value = resolve(rec)
        if value is BLOCKED:
            return it.wait_for(frame, op_id, resolve)
        return value

    def _resolver(self, it: Interpreter, op_id: str) -> Any:
        def resolve(rec: Any) -> Any:
            status = rec["Status"]
            details = rec.get("ChainedInvokeDetails") or {}
            if status == "SUCCEEDED":
                return it.decode(self.result_serdes, details.get("Result"), op_id, f"invoke of {self.function_name!r}")
            if status in ("STARTED", "PENDING", "READY"):
                return BLOCKED
            error = details.get("Error") or {}
            cls = _ERRORS.get(status, InvokeError)
            exc = cls.from_error_object(
                error,
                operation_id=op_id,
                name=self.name,
                default_message=f"{self.function_name} ended with status {status}",
            )
            exc.function_name = self.function_name
            raise Throw(exc)

        return resolve

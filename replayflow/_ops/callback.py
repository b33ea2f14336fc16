"""Callbacks: ``ctx.create_callback`` and ``ctx.wait_for_callback``.

``create_callback`` starts a CALLBACK operation; the service allocates its callback id, which the workflow
hands to an external system (inside a step, so that replays do not send it again). The external system
answers with ``SendDurableExecutionCallbackSuccess`` / ``Failure`` / ``Heartbeat``. Yielding
``callback.result()`` suspends until then and gives the result (the raw string by default), or raises
:class:`CallbackFailedError`, :class:`CallbackTimeoutError` or :class:`CallbackHeartbeatTimeoutError`.

``wait_for_callback(submitter)`` is the usual composition, as a WaitForCallback child context: create the
callback, run ``submitter(callback_id)`` as a step, wait for the result. A submitter that fails for good
raises :class:`CallbackSubmitterError`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from replayflow._errors import (
    CallbackError,
    CallbackFailedError,
    CallbackHeartbeatTimeoutError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    DurableOperationError,
    ServiceError,
    StepError,
)
from replayflow._ids import operation_id
from replayflow._retry import RetryStrategy
from replayflow._serdes import PassThroughSerDes, SerDes
from replayflow._wire import OPEN_STATUSES, ErrorObjectDict, OperationDict, Status

from .base import BLOCKED, DurableOperation, Host, Throw, field
from .child import ChildContext, recorded_error_class
from .outcome import start, update
from .step import Step, StepConfig, StepSemantics

if TYPE_CHECKING:
    from replayflow._context import DurableContext
    from replayflow._interpreter import Frame

__all__ = [
    "Callback",
    "CallbackResult",
    "CreateCallback",
    "callback_error",
    "wait_for_callback_op",
]

T = TypeVar("T")

PASS_THROUGH = PassThroughSerDes()


class Callback(Generic[T]):
    """A started callback: give :attr:`callback_id` to the external system, then yield :meth:`result`."""

    __slots__ = ("callback_id", "name", "operation_id", "serdes")

    def __init__(self, operation_id: str, callback_id: str, name: str | None, serdes: SerDes[Any] | None) -> None:
        self.operation_id = operation_id
        self.callback_id = callback_id
        self.name = name
        self.serdes = serdes

    def result(self) -> CallbackResult[T]:
        """The operation that waits for the external system's answer."""
        return CallbackResult(self)

    def __repr__(self) -> str:
        return f"Callback(name={self.name!r}, callback_id={self.callback_id!r})"


class CreateCallback(DurableOperation[Callback[T]]):
    """``ctx.create_callback()``: returns a :class:`Callback` handle (it never raises on a failed callback)."""

    __slots__ = ()
    _fields = ("name", "timeout", "heartbeat_timeout", "serdes")
    name: str | None = field(0)
    timeout: int = field(1)
    heartbeat_timeout: int = field(2)
    serdes: SerDes[Any] = field(3)

    def __new__(
        cls, name: str | None, timeout: int, heartbeat_timeout: int, serdes: SerDes[Any] | None
    ) -> CreateCallback[T]:
        return tuple.__new__(cls, (name, timeout, heartbeat_timeout, serdes or PASS_THROUGH))

    def run(self, it: Host, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "CALLBACK", "Callback", self.name)
        if rec is None:
            started = update("CALLBACK", "START", op_id, "Callback", self.name, frame.scope.parent_id)
            options = {}
            if self.timeout:
                options["TimeoutSeconds"] = self.timeout
            if self.heartbeat_timeout:
                options["HeartbeatTimeoutSeconds"] = self.heartbeat_timeout
            if options:
                started["CallbackOptions"] = options
            start(it, frame, started, self.name)
            it.flush()  # the service allocates the callback id
            rec = it.records.get(op_id)
        callback_id = ((rec or {}).get("CallbackDetails") or {}).get("CallbackId")
        if not callback_id:
            raise ServiceError(
                "InvalidResponse", f"the service returned no CallbackId for callback {self.name!r} (id {op_id})"
            )
        return Callback(op_id, callback_id, self.name, self.serdes)


class CallbackResult(DurableOperation[T]):
    """Waits for a callback's answer (this is not a new operation: it consumes no operation id)."""

    __slots__ = ()
    _fields = ("callback",)
    callback: Callback[T] = field(0)

    def __new__(cls, callback: Callback[T]) -> CallbackResult[T]:
        return tuple.__new__(cls, (callback,))

    def run(self, it: Host, frame: Frame) -> Any:
        op_id = self.callback.operation_id
        rec = it.records.get(op_id)
        resolve = self._resolver(it)
        if rec is None:
            return it.wait_for(frame, op_id, resolve)
        value = resolve(rec)
        if value is BLOCKED:
            return it.wait_for(frame, op_id, resolve)
        return value

    def _resolver(self, it: Host) -> Callable[[OperationDict], Any]:
        callback = self.callback

        def resolve(rec: OperationDict) -> Any:
            status = rec["Status"]
            if status == Status.SUCCEEDED:
                details = rec.get("CallbackDetails") or {}
                return it.decode(callback.serdes, details.get("Result"), callback.operation_id, "a callback result")
            if status in OPEN_STATUSES:
                return BLOCKED
            raise Throw(callback_error(rec, callback))

        return resolve


def callback_error(rec: Mapping[str, Any], callback: Callback[Any]) -> CallbackError:
    """The error a failed callback's record raises (the class follows its status)."""
    details = rec.get("CallbackDetails") or {}
    error = details.get("Error") or {}
    status = rec["Status"]
    cls = _failure_class(status, error) or CallbackError
    default = _DEFAULT_MESSAGES.get(cls) or f"callback ended with status {status}"
    return cls.from_error_object(
        error,
        operation_id=callback.operation_id,
        name=callback.name,
        default_message=f"callback {callback.name or callback.callback_id}: {default}",
        callback_id=callback.callback_id,
    )


def _failure_class(status: str, error: Mapping[str, Any]) -> type[CallbackError] | None:
    """The class of a callback that ended with ``status`` (``None``: the status names none)."""
    if status == Status.TIMED_OUT:
        heartbeat = error.get("ErrorType") == "Callback.Heartbeat"
        return CallbackHeartbeatTimeoutError if heartbeat else CallbackTimeoutError
    if status == Status.FAILED:
        return CallbackFailedError
    return None


_DEFAULT_MESSAGES: dict[type[CallbackError], str] = {
    CallbackHeartbeatTimeoutError: "no heartbeat within the heartbeat timeout",
    CallbackTimeoutError: "timed out",
    CallbackFailedError: "the external system reported failure",
}


# -- wait_for_callback -----------------------------------------------------------------------------------------


def _body(
    ctx: DurableContext,
    submitter: Callable[[str], object],
    name: str | None,
    timeout: int,
    heartbeat_timeout: int,
    retry: RetryStrategy | None,
    serdes: SerDes[Any] | None,
) -> Generator[Any, Any, Any]:
    prefix = f"{name} " if name else ""
    callback = yield CreateCallback(f"{prefix}create callback id", timeout, heartbeat_timeout, serdes)
    options = StepConfig(retry, StepSemantics.AT_LEAST_ONCE_PER_RETRY, None)
    yield Step.of(submitter, (callback.callback_id,), {}, f"{prefix}submitter", options)
    return (yield callback.result())


def _errors(
    it: Host, error: ErrorObjectDict, op_id: str, name: str | None, cause: BaseException | None
) -> DurableOperationError:
    """Map a WaitForCallback failure to the callback error that caused it (live or from the history).

    On replay the class comes from the context's own record (its children are absent once it finished).
    """
    cls: type[DurableOperationError]
    recorded, error = recorded_error_class(error)
    if cause is None and recorded in _CLASSES:
        cls = _CLASSES[recorded]
    elif isinstance(cause, CallbackError):
        cls = type(cause)
    elif isinstance(cause, StepError):
        cls = CallbackSubmitterError
    elif cause is not None:
        cls = CallbackError
    else:  # a history written before the class was recorded: the children, when present, say what failed
        cls = _class_from_children(it, error, op_id)
    return cls.from_error_object(error, operation_id=op_id, name=name)


def _class_from_children(it: Host, error: ErrorObjectDict, op_id: str) -> type[DurableOperationError]:
    """The class of a WaitForCallback failure recorded without one, from its callback and submitter."""
    status = (it.records.get(operation_id(op_id, 1)) or {}).get("Status")
    from_callback = _failure_class(status, error) if status is not None else None
    if from_callback is not None:
        return from_callback
    if (it.records.get(operation_id(op_id, 2)) or {}).get("Status") == Status.FAILED:
        return CallbackSubmitterError
    return CallbackError


_CLASSES: dict[str, type[DurableOperationError]] = {
    cls.__name__: cls
    for cls in (
        CallbackError,
        CallbackFailedError,
        CallbackTimeoutError,
        CallbackHeartbeatTimeoutError,
        CallbackSubmitterError,
    )
}


def wait_for_callback_op(
    submitter: Callable[[str], object],
    name: str | None,
    timeout: int,
    heartbeat_timeout: int,
    retry: RetryStrategy | None,
    serdes: SerDes[Any] | None,
) -> ChildContext[Any]:
    """The WaitForCallback child context running :func:`_body`."""
    return ChildContext(
        _body,
        (submitter, name, timeout, heartbeat_timeout, retry, serdes),
        {},
        name,
        None,
        "WaitForCallback",
        _errors,
        False,
    )

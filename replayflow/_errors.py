"""Every exception replayflow raises, in one tree.

::

    DurableExecutionError                 base of everything below
    ├── ValidationError (ValueError)      bad arguments to a ctx method or a config (raised at once)
    ├── InvalidEventError (ValueError)    the handler got an event that is not a durable invocation
    ├── NonDeterminismError               the code no longer matches the recorded history (execution FAILS)
    ├── ReplayDivergenceError             replayflow.testing: a replay saw something else than the first run
    ├── SerDesError                       a value could not be (de)serialized; the operation FAILS
    │   └── RetryableSerDesError          ... transiently; the invocation is retried instead
    ├── PayloadTooLargeError              a payload is over a service limit; the operation FAILS
    ├── ServiceError                      the durable execution service answered with an error
    ├── StepCancelledError                a step body was told the invocation is ending (records nothing)
    └── DurableOperationError             an operation ended in failure; raised into the workflow
        ├── StepError                     a step failed for good (retries exhausted or not retryable)
        │   └── StepInterruptedError      an at-most-once step was found started but never finished
        ├── WaitForConditionError         the wait strategy gave up; carries the last state
        ├── CallbackError
        │   ├── CallbackFailedError       the external system reported failure
        │   ├── CallbackTimeoutError      the callback's timeout elapsed
        │   │   └── CallbackHeartbeatTimeoutError   no heartbeat within heartbeat_timeout
        │   └── CallbackSubmitterError    wait_for_callback's submitter step failed
        ├── InvokeError
        │   ├── InvokeFailedError, InvokeTimedOutError, InvokeStoppedError
        ├── ChildContextError             a child context's body raised
        └── BatchError                    BatchResult.raise_if_error() on a failed parallel/map
    TokenRevoked                          (internal) the service revoked the checkpoint token: stop, PENDING
    HistoryFormatError (ValueError)       replayflow.testing: load_history cannot read the input

``DurableOperationError`` keeps what the history recorded (``error_type``, ``error_message``,
``error_data``, ``stack_trace``), so the first run and every replay raise exactly the same error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, TypeVar, Unpack

__all__ = [
    "BatchError",
    "CallbackError",
    "CallbackFailedError",
    "CallbackHeartbeatTimeoutError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "ChildContextError",
    "DurableExecutionError",
    "DurableOperationError",
    "HistoryFormatError",
    "InvalidEventError",
    "InvokeError",
    "InvokeFailedError",
    "InvokeStoppedError",
    "InvokeTimedOutError",
    "NonDeterminismError",
    "PayloadTooLargeError",
    "ReplayDivergenceError",
    "RetryableSerDesError",
    "SerDesError",
    "ServiceError",
    "StepCancelledError",
    "StepError",
    "StepInterruptedError",
    "TokenRevoked",
    "ValidationError",
    "WaitForConditionError",
    "error_type_name",
]


class DurableExecutionError(Exception):
    """Base class of replayflow's exceptions."""


class ValidationError(DurableExecutionError, ValueError):
    """An argument or configuration is invalid (raised where the bad value is given)."""


class InvalidEventError(DurableExecutionError, ValueError):
    """The handler was invoked with something that is not a durable execution invocation."""


class NonDeterminismError(DurableExecutionError):
    """The workflow code does not match the checkpointed history.

    Attributes name the operation (``operation_id``, ``position``, ``name``), what the history
    ``recorded`` and what the code ``attempted`` now, and where in the source the code yielded.
    """

    def __init__(
        self,
        message: str,
        *,
        operation_id: str | None = None,
        position: str | None = None,
        name: str | None = None,
        recorded: str | None = None,
        attempted: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.operation_id = operation_id
        self.position = position
        self.name = name
        self.recorded = recorded
        self.attempted = attempted
        self.location = location


class ReplayDivergenceError(DurableExecutionError):
    """A replay saw something other than the first run at a ``yield`` (raised by ``replayflow.testing``).

    ``frame`` names the context (the workflow, a child context, a branch), ``operation`` the operation
    whose outcome differs (``position`` its number in the frame), ``first_run`` and ``replay`` what each
    saw: a value (as its ``repr``), an exception (class, message and attributes) or the next operation.
    """

    def __init__(
        self,
        message: str,
        *,
        frame: str | None = None,
        operation: str | None = None,
        position: int | None = None,
        first_run: str | None = None,
        replay: str | None = None,
    ) -> None:
        super().__init__(message)
        self.frame = frame
        self.operation = operation
        self.position = position
        self.first_run = first_run
        self.replay = replay


class SerDesError(DurableExecutionError):
    """A value could not be serialized or deserialized. Permanent: the operation fails."""


class RetryableSerDesError(SerDesError):
    """A transient serialization failure (e.g. an offload store was unreachable): retry the invocation."""


class PayloadTooLargeError(DurableExecutionError):
    """A payload exceeds a service limit. Permanent: retrying cannot make it smaller."""


class ServiceError(DurableExecutionError):
    """The durable execution service (AWS or the local one) rejected a call.

    ``code`` is the service's error code (``InvalidParameterValueException``, ``ThrottlingException``...),
    ``status`` the HTTP status when there was one. ``retryable`` follows the service's contract: throttling,
    5xx, network failures and a stale checkpoint token are transient; other 4xx are permanent.
    """

    def __init__(self, code: str, message: str, *, status: int | None = None, retryable: bool | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        if retryable is None:
            retryable = _is_retryable(code, message, status)
        self.retryable = retryable


def _is_retryable(code: str, message: str, status: int | None) -> bool:
    if code in ("ThrottlingException", "TooManyRequestsException", "ServiceException", "ServiceUnavailable"):
        return True
    if code == "InvalidParameterValueException" and message.lower().startswith("invalid checkpoint token"):
        return True
    if code.startswith("KMS"):
        return False
    if status is None:
        return True  # no HTTP answer at all: a network failure
    return status == 429 or status >= 500


_E = TypeVar("_E", bound="DurableOperationError")


class RecordedFields(TypedDict, total=False):
    """The keyword arguments of every :class:`DurableOperationError`: what the history recorded."""

    error_type: str | None
    error_data: str | None
    stack_trace: list[str] | None
    operation_id: str | None
    operation_name: str | None


class DurableOperationError(DurableExecutionError):
    """An operation failed; the fields are those the history recorded."""

    def __init__(self, message: str | None = None, **recorded: Unpack[RecordedFields]) -> None:
        super().__init__(message or "")
        self.error_message = message
        self.error_type = recorded.get("error_type")
        self.error_data = recorded.get("error_data")
        self.stack_trace = recorded.get("stack_trace")
        self.operation_id = recorded.get("operation_id")
        self.operation_name = recorded.get("operation_name")

    @classmethod
    def from_error_object(
        cls: type[_E],
        error: Mapping[str, Any] | None,
        *,
        operation_id: str | None = None,
        name: str | None = None,
        default_message: str | None = None,
        **fields: Any,
    ) -> _E:
        """The error a recorded ``ErrorObject`` stands for (``default_message`` when it has none).

        ``fields``: the class's own fields (``last_state=``, ``callback_id=``, ``function_name=``...).
        """
        error = error or {}
        exc = cls(
            error.get("ErrorMessage") or default_message,
            error_type=error.get("ErrorType"),
            error_data=error.get("ErrorData"),
            stack_trace=error.get("StackTrace"),
            operation_id=operation_id,
            operation_name=name,
            **fields,
        )
        if exc.error_type and exc.error_type.startswith("aws_durable_execution_sdk_python."):
            from ._envelope import official_error  # recorded by the official SDK: its wrapper classes

            return official_error(exc)
        return exc

    def as_subclass(self, cls: type[_E]) -> _E:
        """The same error (every field) as an instance of ``cls``, a subclass of its class."""
        return _rebuild(cls, self.error_message, self.__dict__)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.error_message, self.__dict__))


def _rebuild(cls: type[_E], message: str | None, state: dict[str, Any]) -> _E:
    """``cls(message)`` with the fields in ``state`` (unpickling, :meth:`DurableOperationError.as_subclass`)."""
    error = cls(message)
    error.__dict__.update(state)
    return error


class StepError(DurableOperationError):
    """A step failed for good; ``error_type`` is the original exception's type."""


class StepInterruptedError(StepError):
    """An at-most-once step was found STARTED on replay: its attempt was interrupted and is not re-run."""


class WaitForConditionError(DurableOperationError):
    """``wait_for_condition`` gave up. ``last_state`` is the last state the check returned."""

    def __init__(
        self,
        message: str | None = None,
        *,
        last_state: Any = None,
        attempts: int | None = None,
        **recorded: Unpack[RecordedFields],
    ) -> None:
        super().__init__(message, **recorded)
        self.last_state = last_state
        self.attempts = attempts


class CallbackError(DurableOperationError):
    """Base of callback failures."""

    def __init__(
        self, message: str | None = None, *, callback_id: str | None = None, **recorded: Unpack[RecordedFields]
    ) -> None:
        super().__init__(message, **recorded)
        self.callback_id = callback_id


class CallbackFailedError(CallbackError):
    """The external system called SendDurableExecutionCallbackFailure."""


class CallbackTimeoutError(CallbackError):
    """The callback's timeout elapsed before a result arrived."""


class CallbackHeartbeatTimeoutError(CallbackTimeoutError):
    """No heartbeat arrived within the callback's heartbeat timeout."""


class CallbackSubmitterError(CallbackError):
    """``wait_for_callback``'s submitter step failed."""


class InvokeError(DurableOperationError):
    """Base of chained-invoke failures; ``function_name`` is the target."""

    def __init__(
        self, message: str | None = None, *, function_name: str | None = None, **recorded: Unpack[RecordedFields]
    ) -> None:
        super().__init__(message, **recorded)
        self.function_name = function_name


class InvokeFailedError(InvokeError):
    """The invoked function failed."""


class InvokeTimedOutError(InvokeError):
    """The invoked function did not finish in time."""


class InvokeStoppedError(InvokeError):
    """The invoked durable execution was stopped."""


class ChildContextError(DurableOperationError):
    """A child context's body raised."""


class BatchError(DurableOperationError):
    """``BatchResult.raise_if_error()``: at least one branch failed."""


class TokenRevoked(DurableExecutionError):
    """The service answered without a checkpoint token: this invocation must stop and return PENDING.

    Internal: the handler catches it; it never reaches workflow code or the handler's caller.
    """


class HistoryFormatError(DurableExecutionError, ValueError):
    """``replayflow.testing.load_history``: the input is not a history in a format it knows."""


class StepCancelledError(DurableExecutionError):
    """Raised by :meth:`StepContext.raise_if_cancelled`: the invocation is shutting down.

    A step that ends with it records nothing; the attempt runs again in a later invocation.
    """


def error_type_name(exc: BaseException) -> str:
    """The wire ``ErrorType`` of an exception: qualified class name, builtins unqualified."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"

"""``ctx.step``: run a function once, checkpoint its result, replay the result ever after.

A step's record decides what happens:

=========== =====================================================================================
no record   START, run the body, SUCCEED with the result (or RETRY / FAIL on an error)
SUCCEEDED   return the recorded result; the body does not run
FAILED      raise the recorded :class:`StepError`
PENDING     a retry is scheduled: wait for the service to re-invoke
READY       the retry delay has passed: START the next attempt and run the body
STARTED     an attempt was interrupted (the process died). At-least-once: run it again;
            at-most-once: do not; hand :class:`StepInterruptedError` to the retry strategy
=========== =====================================================================================
"""

from __future__ import annotations

import contextvars
import enum
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import orjson
from orjson import loads as _orjson_loads

from .._async import settle
from .._errors import (
    DurableExecutionError,
    DurableOperationError,
    PayloadTooLargeError,
    RetryableSerDesError,
    SerDesError,
    StepError,
    StepInterruptedError,
    ValidationError,
    error_type_name,
)
from .._hooks import OperationInfo
from .._interpreter import BLOCKED, Throw
from .._logging import DurableLogger
from .base import Operation, check_name, field, update
from .._retry import RetryPresets, RetryStrategy, delay_seconds
from .._serdes import (
    DEFAULT_SERDES,
    SHORT_PAYLOAD,
    SerDes,
    SerDesContext,
    needs_structuring,
    serdes_for,
    typed_serdes,
)
from .._wire import CHECKPOINT_PAYLOAD_LIMIT_BYTES, ERROR_OBJECT_LIMIT_BYTES, MAX_WAIT_SECONDS, ErrorObjectDict

if TYPE_CHECKING:
    from .._interpreter import Frame, Interpreter

__all__ = ["Step", "StepCancelledError", "StepContext", "StepSemantics", "error_object", "step_context"]

T = TypeVar("T")


class StepSemantics(enum.Enum):
    """How often a step body may run per retry attempt."""

    #: START may travel with the result; an attempt interrupted by a crash runs again (default).
    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"
    #: START is confirmed before the body runs; an interrupted attempt is never run again.
    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"


class StepCancelledError(DurableExecutionError):
    """Raised by :meth:`StepContext.raise_if_cancelled`: the invocation is shutting down.

    A step that ends with it records nothing; the attempt runs again in a later invocation.
    """


class StepContext:
    """What a running step body knows about itself; get it with :func:`replayflow.step_context`.

    ``operation_id``, ``name``, ``attempt`` (1 on the first attempt), ``execution_arn``, ``logger`` (a
    logger whose records carry the operation's id, name and attempt) and the cancellation signal.
    """

    __slots__ = ("_base_logger", "_logger", "attempt", "cancellation", "execution_arn", "name", "operation_id")

    def __init__(
        self,
        operation_id: str,
        name: str | None,
        attempt: int,
        logger: DurableLogger,
        execution_arn: str,
        cancellation: threading.Event,
    ) -> None:
        self.operation_id = operation_id
        self.name = name
        self.attempt = attempt
        self.execution_arn = execution_arn
        self.cancellation = cancellation
        self._base_logger = logger
        self._logger: DurableLogger | None = None

    @property
    def logger(self) -> DurableLogger:
        """The step's logger (records carry ``operationId``, ``operationName`` and ``attempt``)."""
        if self._logger is None:
            self._logger = self._base_logger.bind(
                operationId=self.operation_id, operationName=self.name, attempt=self.attempt
            )
        return self._logger

    @property
    def cancelled(self) -> bool:
        """True once the invocation is shutting down (deadline near, or the workflow no longer needs this)."""
        return self.cancellation.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`StepCancelledError` if :attr:`cancelled`; call it between units of work."""
        if self.cancellation.is_set():
            raise StepCancelledError(f"step {self.name or self.operation_id} was cancelled: the invocation is ending")

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early on cancellation; returns True if cancelled."""
        return self.cancellation.wait(seconds)

    def __repr__(self) -> str:
        return f"StepContext(name={self.name!r}, attempt={self.attempt}, operation_id={self.operation_id!r})"


_current_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("replayflow_step", default=None)


def step_context() -> StepContext:
    """The context of the step body running on this thread.

    Raises ``RuntimeError`` outside a step body (workflow code must not depend on it: it does not run on
    replay).
    """
    current = _current_step.get()
    if current is None:
        raise RuntimeError("replayflow.step_context() is only available inside a running step body")
    return current


@attrs.frozen
class StepOptions:
    """A step's options, shared between steps that use the defaults."""

    retry: RetryStrategy | None
    semantics: StepSemantics
    serdes: Any
    #: ``None``: the invocation's setting (``@durable(pipelined=...)``)
    pipelined: bool | None = None


DEFAULT_OPTIONS = StepOptions(None, StepSemantics.AT_LEAST_ONCE_PER_RETRY, None)
_DEFAULT_RETRY = RetryPresets.default()


def _serdes_for(fn: Callable[..., Any], serdes: Any, result_type: Any) -> Any:
    if serdes is not None:
        return serdes
    if result_type is not None:
        return typed_serdes(result_type if needs_structuring(result_type) else None)
    return serdes_for(fn)


def default_name(fn: Callable[..., Any]) -> str | None:
    """A function's ``__name__``; ``None`` for lambdas and nameless callables."""
    target = getattr(fn, "func", fn)
    name = getattr(target, "__name__", None)
    return None if name is None or name == "<lambda>" else name


class Step(Operation[T]):
    """``ctx.step(fn, *args, **kwargs)``: see the module docstring."""

    __slots__ = ()
    _fields = ("fn", "args", "kwargs", "name", "options", "serdes")
    fn: Callable[..., T] = field(0)
    args: tuple[Any, ...] = field(1)
    kwargs: dict[str, Any] = field(2)
    name: str | None = field(3)
    options: StepOptions = field(4)
    serdes: Any = field(5)

    def __new__(
        cls,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
        options: StepOptions = DEFAULT_OPTIONS,
        result_type: Any = None,
    ) -> Step[T]:
        return tuple.__new__(cls, (fn, args, kwargs, name, options, _serdes_for(fn, options.serdes, result_type)))

    @staticmethod
    def make(
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        name: str | None,
        retry: RetryStrategy | None,
        semantics: StepSemantics,
        serdes: SerDes[Any] | None,
        result_type: Any,
        pipelined: bool | None = None,
    ) -> Step[T]:
        """Validate the arguments of ``ctx.step`` and build the descriptor."""
        if not callable(fn):
            raise ValidationError(f"ctx.step needs a callable, got {fn!r}")
        if name is not None and not isinstance(name, str):
            raise ValidationError(f"a step name must be a str, got {name!r}")
        if name:
            check_name(name)
        if retry is not None and not callable(retry):
            raise ValidationError(f"retry must be a retry strategy (a callable), got {retry!r}")
        if not isinstance(semantics, StepSemantics):
            raise ValidationError(f"semantics must be a StepSemantics, got {semantics!r}")
        if pipelined is not None and not isinstance(pipelined, bool):
            raise ValidationError(f"pipelined must be True, False or None, got {pipelined!r}")
        if pipelined and semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
            raise ValidationError("an at-most-once step cannot be pipelined: its START must be durable first")
        if name is None:
            name = default_name(fn)
        if (
            retry is None
            and semantics is StepSemantics.AT_LEAST_ONCE_PER_RETRY
            and serdes is None
            and pipelined is None
        ):
            options = DEFAULT_OPTIONS
        else:
            options = StepOptions(retry, semantics, serdes, pipelined)
        return Step(fn, args, kwargs, name, options, result_type)

    # -- interpretation -----------------------------------------------------------------------------------

    def _run(self, it: Interpreter, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "STEP", "Step", self.name)
        if rec is None:
            return self._attempt(it, frame, op_id, 1, True)
        status = rec["Status"]
        if status == "SUCCEEDED":
            details = rec.get("StepDetails")
            payload = details.get("Result") if details else None
            serdes = self[5]
            if serdes is DEFAULT_SERDES and payload is not None and len(payload) < SHORT_PAYLOAD:
                try:
                    value = _orjson_loads(payload)  # short plain JSON: the common case on every replay
                    if type(value) is not dict:  # a dict may be an official SDK envelope: decode() reads it
                        return value
                except ValueError:
                    pass  # decode() says what is wrong
            return it.decode(serdes, payload, op_id, self)
        if status == "READY":
            return self._attempt(it, frame, op_id, _attempts(rec) + 1, True)
        if status == "STARTED":
            attempt = _attempts(rec) + 1
            if self.options.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
                interrupted = StepInterruptedError(
                    f"step {self._what()} was interrupted during attempt {attempt} and is at-most-once: "
                    f"it is not run again",
                    error_type=error_type_name(StepInterruptedError()),
                    operation_id=op_id,
                    operation_name=self.name,
                )
                return self._failed(it, frame, op_id, attempt, interrupted)
            return self._attempt(it, frame, op_id, attempt, False)
        if status == "PENDING":
            return self._await_retry(it, frame, op_id)
        raise Throw(self._recorded_error(rec, op_id))

    def _await_retry(self, it: Interpreter, frame: Frame, op_id: str) -> Any:
        """Park until the service makes the step READY (its retry delay is over); then the next attempt."""
        return it.wait_for_ready(frame, op_id, lambda rec: self._attempt(it, frame, op_id, _attempts(rec) + 1, True))

    def _what(self) -> str:
        return repr(self.name) if self.name else "(unnamed step)"

    def _unserializable(self, error: SerDesError) -> SerDesError:
        """The step's result cannot be stored: name the step and the function that returned it."""
        fn = getattr(self.fn, "func", self.fn)
        code = getattr(fn, "__code__", None)
        where = f" at {code.co_filename}:{code.co_firstlineno}" if code is not None else ""
        return SerDesError(
            f"step {self._what()} returned a value that cannot be checkpointed "
            f"({getattr(fn, '__qualname__', repr(fn))}{where}): {error}. Return JSON data, a dataclass or "
            f"an attrs class (annotate the return type), or pass serdes= to ctx.step"
        )

    def describe(self) -> str:
        """How errors name this step."""
        return f"step {self._what()}"

    def _info(self, it: Interpreter, frame: Frame, op_id: str) -> OperationInfo:
        return OperationInfo(it.arn, op_id, "STEP", "Step", self.name, frame.scope.parent_id)

    def _recorded_error(self, rec: Any, op_id: str) -> StepError:
        details = rec.get("StepDetails") or {}
        error = details.get("Error")
        return _error_class(error).from_error_object(
            error,
            operation_id=op_id,
            name=self.name,
            default_message=f"step {self._what()} ended with status {rec['Status']}",
        )

    def _update(self, frame: Frame, op_id: str, action: str) -> dict[str, Any]:
        return update("STEP", action, op_id, "Step", self.name, frame.scope.parent_id)

    def _attempt(self, it: Interpreter, frame: Frame, op_id: str, attempt: int, start: bool) -> Any:
        if frame.cancel.is_set():  # the invocation is ending (or the branch is orphaned): start nothing new
            return it.wait_for(frame, op_id, _still_pending)
        hooks = it.hooks
        info = self._info(it, frame, op_id) if hooks.active else None
        if start:
            it.enqueue(self._update(frame, op_id, "START"))
            if info is not None and attempt == 1:
                hooks.emit("on_operation_start", info)
        if self.options.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
            it.flush()  # the START must be durable before the body may run
        else:
            it.before_side_effect(self.options.pipelined)
        context = StepContext(op_id, self.name, attempt, it.logger, it.arn, frame.cancel)

        def work() -> tuple[str | None, Any]:
            if info is not None:
                hooks.emit("on_attempt_start", info, attempt)
            token = _current_step.set(context)
            try:
                value = self.fn(*self.args, **self.kwargs)
                if hasattr(value.__class__, "__await__"):  # an async def body: await it (_async.py)
                    value = settle(it, value, context.cancellation, self.describe)
            finally:
                _current_step.reset(token)
            try:
                return round_trip(self.serdes, value, it.serdes_context(op_id), self._what())
            except SerDesError as exc:
                if isinstance(exc, RetryableSerDesError):
                    raise
                raise self._unserializable(exc) from exc

        def finish(ok: bool, outcome: Any) -> Any:
            if info is not None:
                hooks.emit("on_attempt_end", info, attempt, "SUCCEEDED" if ok else "FAILED", None if ok else outcome)
            if not ok:
                return self._failed(it, frame, op_id, attempt, outcome)
            payload, value = outcome
            update = self._update(frame, op_id, "SUCCEED")
            if payload is not None:
                update["Payload"] = payload
            it.enqueue(update)
            if info is not None:
                hooks.emit("on_operation_end", info, "SUCCEEDED", None)
            return value

        return it.run_side_effect(frame, work, finish, op_id, attempt)

    def _failed(self, it: Interpreter, frame: Frame, op_id: str, attempt: int, error: BaseException) -> Any:
        if isinstance(error, RetryableSerDesError):
            raise error  # infrastructure: let Lambda retry the invocation
        if isinstance(error, StepCancelledError) and frame.cancel.is_set():
            return it.wait_for(frame, op_id, _still_pending)  # interrupted by shutdown: nothing recorded
        permanent = isinstance(error, SerDesError | PayloadTooLargeError)
        retry = self.options.retry or _DEFAULT_RETRY
        delay: int | None = None
        if not permanent:
            try:
                delay = delay_seconds(retry(error, attempt))
            except Exception as strategy_error:
                strategy_error.__context__ = error
                error = strategy_error
        err = error_object(error)
        if delay is not None:
            update = self._update(frame, op_id, "RETRY")
            update["Error"] = err
            update["StepOptions"] = {"NextAttemptDelaySeconds": min(delay, MAX_WAIT_SECONDS)}
            it.enqueue(update)
            return self._await_retry(it, frame, op_id)
        update = self._update(frame, op_id, "FAIL")
        update["Error"] = err
        it.enqueue(update)
        if it.hooks.active:
            it.hooks.emit("on_operation_end", self._info(it, frame, op_id), "FAILED", error)
        raise Throw(_error_class(err).from_error_object(err, operation_id=op_id, name=self.name))


_INTERRUPTED = "replayflow.StepInterruptedError"


def _error_class(error: Any) -> type[StepError]:
    """The class a step's recorded ErrorObject raises: an interrupted at-most-once step stays interrupted."""
    return StepInterruptedError if error and error.get("ErrorType") == _INTERRUPTED else StepError


def _attempts(rec: Any) -> int:
    details = rec.get("StepDetails")
    return (details.get("Attempt") or 0) if details else 0


def _still_pending(rec: Any) -> Any:
    return BLOCKED


_SCALARS = frozenset({str, int, bool, type(None)})


def round_trip(serdes: Any, value: Any, context: SerDesContext, what: str) -> tuple[str | None, Any]:
    """``(payload, value as replay will see it)``: the value deserialized from its own payload.

    For plain strings, ints, bools and None under the default serdes the round trip is the identity and is
    skipped.
    """
    payload = _serialize(serdes, value, context, what)
    if payload is None:
        return None, None
    if serdes is DEFAULT_SERDES and type(value) in _SCALARS:
        return payload, value
    try:
        return payload, serdes.deserialize(payload, context)
    except SerDesError:
        raise
    except Exception as exc:
        raise SerDesError(f"cannot read back the result of {what}: {exc}") from exc


def _serialize(serdes: Any, value: Any, context: SerDesContext, what: str) -> str | None:
    try:
        payload = serdes.serialize(value, context)
    except SerDesError:
        raise
    except Exception as exc:
        raise SerDesError(f"cannot serialize the result of {what}: {exc}") from exc
    if payload is not None and not isinstance(payload, str):
        raise SerDesError(f"{type(serdes).__name__}.serialize must return a str, got {type(payload).__name__}")
    if (
        payload is not None
        and len(payload) > CHECKPOINT_PAYLOAD_LIMIT_BYTES // 4
        and (len(payload.encode()) > CHECKPOINT_PAYLOAD_LIMIT_BYTES)
    ):
        raise PayloadTooLargeError(
            f"the result of {what} is {len(payload.encode()):,} bytes once serialized; a checkpoint holds at "
            f"most {CHECKPOINT_PAYLOAD_LIMIT_BYTES:,}. Store large data elsewhere (e.g. S3) and return a "
            f"reference, or build it in a child context (results over the limit are rebuilt on replay)."
        )
    return payload


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


def _escaped(obj: ErrorObjectDict) -> ErrorObjectDict:
    """``obj`` with characters JSON cannot carry (lone surrogates) written as ``\\udcff`` escapes."""

    def fix(text: str) -> str:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    fixed: dict[str, Any] = {
        key: [fix(line) for line in value]
        if isinstance(value, list)
        else fix(value)
        if isinstance(value, str)
        else value
        for key, value in obj.items()
    }
    return fixed  # type: ignore[return-value]


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

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

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from orjson import loads as _orjson_loads

from replayflow._errors import (
    PayloadTooLargeError,
    RetryableSerDesError,
    SerDesError,
    StepCancelledError,
    StepError,
    StepInterruptedError,
    ValidationError,
    error_type_name,
)
from replayflow._frozen import Record, init
from replayflow._retry import RetryPresets, RetryStrategy, delay_seconds
from replayflow._serdes import (
    DEFAULT_SERDES,
    SHORT_PAYLOAD,
    SerDes,
    needs_structuring,
    serdes_for,
    typed_serdes,
)
from replayflow._wire import (
    FAILURE_STATUSES,
    MAX_WAIT_SECONDS,
    ErrorObjectDict,
    OperationDict,
    OperationUpdateDict,
    Status,
)

from .base import DurableOperation, Host, Throw, _rebuild, check_name, default_name, field, still_pending
from .body import StepContext, call_body
from .outcome import error_object, fail, read_back, serialize, update

if TYPE_CHECKING:
    from replayflow._interpreter import Frame

__all__ = ["DEFAULT_CONFIG", "DefaultSerdesStep", "Step", "StepConfig", "StepSemantics", "make_step", "step_class"]

T = TypeVar("T")


class StepSemantics(enum.Enum):
    """How often a step body may run per retry attempt."""

    #: START may travel with the result; an attempt interrupted by a crash runs again (default).
    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"
    #: START is confirmed before the body runs; an interrupted attempt is never run again.
    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"


_AT_LEAST_ONCE = StepSemantics.AT_LEAST_ONCE_PER_RETRY


class StepConfig(Record):
    """A step's options (``ctx.step``'s keywords), shared between steps that use the defaults.

    (Not the wire's ``StepOptions``, the RETRY update's delay: ``_wire_typed.StepOptions``.)
    """

    __slots__ = ("pipelined", "retry", "semantics", "serdes")
    retry: RetryStrategy | None
    semantics: StepSemantics
    serdes: SerDes[Any] | None
    #: ``None``: the invocation's setting (``@durable(pipelined=...)``)
    pipelined: bool | None

    def __init__(
        self,
        retry: RetryStrategy | None,
        semantics: StepSemantics,
        serdes: SerDes[Any] | None,
        pipelined: bool | None = None,
    ) -> None:
        init(self, "retry", retry)
        init(self, "semantics", semantics)
        init(self, "serdes", serdes)
        init(self, "pipelined", pipelined)

    @staticmethod
    def make(
        retry: RetryStrategy | None, semantics: StepSemantics, serdes: SerDes[Any] | None, pipelined: bool | None
    ) -> StepConfig:
        """Validate ``ctx.step``'s options (the defaults give :data:`DEFAULT_CONFIG`)."""
        _check_options(retry, semantics, pipelined)
        if retry is None and semantics is _AT_LEAST_ONCE and serdes is None and pipelined is None:
            return DEFAULT_CONFIG
        return StepConfig(retry, semantics, serdes, pipelined)


def _check_options(retry: RetryStrategy | None, semantics: StepSemantics, pipelined: bool | None) -> None:
    if retry is not None and not callable(retry):
        raise ValidationError(f"retry must be a retry strategy (a callable), got {retry!r}")
    if not isinstance(semantics, StepSemantics):
        raise ValidationError(f"semantics must be a StepSemantics, got {semantics!r}")
    if pipelined is not None and not isinstance(pipelined, bool):
        raise ValidationError(f"pipelined must be True, False or None, got {pipelined!r}")
    if pipelined and semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
        raise ValidationError("an at-most-once step cannot be pipelined: its START must be durable first")


DEFAULT_CONFIG = StepConfig(None, _AT_LEAST_ONCE, None)
_SUCCEEDED = Status.SUCCEEDED  # a module global: the replay hot path reads it once per operation
_DEFAULT_RETRY = RetryPresets.default()


def _serdes_for(fn: Callable[..., Any], serdes: SerDes[Any] | None, result_type: object) -> SerDes[Any]:
    if serdes is not None:
        return serdes
    chosen: SerDes[Any] = (
        serdes_for(fn) if result_type is None else typed_serdes(result_type if needs_structuring(result_type) else None)
    )
    return chosen


class Step(DurableOperation[T]):
    """``ctx.step(fn, *args, **kwargs)``: see the module docstring."""

    __slots__ = ()
    _fields = ("fn", "args", "kwargs", "name", "options", "serdes")
    fn: Callable[..., T] = field(0)
    args: tuple[Any, ...] = field(1)
    kwargs: dict[str, Any] = field(2)
    name: str | None = field(3)
    options: StepConfig = field(4)
    serdes: SerDes[Any] = field(5)

    # (No ``__new__`` of its own: ``Step(items)`` and ``DefaultSerdesStep(items)`` are CPython's C tuple
    # constructor, called directly, as ``ctx.step`` does on every replayed operation; ``Step.of`` checks.)

    @staticmethod
    def of(
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
        options: StepConfig = DEFAULT_CONFIG,
        result_type: object = None,
    ) -> Step[T]:
        """A step of ``fn(*args, **kwargs)`` (a :class:`DefaultSerdesStep` when its serdes is the default)."""
        serdes = _serdes_for(fn, options.serdes, result_type)
        return step_class(serdes)((fn, args, kwargs, name, options, serdes))

    # -- interpretation: the module docstring's table, as ``_REPLAY`` -------------------------------------

    def run(self, it: Host, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "STEP", "Step", self.name)
        if rec is None:
            return self._attempt(it, frame, op_id, 1, True)
        status = rec["Status"]
        if status != _SUCCEEDED:
            return _REPLAY.get(status, Step._raise_recorded)(self, it, frame, op_id, rec)
        # SUCCEEDED (the table's first row), inline: it runs once per operation on every replay
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

    def _ready(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        return self._attempt(it, frame, op_id, _attempts(rec) + 1, True)

    def _interrupted(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        attempt = _attempts(rec) + 1
        if self.options.semantics is not StepSemantics.AT_MOST_ONCE_PER_RETRY:
            return self._attempt(it, frame, op_id, attempt, False)
        interrupted = StepInterruptedError(
            f"step {self._what()} was interrupted during attempt {attempt} and is at-most-once: it is not run again",
            error_type=error_type_name(StepInterruptedError()),
            operation_id=op_id,
            operation_name=self.name,
        )
        return self._failed(it, frame, op_id, attempt, interrupted)

    def _pending(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        return self._await_retry(it, frame, op_id)

    def _raise_recorded(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        details = rec.get("StepDetails") or {}
        error = details.get("Error")
        raise Throw(
            _error_class(error).from_error_object(
                error,
                operation_id=op_id,
                name=self.name,
                default_message=f"step {self._what()} ended with status {rec['Status']}",
            )
        )

    def _await_retry(self, it: Host, frame: Frame, op_id: str) -> Any:
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

    def _update(self, frame: Frame, op_id: str, action: str, payload: str | None = None) -> OperationUpdateDict:
        return update("STEP", action, op_id, "Step", self.name, frame.scope.parent_id, payload)

    def _attempt(self, it: Host, frame: Frame, op_id: str, attempt: int, begin: bool) -> Any:
        if frame.cancel.is_set():  # the invocation is ending (or the branch is orphaned): start nothing new
            return it.wait_for(frame, op_id, still_pending)
        hooks = it.hooks
        if begin:
            it.enqueue(self._update(frame, op_id, "START"))
            if attempt == 1 and hooks.active:  # (outcome.start, inline: once per step of every first run)
                it.operation_started(frame, op_id, "STEP", "Step", self.name)
        at_most_once = self.options.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
        if at_most_once:
            it.flush()  # the START must be durable before the body may run
        else:
            it.before_side_effect(self.options.pipelined)
        context = StepContext(op_id, self.name, attempt, it, frame.cancel)
        info = it.info(frame, op_id, "STEP", "Step", self.name) if hooks.active else None

        def work() -> tuple[str | None, Any]:
            if info is not None:
                hooks.emit("on_attempt_start", info, attempt)
            value = call_body(it, context, self.describe, self.fn, self.args, self.kwargs)
            try:
                return _round_trip(self.serdes, value, it, op_id, f"the result of {self._what()}")
            except SerDesError as exc:
                if isinstance(exc, RetryableSerDesError):
                    raise
                raise self._unserializable(exc) from exc

        def finish(ok: bool, outcome: Any) -> Any:
            if at_most_once:  # its outcome is durable before anything after it runs: a crash would make it unknown
                it.barrier()
            if info is not None:
                hooks.emit("on_attempt_end", info, attempt, "SUCCEEDED" if ok else "FAILED", None if ok else outcome)
            if not ok:
                return self._failed(it, frame, op_id, attempt, outcome)
            payload, value = outcome
            it.enqueue(self._update(frame, op_id, "SUCCEED", payload))
            if info is not None:
                it.operation_ended(frame, op_id, "STEP", "Step", self.name, "SUCCEEDED", None)
            return value

        return it.run_side_effect(frame, work, finish, op_id, attempt)

    def _failed(self, it: Host, frame: Frame, op_id: str, attempt: int, error: BaseException) -> Any:
        if isinstance(error, RetryableSerDesError):
            raise error  # infrastructure: let Lambda retry the invocation
        if isinstance(error, StepCancelledError) and frame.cancel.is_set():
            return it.wait_for(frame, op_id, still_pending)  # interrupted by shutdown: nothing recorded
        delay: int | None = None
        if not isinstance(error, SerDesError | PayloadTooLargeError):  # permanent: never retried
            try:
                delay = delay_seconds((self.options.retry or _DEFAULT_RETRY)(error, attempt))
            except Exception as strategy_error:
                strategy_error.__context__ = error
                error = strategy_error
        err = error_object(error)
        if delay is not None:
            retry = self._update(frame, op_id, "RETRY")
            retry["Error"] = err
            retry["StepOptions"] = {"NextAttemptDelaySeconds": min(delay, MAX_WAIT_SECONDS)}
            it.enqueue(retry)
            return self._await_retry(it, frame, op_id)
        fail(it, frame, self._update(frame, op_id, "FAIL"), self.name, err, error)
        raise Throw(_error_class(err).from_error_object(err, operation_id=op_id, name=self.name))


class DefaultSerdesStep(Step[T]):
    """A :class:`Step` with the default serdes, as most are: the replay fast path (``Interpreter._drive``)
    knows it by its class alone. ``Step.of(...)`` and ``ctx.step`` make one whenever they can; it shows as
    ``Step`` and pickles as a plain :class:`Step`."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (Step, tuple(tuple.__iter__(self))))


DefaultSerdesStep.__name__ = "Step"


def step_class(serdes: SerDes[Any]) -> type[Step[Any]]:
    """The class of a step with ``serdes``: :class:`DefaultSerdesStep` for the default one."""
    return DefaultSerdesStep if serdes is DEFAULT_SERDES else Step


def make_step(
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    name: str | None,
    retry: RetryStrategy | None,
    semantics: StepSemantics,
    serdes: SerDes[Any] | None,
    result_type: object,
    pipelined: bool | None,
) -> Step[T]:
    """``ctx.step``'s descriptor, its arguments validated.

    ``DurableContext.step`` builds the common case itself (no options, a str name or none: the same
    descriptor as this gives, without this call, as it runs once per operation on every replay).
    """
    if not callable(fn):
        raise ValidationError(f"ctx.step needs a callable, got {fn!r}")
    if name is not None and not isinstance(name, str):
        raise ValidationError(f"a step name must be a str, got {name!r}")
    if name:
        check_name(name)
    config = StepConfig.make(retry, semantics, serdes, pipelined)
    return Step.of(fn, args, kwargs, default_name(fn) if name is None else name, config, result_type)


#: The step's replay table (the module docstring's), status -> what to do; other statuses raise the
#: recorded error. SUCCEEDED is ``Step.run``'s own first case: the replay hot path takes no extra call.
_REPLAY: dict[str, Callable[[Step[Any], Host, Frame, str, OperationDict], Any]] = {
    # Status.SUCCEEDED: inline in Step.run (the replay hot path)
    **dict.fromkeys(FAILURE_STATUSES, Step._raise_recorded),
    Status.PENDING: Step._pending,
    Status.READY: Step._ready,
    Status.STARTED: Step._interrupted,
}

_INTERRUPTED = "replayflow.StepInterruptedError"


def _error_class(error: ErrorObjectDict | None) -> type[StepError]:
    """The class a step's recorded ErrorObject raises: an interrupted at-most-once step stays interrupted."""
    return StepInterruptedError if error and error.get("ErrorType") == _INTERRUPTED else StepError


def _attempts(rec: OperationDict) -> int:
    details = rec.get("StepDetails")
    return (details.get("Attempt") or 0) if details else 0


_SCALARS = frozenset({str, int, bool, type(None)})


def _round_trip(serdes: SerDes[Any], value: Any, it: Host, op_id: str, what: str) -> tuple[str | None, Any]:
    """``(payload, value as replay will see it)``: the value deserialized from its own payload.

    For plain strings, ints, bools and None under the default serdes the round trip is the identity and is
    skipped.
    """
    context = it.serdes_context(op_id)
    payload = serialize(serdes, value, context, what, checkpoint=True)
    if payload is None:
        return None, None
    if serdes is DEFAULT_SERDES and type(value) in _SCALARS:
        return payload, value
    return payload, read_back(serdes, payload, context, what)

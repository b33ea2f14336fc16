"""``ctx.wait_for_condition``: poll ``check(state) -> state`` until a wait strategy says stop.

A STEP operation with SubType ``WaitForCondition``. Each poll runs ``check`` with the previous state (the
initial state first), then asks the wait strategy ``(state, attempt) -> delay or None``: ``None`` means the
condition holds (SUCCEED with the final state, which the workflow receives); a delay checkpoints RETRY with
the new state, and the invocation suspends until the service re-invokes. A strategy that gives up raises
:class:`WaitForConditionError`, which carries the last state. A ``check`` that raises fails the operation
with :class:`StepError` (polls are not retried).

=========== =====================================================================================
no record   START, poll from the initial state
SUCCEEDED   return the recorded final state
READY       the poll delay is over: poll again from the recorded state (START anew)
STARTED     a poll was interrupted: poll again from the recorded state
PENDING     a poll delay is running: wait for the service to make it READY
otherwise   raise the recorded error (:class:`WaitForConditionError` if the strategy gave up)
=========== =====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from replayflow._errors import RetryableSerDesError, StepError, ValidationError, WaitForConditionError
from replayflow._frozen import Record, init
from replayflow._retry import Jitter, RetryPolicy, delay_seconds
from replayflow._serdes import DEFAULT_SERDES, SerDes
from replayflow._wire import (
    FAILURE_STATUSES,
    MAX_WAIT_SECONDS,
    ErrorObjectDict,
    OperationDict,
    OperationUpdateDict,
    Status,
)

from .base import DurableOperation, Host, Throw, field, still_pending
from .body import StepContext, call_body
from .outcome import error_object, fail, serialize, start, update

if TYPE_CHECKING:
    from replayflow._interpreter import Frame

__all__ = ["WaitForCondition", "WaitStrategy"]

S = TypeVar("S")

_ERROR_TYPE = "replayflow.WaitForConditionError"


class WaitStrategy(Record, kw_only=True):
    """Poll until ``is_done(state)`` with backoff between polls; give up after ``max_attempts`` polls.

    The delay after poll ``n`` is ``min(initial_delay * backoff_rate ** (n - 1), max_delay)``, jittered and
    rounded up to whole seconds. Without ``is_done`` it polls until it gives up.
    """

    __slots__ = ("backoff_rate", "initial_delay", "is_done", "jitter", "max_attempts", "max_delay")
    is_done: Callable[[Any], bool] | None
    max_attempts: int
    initial_delay: float
    max_delay: float
    backoff_rate: float
    jitter: Jitter

    def __init__(
        self,
        *,
        is_done: Callable[[Any], bool] | None = None,
        max_attempts: int = 60,
        initial_delay: float = 5.0,
        max_delay: float = 300.0,
        backoff_rate: float = 1.5,
        jitter: Jitter = Jitter.FULL,
    ) -> None:
        init(self, "is_done", is_done)
        init(self, "max_attempts", max_attempts)
        init(self, "initial_delay", initial_delay)
        init(self, "max_delay", max_delay)
        init(self, "backoff_rate", backoff_rate)
        init(self, "jitter", jitter)
        # RetryPolicy validates the same numbers the same way
        RetryPolicy(
            max_attempts=self.max_attempts,
            initial_delay=self.initial_delay,
            max_delay=self.max_delay,
            backoff_rate=self.backoff_rate,
            jitter=self.jitter,
        )

    def __call__(self, state: object, attempt: int) -> int | None:
        if self.is_done is not None and self.is_done(state):
            return None
        if attempt >= self.max_attempts:
            raise WaitForConditionError(f"the condition was still not met after {attempt} attempts")
        base = min(self.initial_delay * self.backoff_rate ** (attempt - 1), self.max_delay)
        return RetryPolicy(
            max_attempts=self.max_attempts,
            initial_delay=max(base, 1e-9),
            max_delay=max(base, 1e-9),
            backoff_rate=1.0,
            jitter=self.jitter,
        ).delay(1)


class WaitForCondition(DurableOperation[S]):
    """See the module docstring."""

    __slots__ = ()
    _fields = ("check", "initial_state", "strategy", "name", "serdes")
    check: Callable[[Any], Any] = field(0)
    initial_state: object = field(1)
    strategy: Callable[[Any, int], object] = field(2)
    name: str | None = field(3)
    serdes: SerDes[Any] = field(4)

    def __new__(
        cls,
        check: Callable[[Any], Any],
        initial_state: object,
        strategy: Callable[[Any, int], object],
        name: str | None,
        serdes: SerDes[Any] | None,
    ) -> WaitForCondition[S]:
        if not callable(check):
            raise ValidationError(f"wait_for_condition needs a callable check, got {check!r}")
        if not callable(strategy):
            raise ValidationError(f"wait_strategy must be callable (state, attempt) -> delay or None, got {strategy!r}")
        return tuple.__new__(cls, (check, initial_state, strategy, name, serdes or DEFAULT_SERDES))

    # -- interpretation: the module docstring's table, as ``_REPLAY`` -------------------------------------

    def run(self, it: Host, frame: Frame) -> Any:
        op_id, rec = it.claim(frame, "STEP", "WaitForCondition", self.name)
        if rec is None:
            return self._poll(it, frame, op_id, 1, self.initial_state, True)
        return _REPLAY.get(rec["Status"], WaitForCondition._raise_recorded)(self, it, frame, op_id, rec)

    def _what(self) -> str:
        return f"wait_for_condition {self.name!r}"

    def _succeeded(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        details = rec.get("StepDetails") or {}
        return it.decode(self.serdes, details.get("Result"), op_id, self._what())

    def _next_poll(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        """Poll again from the state the last poll recorded (a READY poll starts anew, a STARTED one resumes)."""
        details = rec.get("StepDetails") or {}
        result = details.get("Result")
        state = it.decode(self.serdes, result, op_id, self._what()) if result is not None else self.initial_state
        attempt = (details.get("Attempt") or 0) + 1
        return self._poll(it, frame, op_id, attempt, state, rec["Status"] == Status.READY)

    def _pending(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        return self._await_poll(it, frame, op_id)

    def _await_poll(self, it: Host, frame: Frame, op_id: str) -> Any:
        """Park until the service makes the condition READY (the poll delay is over); then poll."""
        return it.wait_for_ready(frame, op_id, lambda rec: self._next_poll(it, frame, op_id, rec))

    def _raise_recorded(self, it: Host, frame: Frame, op_id: str, rec: OperationDict) -> Any:
        details = rec.get("StepDetails") or {}
        error = details.get("Error") or {}
        if error.get("ErrorType") == _ERROR_TYPE:
            data = error.get("ErrorData")
            last = it.decode(self.serdes, data, op_id, "the last state") if data is not None else None
            raise Throw(
                WaitForConditionError.from_error_object(
                    error, operation_id=op_id, name=self.name, last_state=last, attempts=details.get("Attempt")
                )
            )
        message = f"wait_for_condition {self.name!r} ended with status {rec['Status']}"
        raise Throw(StepError.from_error_object(error, operation_id=op_id, name=self.name, default_message=message))

    def _update(self, frame: Frame, op_id: str, action: str, payload: str | None = None) -> OperationUpdateDict:
        return update("STEP", action, op_id, "WaitForCondition", self.name, frame.scope.parent_id, payload)

    def _poll(self, it: Host, frame: Frame, op_id: str, attempt: int, state: object, begin: bool) -> Any:
        if frame.cancel.is_set():
            return it.wait_for(frame, op_id, still_pending)
        if begin:
            if attempt == 1:
                start(it, frame, self._update(frame, op_id, "START"), self.name)
            else:
                it.enqueue(self._update(frame, op_id, "START"))
        it.before_side_effect()
        context = StepContext(op_id, self.name, attempt, it, frame.cancel)
        what = self._what()
        hooks = it.hooks
        info = it.info(frame, op_id, "STEP", "WaitForCondition", self.name) if hooks.active else None

        def work() -> tuple[Any, str | None]:
            if info is not None:
                hooks.emit("on_attempt_start", info, attempt)
            new_state = call_body(it, context, self._what, self.check, (state,), {})
            return new_state, serialize(
                self.serdes, new_state, it.serdes_context(op_id), f"the result of {what}", checkpoint=True
            )

        def finish(ok: bool, outcome: Any) -> Any:
            if info is not None:
                hooks.emit("on_attempt_end", info, attempt, "SUCCEEDED" if ok else "FAILED", None if ok else outcome)
            if not ok:
                return self._check_failed(it, frame, op_id, outcome)
            return self._decide(it, frame, op_id, attempt, *outcome)

        return it.run_side_effect(frame, work, finish, op_id, attempt)

    def _decide(self, it: Host, frame: Frame, op_id: str, attempt: int, state: Any, payload: str | None) -> Any:
        """Ask the wait strategy about the new state: SUCCEED, RETRY after its delay, or give up."""
        try:
            delay = delay_seconds(self.strategy(state, attempt))
        except WaitForConditionError as gave_up:
            return self._gave_up(it, frame, op_id, attempt, state, payload, gave_up)
        except Exception as error:
            return self._check_failed(it, frame, op_id, error)
        if delay is None:
            it.enqueue(self._update(frame, op_id, "SUCCEED", payload))
            it.operation_ended(frame, op_id, "STEP", "WaitForCondition", self.name, "SUCCEEDED", None)
            if payload is None:
                return None
            return it.decode(self.serdes, payload, op_id, self._what())
        retry = self._update(frame, op_id, "RETRY", payload)
        retry["StepOptions"] = {"NextAttemptDelaySeconds": min(delay, MAX_WAIT_SECONDS)}
        it.enqueue(retry)
        return self._await_poll(it, frame, op_id)

    def _check_failed(self, it: Host, frame: Frame, op_id: str, error: BaseException) -> Any:
        if isinstance(error, RetryableSerDesError):
            raise error
        err = error_object(error)
        fail(it, frame, self._update(frame, op_id, "FAIL"), self.name, err, error)
        raise Throw(StepError.from_error_object(err, operation_id=op_id, name=self.name))

    def _gave_up(
        self,
        it: Host,
        frame: Frame,
        op_id: str,
        attempt: int,
        state: Any,
        payload: str | None,
        gave_up: WaitForConditionError,
    ) -> Any:
        message = str(gave_up) or f"wait_for_condition {self.name!r} gave up after {attempt} attempts"
        err: ErrorObjectDict = {"ErrorType": _ERROR_TYPE, "ErrorMessage": message}
        if payload is not None:
            err["ErrorData"] = payload
        fail(it, frame, self._update(frame, op_id, "FAIL"), self.name, err, gave_up)
        last = it.decode(self.serdes, payload, op_id, "the last state") if payload is not None else state
        raise Throw(
            WaitForConditionError(
                message,
                error_type=_ERROR_TYPE,
                error_data=payload,
                operation_id=op_id,
                operation_name=self.name,
                last_state=last,
                attempts=attempt,
            )
        )


#: The condition's replay table (the module docstring's), status -> what to do; other statuses raise the
#: recorded error.
_REPLAY: dict[str, Callable[[WaitForCondition[Any], Host, Frame, str, OperationDict], Any]] = {
    Status.SUCCEEDED: WaitForCondition._succeeded,
    **dict.fromkeys(FAILURE_STATUSES, WaitForCondition._raise_recorded),
    Status.READY: WaitForCondition._next_poll,
    Status.STARTED: WaitForCondition._next_poll,
    Status.PENDING: WaitForCondition._pending,
}

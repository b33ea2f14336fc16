"""``ctx``: the object a workflow builds its operations with."""

from __future__ import annotations

import datetime as _dt
import random as _random
import uuid as _uuid
from collections.abc import Callable, Coroutine, Generator, Sequence
from sys import _getframe
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack, overload

from ._duration import Duration, to_seconds
from ._envelope import PayloadFormat
from ._errors import ValidationError
from ._logging import DurableLogger
from ._ops.base import check_name, default_name
from ._ops.batch import BatchConfig, CompletionConfig, MapOp, NestingType, ParallelBranch, ParallelOp
from ._ops.callback import CreateCallback, wait_for_callback_op
from ._ops.child import ChildContext
from ._ops.condition import WaitForCondition
from ._ops.invoke import Invoke
from ._ops.step import DEFAULT_CONFIG, Step, StepSemantics, make_step, step_class
from ._ops.wait import Wait
from ._replay_safe import deterministic_random, deterministic_uuid4, now_step
from ._retry import RetryStrategy
from ._serdes import SERDES_BY_CODE, SerDes, serdes_for
from ._unyielded import on_build

if TYPE_CHECKING:
    from ._interpreter import Interpreter, Scope

__all__ = ["DurableContext"]

_AT_LEAST_ONCE = StepSemantics.AT_LEAST_ONCE_PER_RETRY
_NO_FUNCTION = object()  # ``_last_fn`` before the first common step: no argument is this (None could be)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741


class _BatchOptions(TypedDict, total=False):
    """The keywords of :meth:`DurableContext.parallel` (and of ``map``), for its overloads."""

    name: str | None
    max_concurrency: int | None
    completion: CompletionConfig | None
    nesting: NestingType
    serdes: SerDes[Any] | None
    item_serdes: SerDes[Any] | None


class _MapOptions(_BatchOptions, total=False):
    """The keywords of :meth:`DurableContext.map`, for its overloads."""

    item_namer: Callable[[Any, int], str] | None


class DurableContext:
    """Builds the operations a workflow yields; one per workflow, child context and branch.

    Every method returns an immutable operation descriptor; nothing happens until it is yielded::

        value = yield ctx.step(fetch, order_id, name="fetch")            # typed Any
        value = yield from ctx.step(fetch, order_id, name="fetch")       # typed as fetch's return type
    """

    __slots__ = ("_format", "_it", "_last_class", "_last_fn", "_last_serdes", "_logger", "_scope")

    def __init__(self, it: Interpreter, scope: Scope) -> None:
        self._it = it
        self._scope = scope
        self._logger: DurableLogger | None = None
        #: the handler-wide serdes (``@durable(serdes=...)``), or None for replayflow's defaults
        self._format: PayloadFormat | None = getattr(it, "payload_format", None)
        #: the function of the last common step built here (callable) and its serdes: a loop's steps share them
        self._last_fn: object = _NO_FUNCTION
        self._last_serdes: Any = None
        self._last_class: type[Step[Any]] = Step  # DefaultSerdesStep when the serdes is the default

    # -- information ---------------------------------------------------------------------------------------

    @property
    def execution_arn(self) -> str:
        """The durable execution's ARN."""
        return self._it.arn

    @property
    def lambda_context(self) -> Any:
        """The Lambda context object of the current invocation."""
        return self._it.lambda_context

    @property
    def logger(self) -> DurableLogger:
        """A replay-aware logger: records made while replaying are dropped (see ``@durable(log_replay=)``)."""
        if self._logger is None:
            extra = {"parentId": self._scope.prefix} if self._scope.prefix else {}
            self._logger = self._it.logger.scoped(self._scope, self._it.log_replay, **extra)
        return self._logger

    def is_replaying(self) -> bool:
        """True while the code running now already ran in an earlier invocation."""
        return self._scope.replaying

    def _built(self, op: OpT) -> OpT:
        """Note ``op`` as built and not yet yielded (a forgotten ``yield`` is reported; see _unyielded.py)."""
        it = self._it
        if it.unyielded is None and not it.trace_builds:
            it.unyielded = op
        else:
            on_build(it, op, _getframe(2))
        return op

    # -- operations -------------------------------------------------------------------------------------------

    @overload
    def step(  # an async def body: the step gives what the coroutine returns
        self,
        fn: Callable[..., Coroutine[Any, Any, T]],
        /,
        *args: Any,
        name: str | None = None,
        retry: RetryStrategy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serdes: SerDes[Any] | None = None,
        result_type: object = None,
        pipelined: bool | None = None,
        **kwargs: Any,
    ) -> Step[T]: ...

    @overload
    def step(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        name: str | None = None,
        retry: RetryStrategy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serdes: SerDes[Any] | None = None,
        result_type: object = None,
        pipelined: bool | None = None,
        **kwargs: Any,
    ) -> Step[T]: ...

    def step(self, fn: Callable[..., Any], /, *args: Any, name: str | None = None, **options: Any) -> Step[Any]:
        """Run ``fn(*args, **kwargs)`` once and checkpoint its result.

        ``name`` defaults to ``fn.__name__`` (lambdas stay unnamed). ``retry`` is a retry strategy
        (default ``RetryPresets.default()``: 6 attempts with exponential backoff). ``serdes`` replaces the
        JSON serialization; ``result_type`` (default: ``fn``'s return annotation) is what replayed results
        are structured into. Inside ``fn``, :func:`replayflow.step_context` gives the attempt number, the
        operation id, a logger and a cancellation signal. ``pipelined`` (default: ``@durable(pipelined=...)``):
        whether the body may start before the work finished earlier is durable (at-least-once steps only).
        ``fn`` may be an ``async def`` function: it is awaited on the invocation's event loop (see
        ``replayflow/_async.py``).
        """
        # (The options other than ``name`` arrive in ``options`` with ``fn``'s own keyword arguments: the
        # common call, ``ctx.step(fn, x, name=...)``, binds no defaults and its empty dict is the step's.)
        if (
            not options
            and (name is None or name.__class__ is str)
            and (fn is self._last_fn or self._common(fn))  # (never with a payload format: see _common)
        ):  # the common case, built here (make_step gives the same descriptor): it runs on every replay
            step_class = self._last_class  # (read apart: a call of the slot itself is an unspecialized LOAD_METHOD)
            op: Step[Any] = step_class(
                (fn, args, options, default_name(fn) if name is None else name, DEFAULT_CONFIG, self._last_serdes)
            )
        else:
            retry = options.pop("retry", None)
            semantics = options.pop("semantics", _AT_LEAST_ONCE)
            serdes = options.pop("serdes", None)
            result_type = options.pop("result_type", None)
            pipelined = options.pop("pipelined", None)
            if serdes is None and self._format is not None and callable(fn):
                serdes = self._format.for_function(fn, result_type)
            op = make_step(fn, args, options, name, retry, semantics, serdes, result_type, pipelined)
        it = self._it
        if it.unyielded is None and not it.trace_builds:
            it.unyielded = op  # reported if it is dropped without being yielded (see _unyielded.py)
        else:
            on_build(it, op, _getframe(1))
        return op

    def _common(self, fn: Callable[..., Any]) -> bool:
        """``ctx.step``'s common case for a function other than the last one: keep it and its serdes.

        Under a payload format (fixed for the context's life) it is never taken, and ``_last_fn`` stays the
        sentinel: ``ctx.step``'s ``fn is self._last_fn`` is then never true, and the format chooses the serdes.
        """
        if self._format is not None or not callable(fn):
            return False  # (not callable: make_step says what is wrong)
        try:
            chosen = SERDES_BY_CODE[fn.__code__]
        except (AttributeError, KeyError):
            chosen = serdes_for(fn)
        self._last_fn, self._last_serdes = fn, chosen
        self._last_class = step_class(chosen)
        return True

    def wait(
        self,
        duration: Duration | _dt.timedelta | float | None = None,
        /,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        name: str | None = None,
    ) -> Wait:
        """Suspend durably for a duration between 1 s and 366 days.

        The service counts whole seconds: a fraction above 1 s is rounded up (1.5 s waits 2 s); less than
        1 s (0.5 s, say) is a ``ValidationError``.
        """
        if duration is None:
            duration = Duration(seconds=seconds, minutes=minutes, hours=hours, days=days)
        elif seconds or minutes or hours or days:
            raise ValidationError("give ctx.wait either a duration or seconds=/minutes=/hours=/days=, not both")
        return self._built(Wait(to_seconds(duration, what="a wait"), _name(name)))

    @overload
    def run_in_child_context(
        self,
        fn: Callable[..., Generator[Any, Any, T]],
        /,
        *args: Any,
        name: str | None = None,
        serdes: SerDes[Any] | None = None,
        sub_type: str = "RunInChildContext",
        **kwargs: Any,
    ) -> ChildContext[T]: ...

    @overload
    def run_in_child_context(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        name: str | None = None,
        serdes: SerDes[Any] | None = None,
        sub_type: str = "RunInChildContext",
        **kwargs: Any,
    ) -> ChildContext[T]: ...

    def run_in_child_context(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        name: str | None = None,
        serdes: SerDes[Any] | None = None,
        sub_type: str = "RunInChildContext",
        **kwargs: Any,
    ) -> ChildContext[Any]:
        """Run the generator function ``fn(child_ctx, *args, **kwargs)`` as a child context.

        The child gets its own operation namespace and one checkpoint for its result; replay returns that
        result without re-running the child. ``name`` defaults to ``fn.__name__`` (a stable
        ``child-context-<n>`` for lambdas). A plain function (no ``yield``) works too; its return value is
        the result.
        """
        if serdes is None and self._format is not None:
            serdes = self._format.for_function(fn)
        return self._built(ChildContext(fn, args, kwargs, _name(name), serdes, sub_type))

    @overload
    def parallel(
        self,
        branches: Sequence[Callable[[DurableContext], Generator[Any, Any, T]]],
        /,
        **options: Unpack[_BatchOptions],
    ) -> ParallelOp[T]: ...

    @overload
    def parallel(
        self, branches: Sequence[Callable[..., Any] | ParallelBranch], /, **options: Unpack[_BatchOptions]
    ) -> ParallelOp[Any]: ...

    def parallel(
        self,
        branches: Sequence[Callable[..., Any] | ParallelBranch],
        /,
        *,
        name: str | None = None,
        max_concurrency: int | None = None,
        completion: CompletionConfig | None = None,
        nesting: NestingType = NestingType.NESTED,
        serdes: SerDes[Any] | None = None,
        item_serdes: SerDes[Any] | None = None,
    ) -> ParallelOp[Any]:
        """Run ``branch(ctx)`` for every branch (generators, usually) concurrently; yields a ``BatchResult``.

        At most ``max_concurrency`` branches run at once (default: all). ``completion`` decides when the
        batch is done (default: stop at the first failure); the batch never raises because a branch failed:
        inspect the result or call ``raise_if_error()``. Wrap a branch in ``ParallelBranch(fn, name)`` to
        name it.
        """
        if isinstance(branches, str | bytes) or not isinstance(branches, Sequence):
            raise ValidationError(f"ctx.parallel needs a list of branches, got {branches!r}")
        if self._format is not None:
            serdes = serdes if serdes is not None else self._format.batch
            item_serdes = item_serdes if item_serdes is not None else self._format.operations
        config = BatchConfig.make(max_concurrency, completion, nesting, serdes, item_serdes)
        return self._built(ParallelOp(branches, _name(name), config))

    @overload
    def map(
        self,
        items: Sequence[I],
        fn: Callable[[DurableContext, I, int, Sequence[I]], Generator[Any, Any, T]],
        /,
        **options: Unpack[_MapOptions],
    ) -> MapOp[T]: ...

    @overload
    def map(self, items: Sequence[Any], fn: Callable[..., Any], /, **options: Unpack[_MapOptions]) -> MapOp[Any]: ...

    def map(
        self,
        items: Sequence[Any],
        fn: Callable[..., Any],
        /,
        *,
        name: str | None = None,
        max_concurrency: int | None = None,
        completion: CompletionConfig | None = None,
        item_namer: Callable[[Any, int], str] | None = None,
        nesting: NestingType = NestingType.NESTED,
        serdes: SerDes[Any] | None = None,
        item_serdes: SerDes[Any] | None = None,
    ) -> MapOp[Any]:
        """Run ``fn(ctx, item, index, items)`` for every item concurrently; yields a ``BatchResult``.

        Options as for :meth:`parallel`; ``item_namer(item, index)`` names each iteration (default
        ``map-item-<index>``).
        """
        if isinstance(items, str | bytes) or not isinstance(items, Sequence):
            raise ValidationError(f"ctx.map needs a sequence of items, got {type(items).__name__}")
        if self._format is not None and callable(fn):
            serdes = serdes if serdes is not None else self._format.batch
            item_serdes = item_serdes if item_serdes is not None else self._format.for_function(fn)
        config = BatchConfig.make(max_concurrency, completion, nesting, serdes, item_serdes)
        return self._built(MapOp(items, fn, _name(name), config, item_namer))

    def create_callback(
        self,
        *,
        name: str | None = None,
        timeout: Duration | _dt.timedelta | float | None = None,
        heartbeat_timeout: Duration | _dt.timedelta | float | None = None,
        serdes: SerDes[Any] | None = None,
    ) -> CreateCallback[Any]:
        """Start a callback; yields a ``Callback`` whose ``callback_id`` an external system answers.

        Yield ``callback.result()`` to wait for the answer: the raw payload string by default (pass
        ``serdes=JsonSerDes()`` for parsed JSON); a failure, a timeout or a missed heartbeat raises
        ``CallbackFailedError``, ``CallbackTimeoutError`` or ``CallbackHeartbeatTimeoutError``.
        """
        if serdes is None and self._format is not None:
            serdes = self._format.callback
        return self._built(
            CreateCallback(
                _name(name),
                to_seconds(timeout, what="a callback timeout", allow_zero=True),
                to_seconds(heartbeat_timeout, what="a callback heartbeat timeout", allow_zero=True),
                serdes,
            )
        )

    def wait_for_callback(
        self,
        submitter: Callable[[str], object],
        /,
        *,
        name: str | None = None,
        timeout: Duration | _dt.timedelta | float | None = None,
        heartbeat_timeout: Duration | _dt.timedelta | float | None = None,
        retry: RetryStrategy | None = None,
        serdes: SerDes[Any] | None = None,
    ) -> ChildContext[Any]:
        """Create a callback, run ``submitter(callback_id)`` as a step, and wait for the answer.

        ``retry`` applies to the submitter step. Errors as for :meth:`create_callback`, plus
        ``CallbackSubmitterError`` when the submitter fails for good.
        """
        if not callable(submitter):
            raise ValidationError(f"wait_for_callback needs a callable submitter, got {submitter!r}")
        if serdes is None and self._format is not None:
            serdes = self._format.callback
        return self._built(
            wait_for_callback_op(
                submitter,
                _name(name),
                to_seconds(timeout, what="a callback timeout", allow_zero=True),
                to_seconds(heartbeat_timeout, what="a callback heartbeat timeout", allow_zero=True),
                retry,
                serdes,
            )
        )

    def invoke(
        self,
        function_name: str,
        payload: object = None,
        /,
        *,
        name: str | None = None,
        tenant_id: str | None = None,
        payload_serdes: SerDes[Any] | None = None,
        result_serdes: SerDes[Any] | None = None,
    ) -> Invoke[Any]:
        """Invoke another function (a qualified name or ARN) with ``payload`` and wait for its result.

        Failures raise ``InvokeFailedError``, ``InvokeTimedOutError`` or ``InvokeStoppedError``.
        """
        if not isinstance(function_name, str) or not function_name.strip():
            raise ValidationError(f"ctx.invoke needs a function name, got {function_name!r}")
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise ValidationError(f"tenant_id must be a str, got {tenant_id!r}")
        if self._format is not None:
            payload_serdes = payload_serdes if payload_serdes is not None else self._format.invoke
            result_serdes = result_serdes if result_serdes is not None else self._format.invoke
        return self._built(Invoke(function_name, payload, _name(name), tenant_id, payload_serdes, result_serdes))

    def wait_for_condition(
        self,
        check: Callable[[Any], T],
        /,
        *,
        initial_state: object = None,
        wait_strategy: Callable[[Any, int], object],
        name: str | None = None,
        serdes: SerDes[Any] | None = None,
    ) -> WaitForCondition[T]:
        """Poll ``check(state) -> new state`` until ``wait_strategy(state, attempt)`` returns ``None``.

        The strategy returns the delay before the next poll (seconds, a timedelta or a Duration), ``None``
        when the condition holds, or raises ``WaitForConditionError`` to give up (``WaitStrategy`` does all
        three). Yields the final state.
        """
        if serdes is None and self._format is not None:
            serdes = self._format.operations
        return self._built(WaitForCondition(check, initial_state, wait_strategy, _name(name), serdes))

    # -- replay-safe time, randomness and ids (``_replay_safe.py``) -------------------------------------------

    def now(self, *, name: str | None = None) -> Step[_dt.datetime]:
        """``yield ctx.now()``: the current UTC time, checkpointed (one STEP operation); replays get the same."""
        return self._built(now_step(_name(name)))

    def random(self) -> _random.Random:
        """A ``random.Random`` that gives the same numbers on every replay (no durable operation)."""
        return deterministic_random(self._it, self._scope)

    def uuid4(self) -> _uuid.UUID:
        """A version-4 UUID that is the same on every replay and unique per execution (no durable operation)."""
        return deterministic_uuid4(self._it, self._scope)


OpT = TypeVar("OpT")


def _name(name: str | None) -> str | None:
    if name is not None and not isinstance(name, str):
        raise ValidationError(f"an operation name must be a str, got {name!r}")
    return name if name is None else check_name(name)

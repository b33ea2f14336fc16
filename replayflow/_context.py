"""``ctx``: the object a workflow builds its operations with."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._child import ChildContext
from ._duration import Duration, to_seconds
from ._logging import DurableLogger
from ._retry import RetryStrategy
from ._serdes import SerDes
from ._step import Step, StepSemantics
from ._wait import Wait

if TYPE_CHECKING:
    from ._interpreter import Interpreter, Scope

__all__ = ["DurableContext"]

T = TypeVar("T")


class DurableContext:
    """Builds the operations a workflow yields; one per workflow, child context and branch.

    Every method returns an immutable operation descriptor; nothing happens until it is yielded::

        value = yield ctx.step(fetch, order_id, name="fetch")            # typed Any
        value = yield from ctx.step(fetch, order_id, name="fetch")       # typed as fetch's return type
    """

    __slots__ = ("_it", "_logger", "_scope")

    def __init__(self, it: Interpreter, scope: Scope) -> None:
        self._it = it
        self._scope = scope
        self._logger: DurableLogger | None = None

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

    # -- operations -------------------------------------------------------------------------------------------

    def step(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        name: str | None = None,
        retry: RetryStrategy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serdes: SerDes[Any] | None = None,
        result_type: Any = None,
        **kwargs: Any,
    ) -> Step[T]:
        """Run ``fn(*args, **kwargs)`` once and checkpoint its result.

        ``name`` defaults to ``fn.__name__`` (lambdas stay unnamed). ``retry`` is a retry strategy
        (default ``RetryPresets.default()``: 6 attempts with exponential backoff). ``serdes`` replaces the
        JSON serialization; ``result_type`` (default: ``fn``'s return annotation) is what replayed results
        are structured into. Inside ``fn``, :func:`replayflow.step_context` gives the attempt number, the
        operation id, a logger and a cancellation signal.
        """
        return Step.make(
            fn,
            args,
            kwargs,
            name=name,
            retry=retry,
            semantics=semantics,
            serdes=serdes,
            result_type=result_type,
        )

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
        """Suspend durably for a duration between 1 s and 366 days (rounded up to whole seconds)."""
        if duration is None:
            duration = Duration(seconds=seconds, minutes=minutes, hours=hours, days=days)
        elif seconds or minutes or hours or days:
            from ._errors import ValidationError

            raise ValidationError("give ctx.wait either a duration or seconds=/minutes=/hours=/days=, not both")
        return Wait(to_seconds(duration, what="a wait"), _name(name))

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
        """Run ``fn(child_ctx, *args, **kwargs)`` (usually a generator) as a child context.

        The child gets its own operation namespace and one checkpoint for its result; replay returns that
        result without re-running the child. ``name`` defaults to ``fn.__name__``.
        """
        return ChildContext(fn, args, kwargs, _name(name), serdes, sub_type)


def _name(name: str | None) -> str | None:
    if name is not None and not isinstance(name, str):
        from ._errors import ValidationError

        raise ValidationError(f"an operation name must be a str, got {name!r}")
    return name

"""What a running step body (or condition check) knows about itself, and calling it."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from replayflow._async import settle
from replayflow._errors import StepCancelledError

if TYPE_CHECKING:
    from replayflow._logging import DurableLogger

    from .base import Host

__all__ = ["StepContext", "call_body", "step_context"]


class StepContext:
    """What a running step body knows about itself; get it with :func:`replayflow.step_context`.

    ``operation_id``, ``name``, ``attempt`` (1 on the first attempt), ``execution_arn``, ``logger`` (a
    logger whose records carry the operation's id, name and attempt) and the cancellation signal.
    """

    __slots__ = ("_host", "_logger", "attempt", "cancellation", "execution_arn", "name", "operation_id")

    def __init__(
        self, operation_id: str, name: str | None, attempt: int, host: Host, cancellation: threading.Event
    ) -> None:
        self.operation_id = operation_id
        self.name = name
        self.attempt = attempt
        self.execution_arn = host.arn
        self.cancellation = cancellation
        self._host = host  # its logger is made when a body first logs
        self._logger: DurableLogger | None = None

    @property
    def logger(self) -> DurableLogger:
        """The step's logger (records carry ``operationId``, ``operationName`` and ``attempt``)."""
        if self._logger is None:
            self._logger = self._host.logger.bind(
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


def call_body(
    host: Host,
    context: StepContext,
    what: Callable[[], str],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """``fn(*args, **kwargs)`` with ``context`` as :func:`step_context`; an ``async def`` body is awaited
    (``_async.py``; ``what()`` names the operation if it is cancelled)."""
    token = _current_step.set(context)
    try:
        value = fn(*args, **kwargs)
        if hasattr(value.__class__, "__await__"):
            value = settle(host, value, context.cancellation, what)
    finally:
        _current_step.reset(token)
    return value

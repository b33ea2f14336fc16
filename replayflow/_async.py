"""``async def`` step bodies, callback submitters and condition checks.

A step body that returns an awaitable (an ``async def`` function, or anything returning a coroutine) is
awaited on the invocation's event loop: one asyncio loop on one daemon thread, started the first time an
invocation runs an async body and stopped when the invocation ends. The thread that runs the step (the
interpreter's, or a worker's when branches run concurrently) waits for the result, so retries, semantics,
hooks and logging are exactly those of a sync body, and the async bodies of a parallel or map run
concurrently on the same loop (they may share loop-bound clients, such as an aiohttp session made there).

The coroutine runs in a copy of the calling thread's context: :func:`replayflow.step_context` and the
OpenTelemetry span of the attempt are visible inside it. When the invocation shuts down (deadline near,
or the branch is orphaned) the task is cancelled at its current ``await``; the attempt then records nothing
and runs again later, as a sync body that raises :class:`StepCancelledError` does.
"""

from __future__ import annotations

import contextvars
import threading
import types
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

    from ._ops.base import Host

__all__ = ["EventLoopThread", "settle"]

#: How often a thread waiting for a coroutine checks its cancellation signal (seconds).
CANCEL_POLL = 0.05

_CREATE = threading.Lock()

T = TypeVar("T")


class EventLoopThread:
    """An asyncio event loop running on its own daemon thread until :meth:`close`."""

    def __init__(self) -> None:
        import asyncio  # only workflows with async bodies pay for importing asyncio

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="replayflow-async", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, awaitable: Awaitable[T], cancel: threading.Event, what: str) -> T:
        """Await ``awaitable`` on the loop and return its result (or raise its error).

        ``cancel`` set meanwhile cancels the task; that raises :class:`StepCancelledError`.
        """
        context = contextvars.copy_context()
        done = threading.Event()
        box: list[asyncio.Task[T]] = []

        def start() -> None:
            coroutine = awaitable if isinstance(awaitable, types.CoroutineType) else _as_coroutine(awaitable)
            task = self.loop.create_task(coroutine, context=context)
            task.add_done_callback(lambda _: done.set())
            box.append(task)

        def cancel_task() -> None:
            box[0].cancel()  # runs after start(): the loop's callbacks run in order

        self.loop.call_soon_threadsafe(start)
        while not done.wait(CANCEL_POLL):
            if cancel.is_set():
                self.loop.call_soon_threadsafe(cancel_task)
                done.wait()
                break
        task = box[0]
        if task.cancelled():
            from ._errors import StepCancelledError

            raise StepCancelledError(f"{what} was cancelled at an await: the invocation is ending")
        error = task.exception()
        if error is not None:
            raise error
        return task.result()

    def close(self) -> None:
        """Stop the loop (cancelling what still runs on it) and wait for its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def loop_for(it: Host) -> EventLoopThread:
    """The invocation's event loop thread, started on first use."""
    runner: EventLoopThread | None = it.event_loop
    if runner is None:
        with _CREATE:
            runner = it.event_loop
            if runner is None:
                runner = it.event_loop = EventLoopThread()
    return runner


def settle(it: Host, value: Any, cancel: threading.Event, what: Callable[[], str]) -> Any:
    """``value`` itself, or, if it is awaitable (an ``async def`` body's coroutine), what it returns.

    ``what()`` names the operation in a cancellation error.
    """
    if not hasattr(value.__class__, "__await__"):
        return value
    if cancel.is_set():
        if isinstance(value, types.CoroutineType):
            value.close()  # never started: no "was never awaited" warning
        from ._errors import StepCancelledError

        raise StepCancelledError(f"{what()} was not started: the invocation is ending")
    return loop_for(it).run(value, cancel, what())

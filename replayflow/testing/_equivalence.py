"""The replay-equivalence checker: a workflow must see the same thing at every ``yield``, run after run.

:func:`run` and :func:`start` register the workflow wrapped in :class:`Checked`. Each invocation installs
a :class:`Trace` (through :data:`replayflow._interpreter.TRACER`), which wraps every frame's generator and
records, per frame, what it was sent or had thrown into it (a value as its ``repr``, an exception as its
class, message and attributes), what it yielded next, and how it ended. After each invocation the whole
history, as the service hands it to an invocation, is replayed from scratch with no service and no step
bodies, and traced too. Every trace is compared with the first-run trace of each frame (the first time
an invocation that ended normally saw each event: one that crashed may have been handed results it never
checkpointed); the first difference is kept as a :class:`~replayflow.ReplayDivergenceError`, raised by
the toolkit once the service call that caused it returns.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Generator, Sequence
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

from replayflow._errors import NonDeterminismError, ReplayDivergenceError
from replayflow._interpreter import TRACER, Scope
from replayflow._unyielded import quiet
from replayflow._wire import TERMINAL_STATUSES, InvocationOutputDict, OperationDict

if TYPE_CHECKING:
    from replayflow._handler import DurableHandler
    from replayflow.local import LocalDurableService

__all__ = ["Checked", "EquivalenceChecker", "Trace", "service_view"]

#: One observation in a frame: ``(kind, what)``; kind is sent, thrown, yielded, returned or raised.
Event = tuple[str, str]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _show(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a repr that fails: say so (the same way every time)
        text = f"<{type(value).__qualname__} whose repr raised {type(exc).__name__}>"
    return _ADDRESS.sub("", text)


def _clip(before: str, now: str, width: int = 240) -> tuple[str, str]:
    """Both texts cut to ``width`` characters around where they first differ (a 10,000-item batch result
    would make a message of megabytes); the error's attributes keep them whole."""
    if len(before) <= width and len(now) <= width:
        return before, now
    at = next((i for i, (a, b) in enumerate(zip(before, now, strict=False)) if a != b), min(len(before), len(now)))
    start = max(at - width // 2, 0)

    def cut(text: str) -> str:
        head = "..." if start else ""
        tail = "..." if start + width < len(text) else ""
        return f"{head}{text[start : start + width]}{tail}"

    return cut(before), cut(now)


def _show_error(error: BaseException) -> str:
    cls = type(error)
    attributes = {k: v for k, v in sorted(vars(error).items()) if not k.startswith("_")}
    shown = f"{cls.__module__}.{cls.__qualname__}: {error}"
    return f"{shown} {_show(attributes)}" if attributes else shown


def _show_op(op: object) -> str:
    name = getattr(op, "name", None) if isinstance(op, tuple) else None
    return f"{type(op).__name__} {name!r}" if name is not None else type(op).__name__


class _Traced:
    """A frame's generator, recording what goes in and what comes out."""

    __slots__ = ("events", "gen")

    def __init__(self, gen: Generator[object, object, object], events: list[Event]) -> None:
        self.gen = gen
        self.events = events

    def send(self, value: object) -> object:
        self.events.append(("sent", _show(value)))
        return self._step(self.gen.send, value)

    def throw(self, error: BaseException) -> object:
        self.events.append(("thrown", _show_error(error)))
        return self._step(self.gen.throw, error)

    def _step(self, fn: Callable[[Any], object], arg: object) -> object:
        try:
            op = fn(arg)
        except StopIteration as stop:
            self.events.append(("returned", _show(stop.value)))
            raise
        except BaseException as error:
            self.events.append(("raised", _show_error(error)))
            raise
        self.events.append(("yielded", _show_op(op)))
        return op

    def close(self) -> None:
        self.gen.close()

    @property
    def gi_frame(self) -> FrameType | None:
        return getattr(self.gen, "gi_frame", None)

    @property
    def gi_code(self) -> CodeType | None:
        return getattr(self.gen, "gi_code", None)

    @property
    def gi_yieldfrom(self) -> object:
        return getattr(self.gen, "gi_yieldfrom", None)


class Trace:
    """What every frame of one invocation (or one dry replay) saw, by the id of the frame's scope."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames: dict[str | None, tuple[str, list[Event]]] = {}

    def wrap(self, gen: Generator[object, object, object], scope: Scope) -> _Traced:
        events: list[Event] = []
        self.frames[scope.prefix] = (scope.label, events)
        return _Traced(gen, events)


def service_view(operations: Sequence[OperationDict]) -> list[OperationDict]:
    """The operations as the service hands them to an invocation: none inside a finished context."""
    by_id = {op["Id"]: op for op in operations}

    def visible(op: OperationDict) -> bool:
        parent = by_id.get(op.get("ParentId") or "")
        while parent is not None:
            details = parent.get("ContextDetails") or {}
            if parent["Status"] in TERMINAL_STATUSES and not details.get("ReplayChildren"):
                return False
            parent = by_id.get(parent.get("ParentId") or "")
        return True

    return [op for op in operations if visible(op)]


class EquivalenceChecker:
    """The first-run trace of every frame, and the first divergence any later trace showed."""

    def __init__(self) -> None:
        self.first_run: dict[str | None, tuple[str, list[Event]]] = {}
        self.divergence: ReplayDivergenceError | None = None
        self.invocations = 0
        self.replays = 0

    def compare(self, trace: Trace, what: str, *, first_run: bool = True) -> None:
        """Compare ``trace`` with the first run; a live invocation (``first_run``) extends the first run with
        what it saw for the first time. A dry replay does not: past the history it does new work that the
        next invocation does for real."""
        for key, (label, events) in trace.frames.items():
            known = self.first_run.get(key)
            if known is None:
                if first_run:
                    self.first_run[key] = (label, list(events))
                continue
            seen = known[1]
            for index, (before, now) in enumerate(zip(seen, events, strict=False)):
                if before != now:
                    self._diverged(label, seen, index, before, now, what)
                    return
            if first_run and len(events) > len(seen):
                seen.extend(events[len(seen) :])

    def _diverged(self, label: str, seen: list[Event], index: int, before: Event, now: Event, what: str) -> None:
        if self.divergence is not None:
            return
        yields = [i for i, (kind, _) in enumerate(seen[:index]) if kind == "yielded"]
        operation = seen[yields[-1]][1] if yields else None
        position = len(yields) if yields else None
        where = f"operation #{position} ({operation}) of {label}" if operation else f"the start of {label}"
        shown_before, shown_now = _clip(before[1], now[1])
        self.divergence = ReplayDivergenceError(
            f"Replay divergence at {where}: the first run was {before[0]} {shown_before}, but {what} was "
            f"{now[0]} {shown_now}. A workflow must see the same values and errors at every yield on every replay.",
            frame=label,
            operation=operation,
            position=position,
            first_run=f"{before[0]} {before[1]}",
            replay=f"{now[0]} {now[1]}",
        )

    def raise_if_diverged(self) -> None:
        if self.divergence is not None:
            raise self.divergence

    def replay_from_scratch(
        self,
        handler: Callable[..., Any],
        operations: Sequence[OperationDict],
        live_non_determinism: bool,
        *,
        arn: str | None = None,
    ) -> None:
        """Replay ``operations`` (of execution ``arn``) with no service and no bodies, traced, and compare.

        The replay sees the execution's own ARN, as every invocation does (``ctx.uuid4()`` is derived from it).
        """
        from ._replay import replay

        self.replays += 1
        trace = Trace()
        token = TRACER.set(trace)
        try:
            visible = service_view(operations)
            with quiet():  # the first run logged its warnings (a forgotten yield) already
                report = replay(handler, {"DurableExecutionArn": arn, "Operations": visible} if arn else visible)
        finally:
            TRACER.reset(token)
        self.compare(trace, f"replay #{self.replays} from scratch", first_run=False)
        error = report.error
        if isinstance(error, NonDeterminismError) and not live_non_determinism and self.divergence is None:
            self.divergence = ReplayDivergenceError(
                f"Replay divergence: the history the first run wrote does not replay from scratch: {error}",
                operation=error.name,
                first_run="the history as written",
                replay=f"NonDeterminismError: {error}",
            )


class Checked:
    """A durable handler run under the checker: each invocation is traced, then the history replayed."""

    def __init__(self, handler: DurableHandler[Any], checker: EquivalenceChecker, service: LocalDurableService) -> None:
        self.handler = handler
        self.checker = checker
        self.service = service
        self.__name__ = getattr(handler, "__name__", "handler")
        self.__qualname__ = getattr(handler, "__qualname__", self.__name__)
        self.__module__ = getattr(handler, "__module__", __name__)

    def __call__(self, event: object, context: object) -> InvocationOutputDict | None:
        trace = Trace()
        token = TRACER.set(trace)
        failure: BaseException | None = None
        try:
            output = self.handler(event, context)
        except BaseException as exc:  # a crash (ProcessExit), an invocation-level failure...
            failure, output = exc, None
        # replayed outside the except block, so that what the replay raises is not chained to the crash
        error = output.get("Error") if isinstance(output, dict) else None
        non_determinism = isinstance(failure, NonDeterminismError) or (
            "NonDeterminismError" in str((error or {}).get("ErrorType"))
        )
        self._after(event, trace, token, non_determinism, ended=failure is None)
        if failure is not None:
            raise failure
        return output

    def _after(
        self, event: object, trace: Trace, token: contextvars.Token[Any], live_non_determinism: bool, *, ended: bool
    ) -> None:
        TRACER.reset(token)
        checker = self.checker
        checker.invocations += 1
        # An invocation that did not end (the process died, the handler raised) made durable only part of what
        # it saw: a result it was handed but had not checkpointed yet is gone, and the next invocation sees
        # what the history says instead (the step runs again, or is interrupted). So it is checked against the
        # first run, but what it saw for the first time is not the first run: the invocation that records it is.
        checker.compare(trace, f"invocation #{checker.invocations}", first_run=ended)
        arn = event.get("DurableExecutionArn") if isinstance(event, dict) else None
        if arn:
            self._replay(arn, live_non_determinism)

    def _replay(self, arn: str, live_non_determinism: bool) -> None:
        try:  # the records themselves, as an invocation gets them (events lose e.g. ReplayChildren)
            operations = self.service.invocation_operations(arn)
        except Exception:  # pragma: no cover - the execution is gone (the service closed)
            return
        self.checker.replay_from_scratch(self.handler, operations, live_non_determinism, arn=arn)

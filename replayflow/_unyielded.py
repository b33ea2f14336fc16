"""Operations built but never yielded: a forgotten ``yield`` before ``ctx.step(...)``.

``ctx`` only *describes* operations; nothing runs until the descriptor is yielded. A line such as
``ctx.step(send_email, order)`` without ``yield`` would silently skip the step, so the interpreter keeps
the last descriptor ``ctx`` built and not yet yielded (one slot, no copy). When ``ctx`` builds the next
one or the frame ends while that descriptor is unreferenced (``sys.getrefcount``: the user dropped it),
it is reported, as asyncio reports a coroutine that was never awaited.

Two modes: ``"warn"`` (default, production) logs a warning on the ``replayflow`` logger naming the
operation and where it was noticed; ``"error"`` (the testing toolkit and pytest, or
``REPLAYFLOW_UNYIELDED=error``) raises :class:`UnyieldedOperationError` into the workflow and records the
exact line each operation was built on (which costs a frame lookup per operation, so production skips it).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from ._errors import DurableExecutionError
from ._ops.base import DurableOperation

if TYPE_CHECKING:
    from ._interpreter import Frame, Interpreter

__all__ = [
    "Mode",
    "UnyieldedOperationError",
    "describe_op",
    "dropped",
    "mode",
    "quiet",
    "set_mode",
    "toolkit_default",
    "unyielded_mode",
]

log = logging.getLogger("replayflow")

Mode = Literal["warn", "error"]


class UnyieldedOperationError(DurableExecutionError, TypeError):
    """An operation was built with ``ctx`` but never yielded (a forgotten ``yield``), so it never ran.

    Raised in the testing toolkit and under pytest; production logs a warning instead.
    """


_ENV = os.environ.get("REPLAYFLOW_UNYIELDED")
_MODE: list[Mode] = ["error" if _ENV == "error" else "warn"]


def toolkit_default() -> None:
    """The testing toolkit makes forgotten yields errors (unless ``REPLAYFLOW_UNYIELDED`` says otherwise),
    here and in the worker processes it starts (they inherit the variable)."""
    if _ENV not in ("warn", "error"):
        _MODE[0] = "error"
        os.environ["REPLAYFLOW_UNYIELDED"] = "error"


def mode() -> Mode:
    """The current mode: ``"warn"`` or ``"error"``."""
    return _MODE[0]


def set_mode(new: Mode) -> Mode:
    """Set the mode for interpreters created from now on; returns the previous one."""
    if new not in ("warn", "error"):
        raise ValueError(f'the unyielded-operation mode is "warn" or "error", got {new!r}')
    previous, _MODE[0] = _MODE[0], new
    return previous


@contextlib.contextmanager
def unyielded_mode(new: Mode) -> Iterator[None]:
    """Use ``new`` inside the ``with`` block."""
    previous = set_mode(new)
    try:
        yield
    finally:
        set_mode(previous)


_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("replayflow_unyielded_quiet", default=False)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Log no warnings inside the ``with`` block (the replay-equivalence checker's own replays: the first
    run already warned); errors in mode ``"error"`` are still raised, so replays see what the first run saw."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


#: references to a dropped descriptor seen from :func:`dropped`: the caller's local variable (the
#: interpreter's slot is cleared first), this function's parameter and getrefcount's own argument
_DROPPED_REFS = 3


def dropped(op: object) -> bool:
    """Whether nothing but the caller's one local variable still refers to ``op``."""
    return sys.getrefcount(op) <= _DROPPED_REFS


def describe_op(op: object) -> str:
    """``ctx.step(send_email) named 'send_email'``: how reports name an operation."""
    kind = type(op).__name__
    method = _METHODS.get(kind, kind)
    fn = getattr(op, "fn", None)
    target = getattr(fn, "__qualname__", None) if fn is not None else None
    text = f"ctx.{method}({target})" if target else f"ctx.{method}(...)"
    name = getattr(op, "name", None)
    return text + (f" named {name!r}" if name else "")


_METHODS = {
    "Step": "step",
    "Wait": "wait",
    "ChildContext": "run_in_child_context",
    "ParallelOp": "parallel",
    "MapOp": "map",
    "CreateCallback": "create_callback",
    "Invoke": "invoke",
    "WaitForCondition": "wait_for_condition",
}


def where(frame: FrameType | None) -> str | None:
    """``file:line`` of ``frame``."""
    return None if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def message(
    op: object, built_at: str | None, noticed_at: str | None, *, plain: str | None = None, ended: bool = False
) -> str:
    """The report for ``op`` (``ended``: noticed when the function defined at ``noticed_at`` returned)."""
    if built_at:
        place = f" at {built_at}"
    elif noticed_at and ended:
        place = f" (noticed when the generator defined at {noticed_at} returned)"
    elif noticed_at:
        place = f" (noticed at {noticed_at}; it was built before that line)"
    else:
        place = ""
    text = (
        f"{describe_op(op)} was built{place} but never yielded, so it never ran: "
        f"add `yield` (`result = yield ctx.{_METHODS.get(type(op).__name__, '...')}(...)`)"
    )
    if plain:
        text += f"; {plain} has no `yield` at all, so it is a plain function and none of its operations run"
    return text


def report(
    op: object,
    built_at: str | None,
    noticed_at: str | None,
    *,
    strict: bool,
    plain: str | None = None,
    ended: bool = False,
) -> Exception | None:
    """The error to raise (``strict``: mode ``"error"``), or ``None`` after logging a warning."""
    text = message(op, built_at, noticed_at, plain=plain, ended=ended)
    if strict:
        return UnyieldedOperationError(text)
    if not _QUIET.get():
        log.warning("%s", text)
    return None


# -- the interpreter's side -----------------------------------------------------------------------------------

#: what using a descriptor as if it were the result raises (``r = ctx.step(f)``, then ``r["key"]``)
_MISUSED_RESULT = (TypeError, AttributeError, KeyError, IndexError)


def on_build(it: Interpreter, op: object, caller: FrameType) -> None:
    """``ctx`` built ``op`` while another operation was still unyielded (or builds are traced)."""
    previous, previous_at = it.unyielded, it.built_at
    it.unyielded = op
    it.built_at = where(caller) if it.trace_builds else None
    if previous is not None and dropped(previous):
        error = report(previous, previous_at, where(caller), strict=it.trace_builds)
        if error is not None:
            it.unyielded = None  # ``op`` is lost with the error raised instead of returning it
            raise error


def before_yield(it: Interpreter, frame: Frame) -> Exception | None:
    """The frame yields an operation other than the one ``ctx`` built last: was that one dropped?"""
    previous, it.unyielded = it.unyielded, None
    if not dropped(previous):
        return None  # built ahead, yielded later
    return report(previous, it.built_at, frame.location(), strict=it.trace_builds)


def at_end(it: Interpreter, frame: Frame, ok: bool, value: Any) -> tuple[bool, Any]:
    """A frame ends with an operation it built but never yielded (or returns one instead of yielding it)."""
    op = it.unyielded
    it.unyielded = None
    if ok and isinstance(value, DurableOperation):
        op = value  # ``return ctx.step(f)``: the descriptor would become the result
    elif op is None or (ok and not dropped(op)) or isinstance(value, UnyieldedOperationError):
        return ok, value
    return _ended_dropping(it, frame, op, ok, value)


def _ended_dropping(it: Interpreter, frame: Frame, op: object, ok: bool, value: Any) -> tuple[bool, Any]:
    """How a frame that ends with ``(ok, value)`` and dropped ``op`` ends: reported, or noted on its error."""
    from ._ops.child import plain_body

    plain = frame.scope.label if plain_body(frame.gen) else None
    if not ok and isinstance(value, Exception):  # its traceback keeps the descriptor referenced
        return False, _raised_with(it, frame, op, value, plain)
    error = report(op, it.built_at, _ended_at(frame, plain), strict=it.trace_builds, plain=plain, ended=True)
    return (True, value) if error is None else (False, error)


def _raised_with(it: Interpreter, frame: Frame, op: object, error: Exception, plain: str | None) -> Exception:
    """The error a frame that dropped ``op`` raises: noted with the drop, or (tracing builds) an
    ``UnyieldedOperationError`` when the error came from using the descriptor as its result."""
    text = message(op, it.built_at, frame.location(), plain=plain)
    if it.trace_builds and isinstance(error, _MISUSED_RESULT):
        misused = UnyieldedOperationError(text)
        misused.__cause__ = error
        return misused
    error.add_note(text)
    return error


def _ended_at(frame: Frame, plain: str | None) -> str | None:
    """Where the frame's function is defined (``None`` for a plain child body)."""
    code = getattr(frame.gen, "gi_code", None)
    return None if plain or code is None else f"{code.co_filename}:{code.co_firstlineno}, in {code.co_name}"

"""``ctx.run_in_child_context``: a generator with its own id namespace and its own checkpoint.

The child's operations are named ``blake2b("<child id>-<n>")`` and carry the child's id as ``ParentId``.
When the child finishes, its result is checkpointed on the CONTEXT operation; replay returns that result
without running the child again. A result too big for one checkpoint (256 KB) is not stored: the CONTEXT
is marked ``ReplayChildren`` and replay re-runs the child, whose own operations replay from the history.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import (
    ChildContextError,
    DurableOperationError,
    NonDeterminismError,
    RetryableSerDesError,
    SerDesError,
    ValidationError,
)
from .._interpreter import BLOCKED, Scope, Throw
from .base import Operation, field, update
from .._serdes import serdes_for
from .step import default_name, error_object
from .._wire import CHECKPOINT_PAYLOAD_LIMIT_BYTES, ErrorObjectDict

if TYPE_CHECKING:
    from .._interpreter import Frame, Interpreter

__all__ = [
    "ChildContext",
    "async_message",
    "recorded_error_class",
    "start_body",
    "validate_sub_type",
    "with_error_class",
]

T = TypeVar("T")

#: ``(interpreter, recorded ErrorObject, op id, name, live exception or None) -> error raised into the parent``
ErrorFactory = Callable[["Interpreter", Any, str, "str | None", "BaseException | None"], DurableOperationError]

_SUB_TYPE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def validate_sub_type(sub_type: str) -> str:
    if not isinstance(sub_type, str) or not _SUB_TYPE.match(sub_type):
        raise ValidationError(f"sub_type must be 1-32 characters of [A-Za-z0-9_-], got {sub_type!r}")
    return sub_type


def child_error(
    it: Interpreter, error: ErrorObjectDict, op_id: str, name: str | None, cause: BaseException | None
) -> DurableOperationError:
    return ChildContextError.from_error_object(error, operation_id=op_id, name=name)


def _returning(value: Any) -> Generator[Any, Any, Any]:
    return value
    yield  # pragma: no cover - makes this a generator


def plain_body(gen: object) -> bool:
    """Whether ``gen`` wraps a plain (non-generator) function's return value."""
    return getattr(gen, "gi_code", None) is _returning.__code__


def _raising(error: BaseException) -> Generator[Any, Any, Any]:
    raise error
    yield  # pragma: no cover


def start_body(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Call a context body; plain (non-generator) functions are wrapped so they look like generators."""
    try:
        result = fn(*args, **kwargs)
    except Exception as error:
        return _raising(error)
    if isinstance(result, types.GeneratorType):
        return result
    if isinstance(result, types.CoroutineType | types.AsyncGeneratorType):
        if isinstance(result, types.CoroutineType):
            result.close()  # never awaited: say why instead of "coroutine was never awaited"
        return _raising(ValidationError(async_message(fn) + " (an async def step body is awaited for you)"))
    return _returning(result)


def async_message(fn: Callable[..., Any]) -> str:
    """Why ``async def`` cannot be a workflow or a child context body."""
    name = getattr(fn, "__qualname__", repr(fn))
    return (
        f"{name} is an async function; a workflow (or child context) must be a generator function "
        f"(`def`, with `yield ctx.step(...)`): the interpreter drives generators, replaying them over the "
        f"history. Run async code inside a step body instead."
    )


class ChildContext(Operation[T]):
    """A child context; see the module docstring."""

    __slots__ = ()
    _fields = ("fn", "args", "kwargs", "name", "serdes", "sub_type", "errors", "auto_name")
    fn: Callable[..., Any] = field(0)
    args: tuple[Any, ...] = field(1)
    kwargs: dict[str, Any] = field(2)
    name: str | None = field(3)
    serdes: Any = field(4)
    sub_type: str = field(5)
    errors: ErrorFactory = field(6)
    auto_name: bool = field(7)

    def __new__(
        cls,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        serdes: Any = None,
        sub_type: str = "RunInChildContext",
        errors: ErrorFactory = child_error,
        auto_name: bool = True,
    ) -> ChildContext[T]:
        if not callable(fn):
            raise ValidationError(f"run_in_child_context needs a callable, got {fn!r}")
        if name is not None and not isinstance(name, str):
            raise ValidationError(f"a child context name must be a str, got {name!r}")
        return tuple.__new__(
            cls,
            (fn, args, kwargs or {}, name, serdes or serdes_for(fn), validate_sub_type(sub_type), errors, auto_name),
        )

    def _run(self, it: Interpreter, frame: Frame) -> Any:
        name = self.name
        if name is None and self.auto_name:
            name = default_name(self.fn) or f"child-context-{frame.scope.counter + 1}"
        op_id, rec = it.claim(frame, "CONTEXT", self.sub_type, name)
        replay_children = False
        if rec is not None:
            status = rec["Status"]
            details: dict[str, Any] = rec.get("ContextDetails") or {}
            if status == "SUCCEEDED":
                if not details.get("ReplayChildren"):
                    return it.decode(self.serdes, details.get("Result"), op_id, f"child context {name!r}")
                replay_children = True
            elif status != "STARTED":
                raise Throw(self.errors(it, details.get("Error") or {}, op_id, name, None))
        else:
            it.enqueue(context_update(frame.scope.parent_id, op_id, "START", self.sub_type, name))
            it.operation_started(frame, op_id, "CONTEXT", self.sub_type, name)
        scope = Scope(it.records, op_id, op_id, f"{self.sub_type} context {name!r}")
        gen = start_body(self.fn, (it.make_context(scope), *self.args), self.kwargs)

        def done(child: Frame, ok: bool, value: Any) -> None:
            self._done(it, frame, op_id, name, replay_children, ok, value)

        it.spawn(gen, scope, done, frame.cancel)
        return BLOCKED

    def _done(
        self,
        it: Interpreter,
        frame: Frame,
        op_id: str,
        name: str | None,
        replay_children: bool,
        ok: bool,
        value: Any,
    ) -> None:
        if replay_children:
            if not ok:
                raise NonDeterminismError(
                    f"child context {name!r} (id {op_id}) succeeded originally but raised "
                    f"{type(value).__name__} when re-run to rebuild its result: {value}",
                    operation_id=op_id,
                    name=name,
                    recorded="SUCCEEDED",
                    attempted=f"raised {type(value).__name__}",
                )
            it.resume(frame, value)
            return
        if ok:
            try:
                _, value = complete_context(it, frame.scope.parent_id, op_id, name, self.sub_type, self.serdes, value)
            except RetryableSerDesError:
                raise
            except SerDesError as error:
                ok, value = False, error
            else:
                it.operation_ended(frame, op_id, "CONTEXT", self.sub_type, name, "SUCCEEDED", None)
                it.resume(frame, value)
                return
        err = error_object(value)
        raised = self.errors(it, err, op_id, name, value)
        if type(raised) is not ChildContextError:  # replay reads the class from this record alone
            err = with_error_class(err, type(raised))
        update = context_update(frame.scope.parent_id, op_id, "FAIL", self.sub_type, name)
        update["Error"] = err
        it.enqueue(update)
        it.operation_ended(frame, op_id, "CONTEXT", self.sub_type, name, "FAILED", value)
        it.resume(frame, None, raised)


#: The last StackTrace line of a context's recorded error that names the class its failure raises.
ERROR_CLASS_MARK = "raised as replayflow."


def with_error_class(error: ErrorObjectDict, cls: type[BaseException]) -> ErrorObjectDict:
    """``error`` with a last StackTrace line naming ``cls``, so that replay raises the same class."""
    marked: ErrorObjectDict = {**error}
    marked["StackTrace"] = [*(error.get("StackTrace") or ()), ERROR_CLASS_MARK + cls.__name__]
    return marked


def recorded_error_class(error: Any) -> tuple[str | None, Any]:
    """``(class name or None, the error without the mark)`` for a context's recorded ErrorObject."""
    trace = error.get("StackTrace") if isinstance(error, dict) else None
    if not trace or not isinstance(trace[-1], str) or not trace[-1].startswith(ERROR_CLASS_MARK):
        return None, error
    rest = {**error}
    if len(trace) > 1:
        rest["StackTrace"] = trace[:-1]
    else:
        del rest["StackTrace"]
    return trace[-1][len(ERROR_CLASS_MARK) :], rest


def context_update(parent_id: str | None, op_id: str, action: str, sub_type: str, name: str | None) -> dict[str, Any]:
    """A CONTEXT update for the operation ``op_id`` whose parent is ``parent_id``."""
    return update("CONTEXT", action, op_id, sub_type, name, parent_id)


def complete_context(
    it: Interpreter,
    parent_id: str | None,
    op_id: str,
    name: str | None,
    sub_type: str,
    serdes: Any,
    value: Any,
    summary: str = "",
) -> tuple[str | None, Any]:
    """Queue CONTEXT SUCCEED for ``value``; returns ``(payload, value as replay will see it)``.

    Results over the checkpoint limit are replaced by ``summary`` with ``ReplayChildren`` set.
    """
    context = it.serdes_context(op_id)
    try:
        payload = serdes.serialize(value, context)
    except SerDesError:
        raise
    except Exception as exc:
        raise SerDesError(f"cannot serialize the result of child context {name!r}: {exc}") from exc
    update = context_update(parent_id, op_id, "SUCCEED", sub_type, name)
    if (
        payload is not None
        and len(payload) > CHECKPOINT_PAYLOAD_LIMIT_BYTES // 4
        and (len(payload.encode()) > CHECKPOINT_PAYLOAD_LIMIT_BYTES)
    ):
        update["Payload"] = summary
        update["ContextOptions"] = {"ReplayChildren": True}
        it.enqueue(update)
        return None, value
    if payload is not None:
        update["Payload"] = payload
        try:
            value = serdes.deserialize(payload, context)
        except SerDesError:
            raise
        except Exception as exc:
            raise SerDesError(f"cannot read back the result of child context {name!r}: {exc}") from exc
    it.enqueue(update)
    return payload, value

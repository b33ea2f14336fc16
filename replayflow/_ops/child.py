"""``ctx.run_in_child_context``: a generator with its own id namespace and its own checkpoint.

The child's operations are named ``blake2b("<child id>-<n>")`` and carry the child's id as ``ParentId``.
When the child finishes, its result is checkpointed on the CONTEXT operation; replay returns that result
without running the child again. A result too big for one checkpoint (256 KB) is not stored: the CONTEXT
is marked ``ReplayChildren`` and replay re-runs the child, whose own operations replay from the history.

=========== =====================================================================================
no record   START, run the body as a child frame, SUCCEED with its result (or FAIL with its error)
SUCCEEDED   return the recorded result; with ``ReplayChildren``, re-run the body to rebuild it
STARTED     the child was interrupted: run the body again (its own operations replay)
otherwise   raise the recorded error (as the class the ``errors`` factory maps it to)
=========== =====================================================================================
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from replayflow._errors import (
    ChildContextError,
    DurableOperationError,
    NonDeterminismError,
    RetryableSerDesError,
    SerDesError,
    ValidationError,
)
from replayflow._interpreter import Scope
from replayflow._serdes import SerDes, serdes_for
from replayflow._wire import FAILURE_STATUSES, ErrorObjectDict, OperationDict, OperationUpdateDict, Status

from .base import BLOCKED, DurableOperation, Host, Throw, default_name, field
from .outcome import error_object, fail, read_back, recorded_error, serialize, start, too_large, update

if TYPE_CHECKING:
    from replayflow._interpreter import Frame

__all__ = [
    "ChildContext",
    "async_message",
    "child_error",
    "complete_context",
    "context_update",
    "plain_body",
    "recorded_error_class",
    "start_body",
    "validate_sub_type",
    "with_error_class",
]

T = TypeVar("T")

#: ``(host, recorded ErrorObject, op id, name, live exception or None) -> error raised into the parent``
ErrorFactory = Callable[["Host", ErrorObjectDict, str, "str | None", "BaseException | None"], DurableOperationError]

_SUB_TYPE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def validate_sub_type(sub_type: str) -> str:
    """``sub_type`` if the service accepts it as a SubType, else a :class:`ValidationError`."""
    if not isinstance(sub_type, str) or not _SUB_TYPE.match(sub_type):
        raise ValidationError(f"sub_type must be 1-32 characters of [A-Za-z0-9_-], got {sub_type!r}")
    return sub_type


def child_error(
    it: Host, error: ErrorObjectDict, op_id: str, name: str | None, cause: BaseException | None
) -> DurableOperationError:
    """The error a failed child context raises into its parent (the default :data:`ErrorFactory`)."""
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


class ChildContext(DurableOperation[T]):
    """A child context; see the module docstring."""

    __slots__ = ()
    _fields = ("fn", "args", "kwargs", "name", "serdes", "sub_type", "errors", "auto_name")
    fn: Callable[..., Any] = field(0)
    args: tuple[Any, ...] = field(1)
    kwargs: dict[str, Any] = field(2)
    name: str | None = field(3)
    serdes: SerDes[Any] = field(4)
    sub_type: str = field(5)
    errors: ErrorFactory = field(6)
    auto_name: bool = field(7)

    def __new__(
        cls,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        serdes: SerDes[Any] | None = None,
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

    # -- interpretation: the module docstring's table, as ``_REPLAY`` -------------------------------------

    def run(self, it: Host, frame: Frame) -> Any:
        name = self.name
        if name is None and self.auto_name:
            name = default_name(self.fn) or f"child-context-{frame.scope.counter + 1}"
        op_id, rec = it.claim(frame, "CONTEXT", self.sub_type, name)
        if rec is None:
            start(it, frame, context_update(frame.scope.parent_id, op_id, "START", self.sub_type, name), name)
            return self._body(it, frame, op_id, name, False)
        return _REPLAY.get(rec["Status"], ChildContext._raise_recorded)(self, it, frame, op_id, name, rec)

    def _succeeded(self, it: Host, frame: Frame, op_id: str, name: str | None, rec: OperationDict) -> Any:
        details = rec.get("ContextDetails") or {}
        if details.get("ReplayChildren"):  # the result was too big to store: re-run the child to rebuild it
            return self._body(it, frame, op_id, name, True)
        return it.decode(self.serdes, details.get("Result"), op_id, f"child context {name!r}")

    def _started(self, it: Host, frame: Frame, op_id: str, name: str | None, rec: OperationDict) -> Any:
        return self._body(it, frame, op_id, name, False)

    def _raise_recorded(self, it: Host, frame: Frame, op_id: str, name: str | None, rec: OperationDict) -> Any:
        raise Throw(self.errors(it, recorded_error(rec.get("ContextDetails")), op_id, name, None))

    def _body(self, it: Host, frame: Frame, op_id: str, name: str | None, replay_children: bool) -> Any:
        """Run the child's body as a frame of its own; :meth:`_done` resumes the parent."""
        scope = Scope(it.records, op_id, op_id, f"{self.sub_type} context {name!r}")
        gen = start_body(self.fn, (it.make_context(scope), *self.args), self.kwargs)

        def done(child: Frame, ok: bool, value: Any) -> None:
            self._done(it, frame, op_id, name, replay_children, ok, value)

        it.spawn(gen, scope, done, frame.cancel)
        return BLOCKED

    def _done(
        self,
        it: Host,
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
        fail(it, frame, context_update(frame.scope.parent_id, op_id, "FAIL", self.sub_type, name), name, err, value)
        it.resume(frame, None, raised)


#: The child context's replay table (the module docstring's), status -> what to do; other statuses raise
#: the recorded error.
_REPLAY: dict[str, Callable[[ChildContext[Any], Host, Frame, str, str | None, OperationDict], Any]] = {
    Status.SUCCEEDED: ChildContext._succeeded,
    Status.STARTED: ChildContext._started,
    **dict.fromkeys(FAILURE_STATUSES, ChildContext._raise_recorded),
}


#: The last StackTrace line of a context's recorded error that names the class its failure raises.
ERROR_CLASS_MARK = "raised as replayflow."


def with_error_class(error: ErrorObjectDict, cls: type[BaseException]) -> ErrorObjectDict:
    """``error`` with a last StackTrace line naming ``cls``, so that replay raises the same class."""
    marked: ErrorObjectDict = {**error}
    marked["StackTrace"] = [*(error.get("StackTrace") or ()), ERROR_CLASS_MARK + cls.__name__]
    return marked


def recorded_error_class(error: ErrorObjectDict) -> tuple[str | None, ErrorObjectDict]:
    """``(class name or None, the error without the mark)`` for a context's recorded ErrorObject."""
    trace = error.get("StackTrace") if isinstance(error, dict) else None
    if not trace or not isinstance(trace[-1], str) or not trace[-1].startswith(ERROR_CLASS_MARK):
        return None, error
    rest: ErrorObjectDict = {**error}
    if len(trace) > 1:
        rest["StackTrace"] = trace[:-1]
    else:
        del rest["StackTrace"]
    return trace[-1][len(ERROR_CLASS_MARK) :], rest


def context_update(
    parent_id: str | None, op_id: str, action: str, sub_type: str, name: str | None
) -> OperationUpdateDict:
    """A CONTEXT update for the operation ``op_id`` whose parent is ``parent_id``."""
    return update("CONTEXT", action, op_id, sub_type, name, parent_id)


def complete_context(
    it: Host,
    parent_id: str | None,
    op_id: str,
    name: str | None,
    sub_type: str,
    serdes: SerDes[Any],
    value: Any,
    summary: str = "",
) -> tuple[str | None, Any]:
    """Queue CONTEXT SUCCEED for ``value``; returns ``(payload, value as replay will see it)``.

    Results over the checkpoint limit are replaced by ``summary`` with ``ReplayChildren`` set.
    """
    context = it.serdes_context(op_id)
    what = f"the result of child context {name!r}"
    payload = serialize(serdes, value, context, what)
    succeed = context_update(parent_id, op_id, "SUCCEED", sub_type, name)
    if payload is not None and too_large(payload):
        succeed["Payload"] = summary
        succeed["ContextOptions"] = {"ReplayChildren": True}
        it.enqueue(succeed)
        return None, value
    if payload is not None:
        succeed["Payload"] = payload
        value = read_back(serdes, payload, context, what)
    it.enqueue(succeed)
    return payload, value

"""The base of every operation descriptor, and the contract between operations and the interpreter.

The interpreter drives a frame (a generator and the scope naming its operations); each value the frame
yields is a :class:`DurableOperation`, and the interpreter calls ``op.run(host, frame)`` with itself as the
:class:`Host`. ``run`` has exactly these exits:

=============================== ============================================================================
``return value``                the operation's result, sent into the frame at once (replay, an inline step)
``return BLOCKED``              the frame waits; the operation has arranged to resume it later: a child or
                                branch frame it spawned finishes, a step body runs on a worker thread
                                (``run_side_effect``), or it parked on a record (``wait_for`` /
                                ``wait_for_ready``) until the service changes it
``raise Throw(error)``          ``error`` is raised into the frame at its ``yield``
``raise`` anything else         an abort (``NonDeterminismError``, ``SerDesError``, ``ServiceError``...: see
                                ``_interpreter._ABORTS``) ends the invocation, as does a malformed record;
                                any other exception (user code run while starting: a namer, a serdes) is
                                raised into the frame
=============================== ============================================================================

The host's services raise what they must through ``run`` untouched: operations never catch them (a dry
run's ``Park`` from ``claim`` / ``run_side_effect``, a ``NonDeterminismError`` from ``claim``).

The callbacks an operation hands the host have the same exits, resolved later: a ``wait_for`` resume
function and a ``run_side_effect`` finish function return the value to send, return ``BLOCKED`` (keep
waiting / a new attempt was started) or raise ``Throw``; ``wait_for_ready`` runs its ``then`` on the
frame's turn (never while a checkpoint answer is being merged). A ``spawn`` on-done callback returns
nothing: it resumes the parent with :meth:`Host.resume`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import threading

    from replayflow._async import EventLoopThread
    from replayflow._context import DurableContext
    from replayflow._hooks import Hooks, OperationInfo
    from replayflow._interpreter import Frame, Interpreter, Scope
    from replayflow._logging import DurableLogger
    from replayflow._serdes import SerDesContext
    from replayflow._wire import OperationDict, OperationUpdateDict

__all__ = [
    "BLOCKED",
    "MAX_NAME_LENGTH",
    "DurableOperation",
    "Host",
    "Operation",
    "Throw",
    "Workflow",
    "check_name",
    "default_name",
    "field",
    "still_pending",
]

#: the service model's ``OperationName``: 1-256 characters of printable ASCII (``[\x20-\x7E]+``)
MAX_NAME_LENGTH = 256

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _Blocked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLOCKED"


#: Returned by ``op.run`` (and by resume and finish functions) when the frame must wait.
BLOCKED: Final = _Blocked()


class Throw(Exception):
    """Raised by an operation to raise ``error`` into the yielding frame."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Host(Protocol):
    """What an operation may use of the interpreter running it (``Interpreter`` is the one host)."""

    @property
    def records(self) -> dict[str, OperationDict]:
        """The history: operation id -> the service's record (merged as checkpoint answers arrive)."""

    @property
    def arn(self) -> str: ...

    @property
    def hooks(self) -> Hooks: ...

    @property
    def logger(self) -> DurableLogger: ...

    def make_context(self, scope: Scope) -> DurableContext:
        """The ``ctx`` of a child or branch scope."""

    #: the event loop thread of ``async def`` bodies (``_async.py``), started on first use
    event_loop: EventLoopThread | None

    def claim(
        self, frame: Frame, op_type: str, sub_type: str | None, name: str | None
    ) -> tuple[str, OperationDict | None]:
        """The frame's next operation id and its record, checked to be the same operation (or ``None``)."""

    def enqueue(self, update: OperationUpdateDict) -> None:
        """Queue a checkpoint update."""

    def flush(self) -> None:
        """Send everything queued now (and merge what the service answers)."""

    def before_side_effect(self, pipelined: bool | None = None) -> None:
        """Make finished work durable (or start sending it, pipelined) before user side effects run."""

    def barrier(self) -> None:
        """What is queued now is made durable before the next side effect runs, even a pipelined one."""

    def run_side_effect(
        self,
        frame: Frame,
        work: Callable[[], object],
        finish: Callable[[bool, Any], object],
        op_id: str = "",
        attempt: int = 1,
    ) -> object:
        """Run ``work`` (user code), inline or on a worker thread; ``finish(ok, value_or_error)`` decides."""

    def wait_for(self, frame: Frame, op_id: str, resume: Callable[[OperationDict], Any], *, timer: bool = False) -> Any:
        """Park ``frame`` until the service changes ``op_id``; ``resume(record)`` decides. Returns BLOCKED."""

    def wait_for_ready(self, frame: Frame, op_id: str, then: Callable[[OperationDict], object]) -> object:
        """Park ``frame`` until a PENDING step is READY; ``then(record)`` goes on. Returns BLOCKED."""

    def spawn(
        self,
        gen: Generator[Any, Any, Any],
        scope: Scope,
        on_done: Callable[[Frame, bool, Any], None],
        cancel: threading.Event | None = None,
    ) -> Frame:
        """Start driving a child frame; ``on_done(frame, ok, value_or_error)`` when it ends."""

    def resume(self, frame: Frame, value: object = None, error: BaseException | None = None) -> None:
        """Continue ``frame`` with ``value`` (or raise ``error`` into it)."""

    def close(self, frame: Frame) -> None:
        """Abandon a frame (an orphaned branch)."""

    def new_cancellation(self, parent: threading.Event | None = None) -> threading.Event:
        """A cancellation signal set with ``parent`` (default: the invocation's shutdown) or on its own."""

    def operation_started(
        self, frame: Frame, op_id: str, op_type: str, sub_type: str | None, name: str | None
    ) -> None: ...

    def operation_ended(
        self,
        frame: Frame,
        op_id: str,
        op_type: str,
        sub_type: str | None,
        name: str | None,
        status: str,
        error: BaseException | None,
    ) -> None: ...

    def info(self, frame: Frame, op_id: str, op_type: str, sub_type: str | None, name: str | None) -> OperationInfo:
        """What hooks are told about an operation."""

    def serdes_context(self, op_id: str) -> SerDesContext: ...

    def decode(self, serdes: Any, payload: str | None, op_id: str, what: object) -> Any:
        """A recorded payload, deserialized (an unreadable one aborts with ``SerDesError``)."""


if TYPE_CHECKING:

    def _interpreter_is_a_host(it: Interpreter) -> Host:
        return it  # mypy checks here that the interpreter provides every service of the contract


def still_pending(rec: OperationDict) -> object:
    """A resume function that never resumes: the frame stays parked (the invocation is ending)."""
    return BLOCKED


def field(index: int) -> Any:
    """A read-only attribute backed by item ``index`` of the operation's tuple."""
    return property(itemgetter(index))


class DurableOperation(tuple[Any, ...], Generic[T_co]):
    """An immutable description of one durable operation (a slotted tuple: cheap to build, cannot change).

    ``result = yield op`` gives the result (typed ``Any``); ``result = yield from op`` gives the same
    result typed as ``T``: iterating an operation yields it once and returns what the interpreter sends back.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __iter__(self) -> Generator[DurableOperation[T_co], Any, T_co]:
        result: T_co = yield self
        return result

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, tuple.__iter__(self), strict=False))
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), tuple(tuple.__iter__(self))))

    def run(self, host: Host, frame: Frame) -> Any:  # pragma: no cover - every subclass overrides
        """Interpret this operation in ``frame``: see the module docstring for the exits."""
        raise NotImplementedError


#: The public name of the descriptor base (``replayflow.Operation``); inside the package it is
#: :class:`DurableOperation` (``Operation`` is also a wire record, ``_wire_typed.Operation``).
Operation = DurableOperation

#: The type of a workflow (or child context) returning ``T``: ``def wf(order, ctx) -> Workflow[Receipt]``.
#: ``x = yield from op`` gives each operation's own type; ``x = yield op`` is ``Any`` (a generator has one
#: send type for all its yields, so that is as precise as Python's typing can be for the plain form).
Workflow = Generator[DurableOperation[Any], Any, T]


def check_name(name: str) -> str:
    """``name`` if the service accepts it as an operation name, else a :class:`ValidationError` saying why."""
    if (name.isascii() and name.isprintable() and len(name) <= MAX_NAME_LENGTH) or not name:
        return name
    from replayflow._errors import ValidationError

    if len(name) > MAX_NAME_LENGTH:
        problem = f"is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    else:
        bad = next(c for c in name if not (c.isascii() and c.isprintable()))
        problem = f"contains {bad!r}, which is not printable ASCII"
    raise ValidationError(
        f"operation name {name[:80]!r}{'...' if len(name) > 80 else ''} {problem}: the service accepts 1 to "
        f"{MAX_NAME_LENGTH} printable ASCII characters (space to '~')"
    )


def default_name(fn: Callable[..., Any]) -> str | None:
    """A function's ``__name__`` (of a ``functools.partial``'s function); ``None`` for lambdas and nameless
    callables."""
    target = getattr(fn, "func", fn)
    name = getattr(target, "__name__", None)
    return None if name is None or name == "<lambda>" else name


def _rebuild(cls: type[DurableOperation[Any]], items: tuple[Any, ...]) -> DurableOperation[Any]:
    return tuple.__new__(cls, items)

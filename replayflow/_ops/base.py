"""The base of every operation descriptor a workflow yields."""

from __future__ import annotations

from collections.abc import Generator
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .._interpreter import Frame, Interpreter

__all__ = ["MAX_NAME_LENGTH", "Operation", "Workflow", "check_name", "field", "update"]

#: the service model's ``OperationName``: 1-256 characters of printable ASCII (``[\x20-\x7E]+``)
MAX_NAME_LENGTH = 256

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


def field(index: int) -> Any:
    """A read-only attribute backed by item ``index`` of the operation's tuple."""
    return property(itemgetter(index))


class Operation(tuple[Any, ...], Generic[T_co]):
    """An immutable description of one durable operation (a slotted tuple: cheap to build, cannot change).

    ``result = yield op`` gives the result (typed ``Any``); ``result = yield from op`` gives the same
    result typed as ``T``: iterating an operation yields it once and returns what the interpreter sends back.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __iter__(self) -> Generator[Operation[T_co], Any, T_co]:
        result: T_co = yield self
        return result

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, tuple.__iter__(self), strict=False))
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), tuple(tuple.__iter__(self))))

    def _run(self, it: Interpreter, frame: Frame) -> Any:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


#: The type of a workflow (or child context) returning ``T``: ``def wf(order, ctx) -> Workflow[Receipt]``.
#: ``x = yield from op`` gives each operation's own type; ``x = yield op`` is ``Any`` (a generator has one
#: send type for all its yields, so that is as precise as Python's typing can be for the plain form).
Workflow = Generator[Operation[Any], Any, T]


def update(
    op_type: str, action: str, op_id: str, sub_type: str | None, name: str | None, parent_id: str | None
) -> dict[str, Any]:
    """An ``OperationUpdate`` wire dict (``Name`` and ``ParentId`` only when there is one; ``""`` is no name,
    as in the official SDK)."""
    result: dict[str, Any] = {"Id": op_id, "Type": op_type, "Action": action, "SubType": sub_type}
    if name:
        result["Name"] = name
    if parent_id is not None:
        result["ParentId"] = parent_id
    return result


def check_name(name: str) -> str:
    """``name`` if the service accepts it as an operation name, else a :class:`ValidationError` saying why."""
    if (name.isascii() and name.isprintable() and len(name) <= MAX_NAME_LENGTH) or not name:
        return name
    from .._errors import ValidationError

    if len(name) > MAX_NAME_LENGTH:
        problem = f"is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    else:
        bad = next(c for c in name if not (c.isascii() and c.isprintable()))
        problem = f"contains {bad!r}, which is not printable ASCII"
    raise ValidationError(
        f"operation name {name[:80]!r}{'...' if len(name) > 80 else ''} {problem}: the service accepts 1 to "
        f"{MAX_NAME_LENGTH} printable ASCII characters (space to '~')"
    )


def _rebuild(cls: type[Operation[Any]], items: tuple[Any, ...]) -> Operation[Any]:
    return tuple.__new__(cls, items)

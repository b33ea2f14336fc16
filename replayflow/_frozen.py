"""A tiny base for immutable records, so that ``import replayflow`` needs neither attrs nor dataclasses.

A subclass lists its fields in ``__slots__``, annotates them (in their order), and writes its own ``__init__``
(typed, checked) that sets each field once with :func:`init`. The base gives what ``attrs.frozen`` gave:
assignment and deletion raise :class:`FrozenInstanceError` (an ``AttributeError``); ``==``, ``hash`` and
``repr`` by fields; copy, pickle and weak references; ``__match_args__`` (positional classes). :func:`evolve` is
``attrs.evolve``. The cattrs converter of ``_serdes`` (un)structures records by their fields
(:func:`register_cattrs`), as it does attrs classes.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, TypeVar

__all__ = ["FrozenInstanceError", "Record", "evolve", "init", "register_cattrs"]

init = object.__setattr__
"""``init(self, name, value)``: set a field in ``__init__`` (plain assignment raises)."""

R = TypeVar("R", bound="Record")


class FrozenInstanceError(AttributeError):
    """A field of an immutable record was assigned or deleted."""

    msg = "can't set attribute"

    def __init__(self) -> None:
        super().__init__(self.msg)


class Record:
    """Immutable, slotted, compared and hashed by its fields (the annotated ``__slots__``, in annotation order)."""

    __slots__ = ("__weakref__",)  # weak references work, as they do to slotted attrs classes
    _fields: tuple[str, ...] = ()
    _get: Any = staticmethod(lambda record: ())  # the fields' values as a tuple (an attrgetter per class)

    def __init_subclass__(cls, kw_only: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slots = cls.__dict__.get("__slots__", ())
        cls._fields = tuple(name for name in cls.__annotations__ if name in slots)
        fields = cls._fields
        if len(fields) > 1:  # a tuple of the values, in C
            cls._get = attrgetter(*fields)
        else:
            cls._get = staticmethod(lambda record: tuple(getattr(record, name) for name in fields))
        if not kw_only:  # positional classes match by position, as attrs classes do
            setattr(cls, "__match_args__", cls._fields)  # noqa: B010 - mypy knows no __match_args__ on a base

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Record):
            return NotImplemented
        return bool(self._get(self) == other._get(other))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((self.__class__, self._get(self)))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"

    def __replace__(self: R, **changes: Any) -> R:
        """``copy.replace(record, field=value)`` (Python 3.13+): :func:`evolve`."""
        return evolve(self, **changes)

    def __getstate__(self) -> tuple[Any, ...]:
        values: tuple[Any, ...] = self._get(self)
        return values

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            init(self, name, value)


def evolve(record: R, **changes: Any) -> R:
    """A copy of ``record`` with ``changes`` (validated again by its ``__init__``), like ``attrs.evolve``."""
    values = {name: getattr(record, name) for name in record._fields}
    values.update(changes)
    return record.__class__(**values)


def register_cattrs(converter: Any) -> None:
    """Teach a cattrs converter records: a dict of the fields, and back through the class's ``__init__``."""
    import typing

    def is_record(cls: Any) -> bool:
        origin = typing.get_origin(cls) or cls
        return isinstance(origin, type) and issubclass(origin, Record)

    def unstructure(record: Record) -> dict[str, Any]:
        return {name: converter.unstructure(getattr(record, name)) for name in record._fields}

    def structure(data: Any, cls: Any) -> Any:
        origin = typing.get_origin(cls) or cls
        hints = _field_types(origin)
        bound = dict(zip(getattr(origin, "__parameters__", ()), typing.get_args(cls), strict=False))
        values = {}
        for name in origin._fields:
            if name in data:
                values[name] = converter.structure(data[name], _bind(hints.get(name, Any), bound))
        return origin(**values)

    converter.register_unstructure_hook_func(is_record, unstructure)
    converter.register_structure_hook_func(is_record, structure)


def _field_types(cls: type[Record]) -> dict[str, Any]:
    """The types of ``cls``'s own fields, evaluated in its defining module (``__init__``'s globals: a public
    class's ``__module__`` is ``replayflow``, where its type variables are not defined)."""
    import typing

    def stand_in() -> None: ...

    stand_in.__annotations__ = {name: cls.__annotations__[name] for name in cls._fields}
    return typing.get_type_hints(stand_in, globalns=getattr(cls.__init__, "__globals__", None))


def _bind(hint: Any, bound: dict[Any, Any]) -> Any:
    """``hint`` with a generic record's type variables replaced by the arguments it was structured as."""
    if isinstance(hint, TypeVar):
        return bound.get(hint, Any)
    params = getattr(hint, "__parameters__", ())
    if params and bound:
        return hint[tuple(bound.get(p, Any) for p in params)]
    return hint

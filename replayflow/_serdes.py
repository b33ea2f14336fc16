"""Turning operation results into checkpoint payloads and back.

The default, :class:`JsonSerDes`, writes compact JSON with orjson. Values orjson does not know natively
(attrs classes, sets, Decimals, bytes...) are unstructured with cattrs first. Reading a payload back gives
plain JSON values, unless a *type* is known (the step function's return annotation, or one passed
explicitly): then cattrs structures the JSON into that type, so a step annotated ``-> Order`` replays as an
``Order``, not a dict.

Any object with ``serialize(value, context) -> str`` and ``deserialize(data, context)`` is a
:class:`SerDes` and can replace the default per operation.
"""

from __future__ import annotations

import collections.abc
import contextlib
import functools
import json
import re
import types
import typing
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, get_args, get_origin

import orjson

from ._errors import SerDesError
from ._frozen import Record, init, register_cattrs

__all__ = [
    "JsonSerDes",
    "PassThroughSerDes",
    "SerDes",
    "SerDesContext",
    "dumps",
    "loads",
    "return_type",
]

T = TypeVar("T")


class SerDesContext(Record):
    """Where a payload belongs: the operation's id and the execution's ARN."""

    __slots__ = ("durable_execution_arn", "operation_id")
    operation_id: str
    durable_execution_arn: str

    def __init__(self, operation_id: str, durable_execution_arn: str) -> None:
        init(self, "operation_id", operation_id)
        init(self, "durable_execution_arn", durable_execution_arn)


class SerDes(Protocol[T]):
    """Serializes values of ``T`` to payload strings and back."""

    def serialize(self, value: T, context: SerDesContext) -> str: ...

    def deserialize(self, data: str, context: SerDesContext) -> T: ...


@functools.cache
def user_converter() -> Any:
    """The cattrs converter for user types (datetimes as ISO strings, bytes as base85, UUIDs and Decimals as
    text); cattrs is imported the first time a value needs it."""
    import decimal
    import uuid

    from cattrs.preconf.orjson import make_converter

    converter = make_converter()
    register_cattrs(converter)  # replayflow's own records (a BatchResult, a Duration...) as attrs classes were
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_structure_hook(uuid.UUID, lambda v, _: v if isinstance(v, uuid.UUID) else uuid.UUID(v))
    converter.register_unstructure_hook(decimal.Decimal, str)
    converter.register_structure_hook(decimal.Decimal, lambda v, _: decimal.Decimal(str(v)))
    from ._pydantic import register_pydantic  # pydantic models, when the user's code uses them

    register_pydantic(converter)
    return converter


_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    unstructured = user_converter().unstructure(value)
    if unstructured is value:
        raise TypeError(f"{type(value).__qualname__} is not JSON serializable")
    return unstructured


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; raises :class:`SerDesError` for values JSON cannot hold."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        if "64-bit" in str(exc):  # integers beyond 64 bits: stdlib json handles them exactly
            try:
                return json.dumps(user_converter().unstructure(value), separators=(",", ":"))
            except (TypeError, ValueError) as inner:
                raise SerDesError(f"cannot serialize {type(value).__qualname__}: {inner}") from inner
        raise SerDesError(f"cannot serialize {type(value).__qualname__}: {exc}") from exc


#: A number with 19 digits or more may not fit 64 bits, and orjson reads such integers as floats (losing
#: digits); text that may hold one is parsed with the stdlib instead, which keeps integers exact.
LONG_NUMBER = re.compile(r"\d{19}")
SHORT_PAYLOAD = 19  # shorter JSON text cannot hold such a number: orjson is exact for it


def loads(data: str) -> Any:
    """Parse JSON text exactly (integers of any size); raises :class:`SerDesError` naming what is wrong."""
    try:
        if len(data) < SHORT_PAYLOAD or not LONG_NUMBER.search(data):
            return orjson.loads(data)
        return json.loads(data, parse_constant=_no_constant)
    except ValueError as exc:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
        raise SerDesError(f"payload is not valid JSON ({exc}): {data[:80]!r}") from exc
    except RecursionError:  # the stdlib parser on deeply nested text (orjson stops at 1,024 levels itself)
        raise SerDesError(f"payload is nested too deeply to read: {data[:80]!r}") from None
    except TypeError as exc:  # not text at all
        raise SerDesError(f"payload must be JSON text, got {type(data).__name__}") from exc


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: rejected as orjson rejects them, whatever the payload holds."""
    raise ValueError(f"{name} is not valid JSON")


class JsonSerDes:
    """The default serdes: compact JSON; ``type_`` (optional) is structured back with cattrs."""

    __slots__ = ("type_",)

    def __init__(self, type_: Any = None) -> None:
        self.type_ = type_ if needs_structuring(type_) else None

    def serialize(self, value: Any, context: SerDesContext | None = None) -> str:
        return dumps(value)

    def deserialize(self, data: str, context: SerDesContext | None = None) -> Any:
        value = loads(data)
        if self.type_ is None:
            return value
        try:
            return user_converter().structure(value, self.type_)
        except Exception as exc:
            raise SerDesError(f"cannot read payload as {self.type_!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"JsonSerDes({self.type_!r})" if self.type_ is not None else "JsonSerDes()"


class OperationSerDes(JsonSerDes):
    """The default serdes of operation results: :class:`JsonSerDes` that also reads the official SDK's
    envelopes, and writes a dict shaped like one so that it reads back as itself (``replayflow._envelope``)."""

    __slots__ = ()

    def serialize(self, value: Any, context: SerDesContext | None = None) -> str:
        if type(value) is dict and len(value) == 2 and "t" in value and "v" in value:
            from ._envelope import escape

            return escape(value)
        return JsonSerDes.serialize(self, value, context)

    def deserialize(self, data: str, context: SerDesContext | None = None) -> Any:
        if data.startswith(ENVELOPE_HEAD):
            from ._envelope import read_enveloped

            return read_enveloped(self, data)
        return JsonSerDes.deserialize(self, data, context)


#: How the text of an official SDK envelope begins.
ENVELOPE_HEAD = '{"t":'


class PassThroughSerDes:
    """Payloads are strings and stay strings (the default for callback results)."""

    __slots__ = ()

    def serialize(self, value: Any, context: SerDesContext | None = None) -> str:
        if not isinstance(value, str):
            raise SerDesError(f"PassThroughSerDes needs a str, got {type(value).__qualname__}")
        return value

    def deserialize(self, data: str, context: SerDesContext | None = None) -> Any:
        return data


_PLAIN = frozenset({Any, object, str, int, float, bool, type(None), dict, list})


def needs_structuring(tp: Any) -> bool:
    """Whether JSON parsed with orjson must go through cattrs to become ``tp``."""
    if tp is None or tp in _PLAIN:
        return False
    origin = get_origin(tp)
    if origin in (dict, list, typing.Union, types.UnionType):
        return any(needs_structuring(arg) for arg in get_args(tp) if arg is not Ellipsis)
    return True


DEFAULT_SERDES = OperationSerDes()

_RETURN_TYPES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


_RETURNING = frozenset({collections.abc.Generator, typing.Generator})
_GENERATORS = _RETURNING | {collections.abc.Iterator, collections.abc.Iterable, typing.Iterator, typing.Iterable}


def return_type(fn: Callable[..., Any]) -> Any:
    """What ``fn``'s results must be structured into, from its return annotation, else ``None`` (cached).

    For a generator function (a workflow, child context or branch body) that is the generator's return type.
    """
    target = getattr(fn, "func", fn)  # functools.partial
    annotations = getattr(target, "__annotations__", None)
    if not annotations or "return" not in annotations:
        return None
    code = getattr(target, "__code__", None)
    key = code if code is not None else target
    try:
        return _RETURN_TYPES[key]
    except (KeyError, TypeError):
        pass
    try:
        hint = typing.get_type_hints(target).get("return")
    except Exception:  # unresolvable forward references: fall back to plain JSON
        hint = None
    if get_origin(hint) in _GENERATORS:  # a workflow, child context or branch: the generator's return type
        args = get_args(hint)
        hint = args[2] if get_origin(hint) in _RETURNING and len(args) == 3 else None
    hint = hint if needs_structuring(hint) else None
    with contextlib.suppress(TypeError):  # objects that cannot be weakly referenced are not cached
        _RETURN_TYPES[key] = hint
    return hint


_TYPED_SERDES: dict[Any, OperationSerDes] = {}
#: function code -> the serdes of its results (functions made by the same ``def`` share their annotations)
SERDES_BY_CODE: dict[Any, Any] = {}


def typed_serdes(tp: Any) -> Any:
    """The JSON serdes structuring into ``tp`` (``None``: the plain default), shared per type."""
    if tp is None:
        return DEFAULT_SERDES
    try:
        found = _TYPED_SERDES.get(tp)
    except TypeError:  # an unhashable type expression
        return OperationSerDes(tp)
    if found is None:
        found = _TYPED_SERDES[tp] = OperationSerDes(tp)
    return found


def serdes_for(fn: Callable[..., Any]) -> Any:
    """The default serdes of ``fn``'s results: JSON, structured into its return type when that needs it."""
    try:
        code = fn.__code__
    except AttributeError:
        return typed_serdes(return_type(fn))
    found = SERDES_BY_CODE.get(code)
    if found is None:
        found = SERDES_BY_CODE[code] = typed_serdes(return_type(fn))
    return found

"""The official AWS SDK's payload envelope, read and written exactly.

The official Python SDK (``aws_durable_execution_sdk_python``, ``serdes.py``) writes ``None``, ``str``,
``int``, ``float``, ``bool`` and lists made only of those as plain compact JSON, and everything else as
``{"t": TAG, "v": VALUE}``, recursively (inside a wrapped container every element is wrapped)::

    n None   s str   i int   f float   b bool   B bytes (base64)   u UUID   d Decimal (text)
    dt datetime (ISO)   D date (ISO)   t tuple (a list)   l list   m dict   br a batch result

A batch result (``br``) is the dict ``{"all": [{"index", "status", "result", "error"}...],
"completionReason"}`` encoded the same way; ``error`` is an ``ErrorObject`` dict (``ErrorMessage``,
``ErrorType``, ``ErrorData``, ``StackTrace``, each only when set).

:class:`EnvelopeSerDes` writes that format byte for byte (stdlib ``json`` with the SDK's separators) and
reads it into the values the official SDK would give (a batch result becomes a
:class:`replayflow.BatchResult`). Reading is lenient where it cannot be mistaken: a payload whose root is
not an envelope is plain JSON. :data:`OFFICIAL_FORMAT` is every payload kind as the official SDK writes it,
for ``@durable(serdes=OFFICIAL_FORMAT)``.

replayflow's default serdes reads envelopes too (:func:`read_payload`): an envelope at the root of an
operation's payload is decoded, anything else is plain JSON. So that no plain value can be mistaken for an
envelope, the default serdes writes a dict whose only keys are ``t`` and ``v`` as the envelope of that dict
(:func:`escape`), which both SDKs read back as the same dict.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._errors import (
    BatchError,
    CallbackError,
    CallbackFailedError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableOperationError,
    InvokeError,
    SerDesError,
    StepError,
    StepInterruptedError,
    WaitForConditionError,
)
from ._frozen import Record, init
from ._ops.batch import BatchItem, BatchItemStatus, BatchResult, CompletionReason
from ._serdes import JsonSerDes, PassThroughSerDes, SerDes, SerDesContext, dumps, serdes_for, user_converter

__all__ = [
    "OFFICIAL_FORMAT",
    "EnvelopeSerDes",
    "PayloadFormat",
    "decode",
    "encode",
    "escape",
    "is_envelope",
    "official_error",
    "payload_format",
    "read_payload",
]

#: Every tag the official SDK writes.
TAGS = frozenset({"n", "s", "i", "f", "b", "B", "u", "d", "dt", "D", "t", "l", "m", "br"})
_SEPARATORS = (",", ":")


def is_envelope(obj: Any) -> bool:
    """Whether a parsed payload is an envelope at its root: exactly the keys ``t`` (a known tag) and ``v``."""
    return type(obj) is dict and len(obj) == 2 and "v" in obj and type(obj.get("t")) is str and obj["t"] in TAGS


def is_primitive(obj: Any) -> bool:
    """What the official SDK writes as plain JSON: JSON scalars and lists made only of them."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return True
    if isinstance(obj, list):
        return all(is_primitive(item) for item in obj)
    return False


# -- writing ------------------------------------------------------------------------------------------------


def encode(value: Any) -> dict[str, Any]:
    """The envelope tree of ``value`` (what the official SDK's ``TypeCodec.encode`` builds)."""
    if value is None:
        return {"t": "n", "v": None}
    for kinds, tag, write in _scalar_encoders():
        if isinstance(value, kinds):
            return {"t": tag, "v": write(value)}
    if isinstance(value, BatchResult):
        return {"t": "br", "v": encode(batch_to_dict(value))["v"]}
    if isinstance(value, list):
        return {"t": "l", "v": [encode(item) for item in value]}
    if isinstance(value, tuple):
        return {"t": "t", "v": [encode(item) for item in value]}
    if isinstance(value, dict):
        if any(isinstance(key, tuple) for key in value):
            raise SerDesError("Tuple keys not supported")
        return {"t": "m", "v": {key: encode(item) for key, item in value.items()}}
    if isinstance(value, set | frozenset):
        return encode(list(value))
    unstructured = user_converter().unstructure(value)  # attrs classes, dataclasses, enums...
    if unstructured is value:
        raise SerDesError(f"Unsupported type: {type(value)}")
    return encode(unstructured)


def _same(value: Any) -> Any:
    return value


@functools.cache
def _scalar_encoders() -> tuple[tuple[type[Any] | tuple[type[Any], ...], str, Callable[[Any], Any]], ...]:
    """``(classes, tag, how the value is written)`` of the scalar envelopes, tried in order (bool before int,
    datetime before date); built (importing base64 and decimal) the first time a value is written."""
    import base64
    import decimal

    return (
        (str, "s", _same),
        (bool, "b", _same),
        (int, "i", _same),
        (float, "f", _same),
        ((bytes, bytearray, memoryview), "B", lambda value: base64.b64encode(bytes(value)).decode("utf-8")),
        (uuid.UUID, "u", str),
        (decimal.Decimal, "d", str),
        (_dt.datetime, "dt", lambda value: value.isoformat()),
        (_dt.date, "D", lambda value: value.isoformat()),
    )


def dumps_envelope(value: Any) -> str:
    """The payload text the official SDK writes for ``value``."""
    try:
        tree = value if is_primitive(value) else encode(value)
        return json.dumps(tree, separators=_SEPARATORS)
    except SerDesError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerDesError(f"cannot serialize {type(value).__qualname__} as an envelope: {exc}") from exc


def escape(value: dict[Any, Any]) -> str:
    """A plain dict shaped like an envelope (keys ``t`` and ``v`` only), written so it reads back as itself."""
    return dumps_envelope(value)


# -- reading ------------------------------------------------------------------------------------------------


def decode(tag: str, value: Any) -> Any:
    """The value of one envelope (the official SDK's ``TypeCodec.decode``); malformed input: ``SerDesError``."""
    try:
        return _decode(tag, value)
    except SerDesError:
        raise
    except _malformed() as exc:  # evaluated only when something was raised
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise SerDesError(f"malformed envelope {{'t': {tag!r}, 'v': {shown}}}: {type(exc).__name__}") from exc


def _malformed() -> tuple[type[Exception], ...]:
    """What a malformed envelope's value raises while it is read."""
    import binascii
    import decimal

    return (TypeError, ValueError, AttributeError, KeyError, decimal.InvalidOperation, binascii.Error)


def _decode(tag: str, value: Any) -> Any:
    read = _scalar_decoders().get(tag)
    if read is not None:
        return read(value)
    if tag in ("l", "t"):
        if not isinstance(value, list):
            raise SerDesError(f"malformed envelope {{'t': {tag!r}}}: expected a list, got {type(value).__name__}")
        items = [_unwrap(item) for item in value]
        return items if tag == "l" else tuple(items)
    if tag in ("m", "br"):
        if not isinstance(value, dict):
            raise SerDesError(f"malformed envelope {{'t': {tag!r}}}: expected a dict, got {type(value).__name__}")
        decoded = {key: _unwrap(item) for key, item in value.items()}
        return decoded if tag == "m" else batch_from_dict(decoded)
    raise SerDesError(f'Unknown type tag: "{tag}"')


def _read_datetime(value: Any) -> _dt.datetime:
    text = value[:-1] + "+00:00" if isinstance(value, str) and value.endswith("Z") else value
    return _dt.datetime.fromisoformat(text)


@functools.cache
def _scalar_decoders() -> dict[str, Callable[[Any], Any]]:
    """How the value of each scalar envelope is read (a malformed one raises; :func:`decode` names it); built
    (importing base64 and decimal) the first time an envelope is read."""
    import base64
    import decimal

    return {
        "n": lambda value: None,
        "s": str,
        "b": bool,
        "i": int,
        "f": float,
        "B": lambda value: base64.b64decode(value.encode("utf-8")),
        "u": uuid.UUID,
        "d": decimal.Decimal,
        "dt": _read_datetime,
        "D": _dt.date.fromisoformat,
    }


def _unwrap(obj: Any) -> Any:
    if type(obj) is dict and "t" in obj and "v" in obj:
        tag = obj["t"]
        if type(tag) is not str or tag not in TAGS:
            raise SerDesError(f'Unknown type tag: "{tag}"')
        return decode(tag, obj["v"])
    return obj


def read_value(obj: Any) -> Any:
    """A parsed payload as the official SDK reads it: an envelope at the root is decoded, the rest is kept."""
    if is_envelope(obj):
        return decode(obj["t"], obj["v"])
    return obj


def read_enveloped(serdes: JsonSerDes, data: str) -> Any:
    """What replayflow's default serdes reads from text that may be an envelope (see the module docstring)."""
    try:
        obj = json.loads(data)
    except ValueError:
        return JsonSerDes.deserialize(serdes, data)  # it says what is wrong
    if not is_envelope(obj):
        return JsonSerDes.deserialize(serdes, data)
    value = decode(obj["t"], obj["v"])
    if serdes.type_ is None:
        return value
    return JsonSerDes.deserialize(serdes, dumps(value))


def read_payload(data: str) -> Any:
    """Parse payload text, decoding an envelope at its root (big integers stay exact)."""
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise SerDesError(f"payload is not valid JSON ({exc}): {data[:80]!r}") from exc
    return read_value(obj)


# -- batch results ------------------------------------------------------------------------------------------


def batch_to_dict(result: BatchResult[Any]) -> dict[str, Any]:
    """The official ``BatchResult.to_dict()`` form of a replayflow batch result."""
    from ._ops.outcome import error_object

    return {
        "all": [
            {
                "index": item.index,
                "status": item.status.value,
                "result": item.result,
                "error": dict(error_object(item.error)) if item.error is not None else None,
            }
            for item in result.all
        ],
        "completionReason": result.completion_reason.value,
    }


def batch_from_dict(data: Mapping[str, Any]) -> BatchResult[Any]:
    """A replayflow :class:`BatchResult` from the official ``BatchResult.to_dict()`` form."""
    try:
        entries = data["all"]
        items = [
            BatchItem(
                entry["index"],
                BatchItemStatus(entry["status"]),
                entry.get("result"),
                ChildContextError.from_error_object(entry["error"]) if entry.get("error") else None,
            )
            for entry in entries
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise SerDesError(f"malformed batch result envelope: {type(exc).__name__}: {exc}") from exc
    reason = data.get("completionReason")
    if reason is None:  # the official SDK infers it too
        failed = any(item.status is BatchItemStatus.FAILED for item in items)
        return BatchResult(
            items, CompletionReason.FAILURE_TOLERANCE_EXCEEDED if failed else CompletionReason.ALL_COMPLETED
        )
    try:
        return BatchResult(items, CompletionReason(reason))
    except ValueError:
        raise SerDesError(
            f"the batch result's completion reason {reason!r} (a custom should_complete of the official SDK) "
            f"has no replayflow equivalent"
        ) from None


def read_batch(data: str) -> BatchResult[Any]:
    """A batch result recorded as an envelope (``br``); any other envelope is a ``SerDesError``."""
    value = read_payload(data)
    if not isinstance(value, BatchResult):
        raise SerDesError(f"expected a batch result envelope ('br'), got {type(value).__name__}: {data[:80]!r}")
    return value


# -- the serdes ---------------------------------------------------------------------------------------------


class EnvelopeSerDes:
    """The official SDK's envelope format (its default serdes), both ways.

    ``type_`` (optional): decoded values are structured into it with cattrs, as :class:`JsonSerDes` does.
    """

    __slots__ = ("_typed",)

    def __init__(self, type_: Any = None) -> None:
        self._typed: Any = JsonSerDes(type_) if type_ is not None else None

    @property
    def type_(self) -> Any:
        return self._typed.type_ if self._typed is not None else None

    def serialize(self, value: Any, context: SerDesContext | None = None) -> str:
        return dumps_envelope(value)

    def deserialize(self, data: str, context: SerDesContext | None = None) -> Any:
        value = read_payload(data)
        typed = self._typed
        if typed is None or typed.type_ is None:
            return value
        return typed.deserialize(dumps(value))

    def __repr__(self) -> str:
        return f"EnvelopeSerDes({self.type_!r})" if self.type_ is not None else "EnvelopeSerDes()"


ENVELOPE = EnvelopeSerDes()
_ENVELOPE_BY_TYPE: dict[Any, EnvelopeSerDes] = {}


def envelope_for(tp: Any) -> EnvelopeSerDes:
    """The envelope serdes structuring into ``tp`` (``None``: plain values), shared per type."""
    if tp is None:
        return ENVELOPE
    try:
        found = _ENVELOPE_BY_TYPE.get(tp)
    except TypeError:
        return EnvelopeSerDes(tp)
    if found is None:
        found = _ENVELOPE_BY_TYPE[tp] = EnvelopeSerDes(tp)
    return found


# -- handler-wide formats -----------------------------------------------------------------------------------


class PayloadFormat(Record):
    """The serdes of every kind of payload of a handler (``@durable(serdes=...)``).

    A field left ``None`` keeps replayflow's default for that kind. ``operations`` serializes step, child
    context, map/parallel branch and wait_for_condition results (typed by the function's return annotation
    when it is an :class:`EnvelopeSerDes`); ``batch`` the map/parallel results; ``callback`` callback
    results; ``invoke`` chained-invoke payloads and results; ``result`` the execution's result.
    """

    __slots__ = ("batch", "callback", "invoke", "operations", "result")
    operations: Any
    batch: Any
    callback: Any
    invoke: Any
    result: Any

    def __init__(
        self, operations: Any = None, batch: Any = None, callback: Any = None, invoke: Any = None, result: Any = None
    ) -> None:
        init(self, "operations", operations)
        init(self, "batch", batch)
        init(self, "callback", callback)
        init(self, "invoke", invoke)
        init(self, "result", result)

    @classmethod
    def uniform(cls, serdes: SerDes[Any]) -> PayloadFormat:
        """Every payload through ``serdes`` (map/parallel results keep their shape, items through it)."""
        return cls(operations=serdes, callback=serdes, invoke=serdes, result=serdes)

    def for_function(self, fn: Any, result_type: Any = None) -> Any:
        """The serdes of ``fn``'s results under this format (``None``: replayflow's default)."""
        serdes = self.operations
        if isinstance(serdes, EnvelopeSerDes) and serdes is ENVELOPE:
            if result_type is not None:
                return envelope_for(result_type)
            typed = serdes_for(fn)
            return envelope_for(typed.type_) if isinstance(typed, JsonSerDes) else ENVELOPE
        return serdes


#: Payloads as the official SDK writes them: envelopes for operation results (steps, child contexts,
#: map/parallel branches and results, wait_for_condition state), raw text for callbacks, plain JSON for
#: chained invokes and the execution's result.
OFFICIAL_FORMAT = PayloadFormat(operations=ENVELOPE, batch=ENVELOPE, callback=PassThroughSerDes())


def payload_format(serdes: Any) -> PayloadFormat | None:
    """``@durable(serdes=...)`` as a :class:`PayloadFormat` (a plain serdes applies to every payload)."""
    if serdes is None or isinstance(serdes, PayloadFormat):
        return serdes
    if not (callable(getattr(serdes, "serialize", None)) and callable(getattr(serdes, "deserialize", None))):
        from ._errors import ValidationError

        raise ValidationError(f"serdes must be a SerDes or a PayloadFormat, got {serdes!r}")
    return PayloadFormat.uniform(serdes)


# -- errors recorded by the official SDK --------------------------------------------------------------------

#: The ``ErrorType`` the official SDK records for its own wrapper classes, and replayflow's matching class.
OFFICIAL_PREFIX = "aws_durable_execution_sdk_python."
OFFICIAL_ERRORS: dict[str, type[Exception]] = {
    OFFICIAL_PREFIX + "exceptions.DurableOperationError": DurableOperationError,
    OFFICIAL_PREFIX + "exceptions.StepError": StepError,
    OFFICIAL_PREFIX + "exceptions.StepInterruptedError": StepInterruptedError,
    OFFICIAL_PREFIX + "exceptions.InvokeError": InvokeError,
    OFFICIAL_PREFIX + "exceptions.ChildContextError": ChildContextError,
    OFFICIAL_PREFIX + "exceptions.WaitForConditionError": WaitForConditionError,
    OFFICIAL_PREFIX + "exceptions.CallbackError": CallbackError,
    OFFICIAL_PREFIX + "exceptions.CallbackExternalError": CallbackFailedError,
    OFFICIAL_PREFIX + "exceptions.CallbackTimeoutError": CallbackTimeoutError,
    OFFICIAL_PREFIX + "exceptions.CallbackSubmitterError": CallbackSubmitterError,
    OFFICIAL_PREFIX + "exceptions.SerDesError": SerDesError,
    OFFICIAL_PREFIX + "concurrency.models.BatchCompletionError": BatchError,
}


_E = TypeVar("_E", bound=DurableOperationError)


def official_error(error: _E) -> _E:
    """``error`` (an operation's recorded failure) when its ``error_type`` is an official SDK wrapper class.

    As in the official SDK, the operation's class is kept and ``__cause__`` is the recorded error rebuilt as
    replayflow's matching class; when that class is a subclass of the operation's (a ``StepError`` recorded
    as ``StepInterruptedError``), the error is raised as that subclass itself.
    """
    matching = OFFICIAL_ERRORS.get(error.error_type or "")
    if matching is None:
        return error
    if issubclass(matching, type(error)) and matching is not type(error):
        return error.as_subclass(matching)
    cause: Exception
    if issubclass(matching, DurableOperationError):
        cause = matching(
            error.error_message,
            error_type=error.error_type,
            error_data=error.error_data,
            stack_trace=error.stack_trace,
        )
    else:
        cause = matching(error.error_message or "")
    error.__cause__ = cause
    return error


# -- which format a history uses ----------------------------------------------------------------------------

_RESULT_DETAILS = ("StepDetails", "ContextDetails")


class HistoryFormat(Record):
    """How the operation results of a history were written: ``envelopes`` and ``plain`` count the results
    only one of the formats could have written (JSON scalars and lists of them read the same in both)."""

    __slots__ = ("envelopes", "plain")
    envelopes: int
    plain: int

    def __init__(self, envelopes: int, plain: int) -> None:
        init(self, "envelopes", envelopes)
        init(self, "plain", plain)

    @property
    def kind(self) -> str:
        """``"official"``, ``"plain"``, ``"mixed"`` or ``"either"`` (nothing tells the formats apart)."""
        if self.envelopes and self.plain:
            return "mixed"
        if self.envelopes:
            return "official"
        return "plain" if self.plain else "either"

    def describe(self) -> str:
        kind = self.kind
        if kind == "official":
            return f"the official SDK's envelopes ({self.envelopes} results)"
        if kind == "mixed":
            return f"mixed: {self.envelopes} results in the official SDK's envelopes, {self.plain} in plain JSON"
        if kind == "plain":
            return f"plain JSON ({self.plain} results)"
        return "JSON scalars only (the same in both formats)"


def history_format(operations: Any) -> HistoryFormat:
    """Classify the recorded results of ``operations`` (operation records)."""
    envelopes = plain = 0
    for op in operations:
        for key in _RESULT_DETAILS:
            details = op.get(key)
            payload = details.get("Result") if isinstance(details, dict) else None
            if not isinstance(payload, str) or details.get("ReplayChildren"):
                continue
            try:
                value = json.loads(payload)
            except ValueError:
                continue
            if is_envelope(value):
                envelopes += 1
            elif not is_primitive(value):
                plain += 1
    return HistoryFormat(envelopes, plain)


def writes_official(handler: Any) -> bool:
    """Whether a handler (or workflow) writes operation results in the official SDK's format."""
    fmt = getattr(handler, "payload_format", None)
    return isinstance(fmt, PayloadFormat) and isinstance(fmt.operations, EnvelopeSerDes)

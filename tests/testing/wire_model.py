"""A typed model of the wire's ``Operation`` (frozen attrs classes and a cattrs converter), for tests.

It checks that what the testing toolkit builds is a service ``Operation`` and nothing else: a dict that
round-trips through :class:`Operation` unchanged holds only the service model's PascalCase names, with
the model's types (timestamps as epoch milliseconds on the wire, aware UTC datetimes here).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from replayflow._wire import epoch_ms

if TYPE_CHECKING:
    import cattrs


@attrs.frozen
class ErrorObject:
    """The service's ``ErrorObject``."""

    error_type: str | None = None
    error_message: str | None = None
    error_data: str | None = None
    stack_trace: tuple[str, ...] | None = None


@attrs.frozen
class ExecutionDetails:
    input_payload: str | None = None


@attrs.frozen
class StepDetails:
    attempt: int | None = None
    next_attempt_timestamp: _dt.datetime | None = None
    result: str | None = None
    error: ErrorObject | None = None


@attrs.frozen
class WaitDetails:
    scheduled_end_timestamp: _dt.datetime | None = None


@attrs.frozen
class CallbackDetails:
    callback_id: str | None = None
    result: str | None = None
    error: ErrorObject | None = None


@attrs.frozen
class ChainedInvokeDetails:
    result: str | None = None
    error: ErrorObject | None = None


@attrs.frozen
class ContextDetails:
    replay_children: bool | None = None
    result: str | None = None
    error: ErrorObject | None = None


@attrs.frozen
class Operation:
    """One checkpointed operation, as stored by the service."""

    id: str
    type: str
    status: str
    start_timestamp: _dt.datetime | None = None
    parent_id: str | None = None
    name: str | None = None
    sub_type: str | None = None
    end_timestamp: _dt.datetime | None = None
    execution_details: ExecutionDetails | None = None
    context_details: ContextDetails | None = None
    step_details: StepDetails | None = None
    wait_details: WaitDetails | None = None
    callback_details: CallbackDetails | None = None
    chained_invoke_details: ChainedInvokeDetails | None = None


_WIRE_CLASSES: tuple[type[Any], ...] = (
    ErrorObject,
    ExecutionDetails,
    StepDetails,
    WaitDetails,
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    Operation,
)

_SNAKE = re.compile(r"_([a-z])")


def wire_name(attribute: str) -> str:
    """``next_attempt_delay_seconds`` -> ``NextAttemptDelaySeconds`` (the service model's member names)."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), attribute[:1].upper() + attribute[1:])


def from_epoch_ms(value: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(value / 1000, tz=_dt.UTC)


def _structure_timestamp(value: Any, _: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected epoch milliseconds or a datetime, got {value!r}")
    return from_epoch_ms(value)


@functools.cache
def wire_converter() -> cattrs.Converter:
    """The converter between the typed view and wire dicts (built, and cattrs imported, on first use)."""
    import cattrs
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(_dt.datetime, _structure_timestamp)
    conv.register_unstructure_hook(_dt.datetime, epoch_ms)
    conv.register_unstructure_hook(tuple, list)
    for cls in _WIRE_CLASSES:
        names: dict[str, Any] = {a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cls)}
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **names))
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **names))
    return conv


_T = TypeVar("_T")


def to_wire(value: Any) -> Any:
    """Unstructure a wire class (or a list of them) into the service's JSON shape."""
    return wire_converter().unstructure(value)


def from_wire(data: Any, cls: type[_T]) -> _T:
    """Structure a wire dict into ``cls``; raises ``cattrs`` errors naming the bad field."""
    return wire_converter().structure(data, cls)

"""The durable execution wire protocol: names, shapes and the cattrs converter.

Two representations of the same JSON live here:

* ``TypedDict`` shapes (``OperationDict``, ``OperationUpdateDict``, ...) are the raw wire dicts exactly as
  the service sends them in the invocation event and in API responses. The interpreter works on these
  directly, so replaying 100,000 operations never builds 100,000 objects.
* Frozen, slotted attrs classes (``Operation``, ``OperationUpdate``, ``ErrorObject``, ...) are the typed view
  for code that wants one (the local service, the testing toolkit). ``to_wire`` / ``from_wire`` convert with
  cattrs: field names are the service model's PascalCase names, ``None`` fields are omitted, and timestamps
  are epoch milliseconds on the wire (the invocation event's format) and aware UTC datetimes in Python.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import re
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, TypeVar

import attrs

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "CHECKPOINT_BATCH_MAX_BYTES",
    "CHECKPOINT_BATCH_MAX_UPDATES",
    "CHECKPOINT_PAYLOAD_LIMIT_BYTES",
    "ERROR_OBJECT_LIMIT_BYTES",
    "MAX_WAIT_SECONDS",
    "RESPONSE_LIMIT_BYTES",
    "CallbackDetails",
    "CallbackOptions",
    "ChainedInvokeDetails",
    "ChainedInvokeOptions",
    "ContextDetails",
    "ContextOptions",
    "ErrorObject",
    "ExecutionDetails",
    "InvocationOutput",
    "Operation",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "OperationUpdate",
    "StepDetails",
    "StepOptions",
    "WaitDetails",
    "WaitOptions",
    "from_wire",
    "to_wire",
]

# ---------------------------------------------------------------------------------------------------------
# Limits (botocore model + the service's documented limits)
# ---------------------------------------------------------------------------------------------------------

#: Largest Lambda response payload the handler may return (6 MB minus the envelope allowance).
RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024 - 50
#: Largest payload a single operation checkpoint may carry; bigger child results use ReplayChildren.
CHECKPOINT_PAYLOAD_LIMIT_BYTES = 256 * 1024
#: Limits of one CheckpointDurableExecution request.
CHECKPOINT_BATCH_MAX_UPDATES = 250
CHECKPOINT_BATCH_MAX_BYTES = 750 * 1024
#: Largest serialized ErrorObject the service accepts.
ERROR_OBJECT_LIMIT_BYTES = 32 * 1024
#: WaitOptions.WaitSeconds / StepOptions.NextAttemptDelaySeconds upper bound (366 days).
MAX_WAIT_SECONDS = 31_622_400


class OperationType(enum.StrEnum):
    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


class OperationStatus(enum.StrEnum):
    STARTED = "STARTED"
    PENDING = "PENDING"
    READY = "READY"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"


TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})


class OperationAction(enum.StrEnum):
    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class OperationSubType(enum.StrEnum):
    """The SubType strings the SDKs record (custom subtypes are allowed too)."""

    STEP = "Step"
    WAIT = "Wait"
    CALLBACK = "Callback"
    RUN_IN_CHILD_CONTEXT = "RunInChildContext"
    MAP = "Map"
    MAP_ITERATION = "MapIteration"
    PARALLEL = "Parallel"
    PARALLEL_BRANCH = "ParallelBranch"
    WAIT_FOR_CALLBACK = "WaitForCallback"
    WAIT_FOR_CONDITION = "WaitForCondition"
    CHAINED_INVOKE = "ChainedInvoke"


InvocationStatus = Literal["SUCCEEDED", "FAILED", "PENDING"]

# ---------------------------------------------------------------------------------------------------------
# Raw wire shapes (what the interpreter reads and writes)
# ---------------------------------------------------------------------------------------------------------


class ErrorObjectDict(TypedDict, total=False):
    ErrorType: str
    ErrorMessage: str
    ErrorData: str
    StackTrace: list[str]


class StepDetailsDict(TypedDict, total=False):
    Attempt: int
    NextAttemptTimestamp: int
    Result: str
    Error: ErrorObjectDict


class OperationDict(TypedDict, total=False):
    """One ``Operation`` of the service model; timestamps are epoch milliseconds."""

    Id: str
    ParentId: str
    Name: str
    Type: str
    SubType: str
    Status: str
    StartTimestamp: int
    EndTimestamp: int
    ExecutionDetails: dict[str, Any]
    ContextDetails: dict[str, Any]
    StepDetails: StepDetailsDict
    WaitDetails: dict[str, Any]
    CallbackDetails: dict[str, Any]
    ChainedInvokeDetails: dict[str, Any]


class OperationUpdateDict(TypedDict, total=False):
    Id: str
    ParentId: str
    Name: str
    Type: str
    SubType: str
    Action: str
    Payload: str
    Error: ErrorObjectDict
    ContextOptions: dict[str, Any]
    StepOptions: dict[str, Any]
    WaitOptions: dict[str, Any]
    CallbackOptions: dict[str, Any]
    ChainedInvokeOptions: dict[str, Any]


class ExecutionStateDict(TypedDict):
    Operations: list[OperationDict]
    NextMarker: NotRequired[str | None]


class InvocationInputDict(TypedDict):
    """The event Lambda passes to a durable function's handler."""

    DurableExecutionArn: str
    CheckpointToken: str
    InitialExecutionState: ExecutionStateDict
    UpdatedOperationIds: NotRequired[list[str]]


class InvocationOutputDict(TypedDict, total=False):
    Status: str
    Result: str
    Error: ErrorObjectDict


class CheckpointRequest(TypedDict):
    """``CheckpointDurableExecution`` request parameters (boto3 keyword arguments)."""

    DurableExecutionArn: str
    CheckpointToken: str
    Updates: list[OperationUpdateDict]
    ClientToken: NotRequired[str]


class CheckpointResponse(TypedDict):
    """``CheckpointDurableExecution`` response; ``CheckpointToken`` is absent when revoked or finished."""

    CheckpointToken: NotRequired[str]
    NewExecutionState: ExecutionStateDict


class GetStateRequest(TypedDict):
    """``GetDurableExecutionState`` request parameters."""

    DurableExecutionArn: str
    CheckpointToken: str
    Marker: NotRequired[str]
    MaxItems: NotRequired[int]


class GetStateResponse(TypedDict):
    Operations: list[OperationDict]
    NextMarker: NotRequired[str | None]


_INTERNED: dict[str, str] = {
    value: value
    for value in (
        *(member.value for member in OperationType),
        *(member.value for member in OperationStatus),
        *(member.value for member in OperationSubType),
    )
}


def intern_value(operations: Any, records: dict[str, OperationDict]) -> None:
    """Index ``operations`` by Id into ``records``, sharing one string object per Type/Status/SubType value.

    JSON parsers make a new string for every value; sharing the few distinct ones saves about 160 bytes per
    operation of a large history.
    """
    interned = _INTERNED.get
    for op in operations:
        value = op["Type"]
        op["Type"] = interned(value, value)
        value = op["Status"]
        op["Status"] = interned(value, value)
        value = op.get("SubType")
        if value is not None:
            op["SubType"] = interned(value, value)
        records[op["Id"]] = op


# ---------------------------------------------------------------------------------------------------------
# Typed view (attrs + cattrs)
# ---------------------------------------------------------------------------------------------------------


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


@attrs.frozen
class StepOptions:
    next_attempt_delay_seconds: int | None = None


@attrs.frozen
class WaitOptions:
    wait_seconds: int | None = None


@attrs.frozen
class CallbackOptions:
    timeout_seconds: int | None = None
    heartbeat_timeout_seconds: int | None = None


@attrs.frozen
class ChainedInvokeOptions:
    function_name: str
    tenant_id: str | None = None
    x_amzn_trace_id: str | None = None


@attrs.frozen
class ContextOptions:
    replay_children: bool | None = None


@attrs.frozen
class OperationUpdate:
    """One element of ``CheckpointDurableExecution.Updates``."""

    id: str
    type: str
    action: str
    parent_id: str | None = None
    name: str | None = None
    sub_type: str | None = None
    payload: str | None = None
    error: ErrorObject | None = None
    context_options: ContextOptions | None = None
    step_options: StepOptions | None = None
    wait_options: WaitOptions | None = None
    callback_options: CallbackOptions | None = None
    chained_invoke_options: ChainedInvokeOptions | None = None


@attrs.frozen
class InvocationOutput:
    """What a durable handler returns to Lambda."""

    status: str
    result: str | None = None
    error: ErrorObject | None = None


_WIRE_CLASSES: tuple[type[Any], ...] = (
    ErrorObject,
    ExecutionDetails,
    StepDetails,
    WaitDetails,
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    Operation,
    StepOptions,
    WaitOptions,
    CallbackOptions,
    ChainedInvokeOptions,
    ContextOptions,
    OperationUpdate,
    InvocationOutput,
)

_SNAKE = re.compile(r"_([a-z])")


def wire_name(attribute: str) -> str:
    """``next_attempt_delay_seconds`` -> ``NextAttemptDelaySeconds`` (the service model's member names)."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), attribute[:1].upper() + attribute[1:])


def epoch_ms(value: _dt.datetime) -> int:
    """An aware datetime as integer epoch milliseconds (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return round(value.timestamp() * 1000)


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

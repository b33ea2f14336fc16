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
from typing import TYPE_CHECKING, Any, Final, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    pass

__all__ = [
    "CHECKPOINT_BATCH_MAX_BYTES",
    "CHECKPOINT_BATCH_MAX_UPDATES",
    "CHECKPOINT_PAYLOAD_LIMIT_BYTES",
    "ERROR_OBJECT_LIMIT_BYTES",
    "FAILURE_STATUSES",
    "MAX_WAIT_SECONDS",
    "OPEN_STATUSES",
    "RESPONSE_LIMIT_BYTES",
    "TERMINAL_STATUSES",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "Status",
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


class Status:
    """An operation record's ``Status`` values: the one set of status constants (plain strings, so that the
    operations' replay tables are dicts a record's status indexes directly)."""

    STARTED: Final = "STARTED"
    PENDING: Final = "PENDING"
    READY: Final = "READY"
    SUCCEEDED: Final = "SUCCEEDED"
    FAILED: Final = "FAILED"
    CANCELLED: Final = "CANCELLED"
    TIMED_OUT: Final = "TIMED_OUT"
    STOPPED: Final = "STOPPED"


class OperationStatus(enum.StrEnum):
    """The typed view of :class:`Status`."""

    STARTED = Status.STARTED
    PENDING = Status.PENDING
    READY = Status.READY
    SUCCEEDED = Status.SUCCEEDED
    FAILED = Status.FAILED
    CANCELLED = Status.CANCELLED
    TIMED_OUT = Status.TIMED_OUT
    STOPPED = Status.STOPPED


#: The statuses an operation ends with: the service changes it no more.
TERMINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT, Status.STOPPED})
#: The terminal statuses that are not a success (a recorded error to raise on replay).
FAILURE_STATUSES = TERMINAL_STATUSES - {Status.SUCCEEDED}
#: The statuses of an operation still under way (started, or waiting for its next attempt).
OPEN_STATUSES = frozenset({Status.STARTED, Status.PENDING, Status.READY})


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


def epoch_ms(value: _dt.datetime) -> int:
    """An aware datetime as integer epoch milliseconds (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return round(value.timestamp() * 1000)


_TYPED = frozenset(
    {
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
        "OperationUpdate",
        "StepDetails",
        "StepOptions",
        "WaitDetails",
        "WaitOptions",
        "from_wire",
        "to_wire",
    }
)


def __getattr__(name: str) -> Any:
    """The typed view's names (:mod:`replayflow._wire_typed`), imported on first use."""
    if name in _TYPED:
        from . import _wire_typed

        return getattr(_wire_typed, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

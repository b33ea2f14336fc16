"""The durable execution wire protocol: limits, names and shapes.

The ``TypedDict`` shapes (``OperationDict``, ``OperationUpdateDict``, ...) are the raw wire dicts exactly
as the service sends them in the invocation event and in API responses, with the service model's
PascalCase names and timestamps as epoch milliseconds. The interpreter works on these directly, so
replaying 100,000 operations never builds 100,000 objects.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterable
from typing import Any, Final, Literal, NotRequired, TypedDict

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

#: ``GetDurableExecutionHistory`` event types are ``<Kind><Phase>`` (``StepFailed``): each kind, with the
#: operation ``Type`` it stands for (longest first where one is a prefix of another).
EVENT_KINDS = (
    ("ChainedInvoke", "CHAINED_INVOKE"),
    ("Execution", "EXECUTION"),
    ("Callback", "CALLBACK"),
    ("Context", "CONTEXT"),
    ("Step", "STEP"),
    ("Wait", "WAIT"),
)
#: The phases of the events that end an operation, with the status it ends in.
EVENT_ENDINGS = {
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "TimedOut": "TIMED_OUT",
    "Stopped": "STOPPED",
    "Cancelled": "CANCELLED",
}


def split_event_type(event_type: str) -> tuple[str, str, str] | None:
    """``"StepFailed"`` -> ``("Step", "STEP", "Failed")``; ``None`` for events of no operation."""
    for kind, op_type in EVENT_KINDS:
        if event_type.startswith(kind):
            return kind, op_type, event_type[len(kind) :]
    return None


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


class ExecutionDetailsDict(TypedDict, total=False):
    InputPayload: str


class ContextDetailsDict(TypedDict, total=False):
    ReplayChildren: bool
    Result: str
    Error: ErrorObjectDict


class WaitDetailsDict(TypedDict, total=False):
    ScheduledEndTimestamp: int


class CallbackDetailsDict(TypedDict, total=False):
    CallbackId: str
    Result: str
    Error: ErrorObjectDict


class ChainedInvokeDetailsDict(TypedDict, total=False):
    Result: str
    Error: ErrorObjectDict


class _OperationIdentity(TypedDict, total=False):
    """The fields an ``Operation`` and the ``OperationUpdate`` that writes it share: which operation."""

    Id: str
    ParentId: str
    Name: str
    Type: str
    SubType: str


class OperationDict(_OperationIdentity, total=False):
    """One ``Operation`` of the service model; timestamps are epoch milliseconds."""

    Status: str
    StartTimestamp: int
    EndTimestamp: int
    ExecutionDetails: ExecutionDetailsDict
    ContextDetails: dict[str, Any]  # ContextDetailsDict once the batch reads it typed
    StepDetails: StepDetailsDict
    WaitDetails: WaitDetailsDict
    CallbackDetails: CallbackDetailsDict
    ChainedInvokeDetails: ChainedInvokeDetailsDict


class OperationUpdateDict(_OperationIdentity, total=False):
    """One element of ``CheckpointDurableExecution.Updates``."""

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


def index_by_id(operations: Iterable[OperationDict]) -> dict[str, OperationDict]:
    """Operation records by Id, in one pass that reads nothing else inside them (``str.join`` checks that
    every Id is a string). A ``TypeError``, ``KeyError`` or ``AttributeError`` when one is not a record
    with a string Id: the caller names it (``_event_check.check_operations``). A repeated Id keeps its
    last record; the caller compares the lengths when that matters."""
    records = {op["Id"]: op for op in operations}
    "".join(records)
    return records


def epoch_ms(value: _dt.datetime) -> int:
    """An aware datetime as integer epoch milliseconds (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return round(value.timestamp() * 1000)

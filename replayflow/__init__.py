"""replayflow: durable workflows for AWS Lambda durable functions, written as plain Python generators.

A workflow is a generator that yields operations built by ``ctx``; ``@durable`` makes it a Lambda handler::

    @replayflow.durable
    def process_order(order, ctx):
        reservation = yield ctx.step(reserve_inventory, order["items"], name="reserve-inventory")
        yield ctx.wait(hours=2, name="warehouse-processing")
        shipment = yield from ctx.step(ship, reservation, name="confirm-shipment")   # typed form
        return {"order": order["id"], "tracking": shipment["tracking"]}
"""

from __future__ import annotations

from ._aws import AwsTransport
from ._context import DurableContext
from ._duration import Duration
from ._envelope import OFFICIAL_FORMAT, EnvelopeSerDes, PayloadFormat
from ._errors import (
    BatchError,
    CallbackError,
    CallbackFailedError,
    CallbackHeartbeatTimeoutError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    DurableExecutionError,
    DurableOperationError,
    InvalidEventError,
    InvokeError,
    InvokeFailedError,
    InvokeStoppedError,
    InvokeTimedOutError,
    NonDeterminismError,
    PayloadTooLargeError,
    ReplayDivergenceError,
    RetryableSerDesError,
    SerDesError,
    ServiceError,
    StepCancelledError,
    StepError,
    StepInterruptedError,
    ValidationError,
    WaitForConditionError,
)
from ._handler import DurableHandler, durable
from ._hooks import InvocationInfo, OperationInfo, Plugin
from ._logging import DurableLogger, JsonFormatter
from ._ops.base import DurableOperation, Operation, Workflow
from ._ops.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionConfig,
    CompletionReason,
    NestingType,
    ParallelBranch,
)
from ._ops.body import StepContext, step_context
from ._ops.callback import Callback
from ._ops.condition import WaitStrategy
from ._ops.step import StepSemantics
from ._retry import Jitter, RetryPolicy, RetryPresets, RetryStrategy
from ._serdes import JsonSerDes, PassThroughSerDes, SerDes, SerDesContext
from ._transport import MockTransport, Transport, use_transport
from ._unyielded import UnyieldedOperationError

__version__ = "0.1.0"

__all__ = [
    "OFFICIAL_FORMAT",
    "AwsTransport",
    "BatchError",
    "BatchItem",
    "BatchItemStatus",
    "BatchResult",
    "Callback",
    "CallbackError",
    "CallbackFailedError",
    "CallbackHeartbeatTimeoutError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "ChildContextError",
    "CompletionConfig",
    "CompletionReason",
    "DurableContext",
    "DurableExecutionError",
    "DurableHandler",
    "DurableLogger",
    "DurableOperation",
    "DurableOperationError",
    "Duration",
    "EnvelopeSerDes",
    "InvalidEventError",
    "InvocationInfo",
    "InvokeError",
    "InvokeFailedError",
    "InvokeStoppedError",
    "InvokeTimedOutError",
    "Jitter",
    "JsonFormatter",
    "JsonSerDes",
    "MockTransport",
    "NestingType",
    "NonDeterminismError",
    "Operation",
    "OperationInfo",
    "ParallelBranch",
    "PassThroughSerDes",
    "PayloadFormat",
    "PayloadTooLargeError",
    "Plugin",
    "ReplayDivergenceError",
    "RetryPolicy",
    "RetryPresets",
    "RetryStrategy",
    "RetryableSerDesError",
    "SerDes",
    "SerDesContext",
    "SerDesError",
    "ServiceError",
    "StepCancelledError",
    "StepContext",
    "StepError",
    "StepInterruptedError",
    "StepSemantics",
    "Transport",
    "UnyieldedOperationError",
    "ValidationError",
    "WaitForConditionError",
    "WaitStrategy",
    "Workflow",
    "durable",
    "step_context",
    "use_transport",
]


def _public_module() -> None:
    """Present public classes as ``replayflow.X`` (also the ``ErrorType`` their instances record)."""
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type) and obj.__module__.startswith("replayflow._"):
            obj.__module__ = "replayflow"


_public_module()

"""replayflow: durable workflows for AWS Lambda durable functions, written as plain Python generators."""

from __future__ import annotations

from ._errors import (
    BatchError as BatchError,
    CallbackError as CallbackError,
    CallbackFailedError as CallbackFailedError,
    CallbackHeartbeatTimeoutError as CallbackHeartbeatTimeoutError,
    CallbackSubmitterError as CallbackSubmitterError,
    CallbackTimeoutError as CallbackTimeoutError,
    ChildContextError as ChildContextError,
    DurableExecutionError as DurableExecutionError,
    DurableOperationError as DurableOperationError,
    InvalidEventError as InvalidEventError,
    InvokeError as InvokeError,
    InvokeFailedError as InvokeFailedError,
    InvokeStoppedError as InvokeStoppedError,
    InvokeTimedOutError as InvokeTimedOutError,
    NonDeterminismError as NonDeterminismError,
    PayloadTooLargeError as PayloadTooLargeError,
    RetryableSerDesError as RetryableSerDesError,
    SerDesError as SerDesError,
    ServiceError as ServiceError,
    StepError as StepError,
    StepInterruptedError as StepInterruptedError,
    ValidationError as ValidationError,
    WaitForConditionError as WaitForConditionError,
)
from ._transport import MockTransport as MockTransport, Transport as Transport, use_transport as use_transport

__version__ = "0.1.0"

"""A boto3-shaped client for the in-process service: botocore ``ClientError`` instead of ``ServiceError``.

For code written against ``boto3.client("lambda")`` (the conformance suite's validator, scripts) that should
run against the in-process service without the HTTP face::

    lam = LocalLambdaClient(service)
    lam.send_durable_execution_callback_success(CallbackId=..., Result=b'"ok"')
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from replayflow._errors import ServiceError

from .service import LocalDurableService

__all__ = ["LocalLambdaClient"]

_METHODS = (
    "checkpoint_durable_execution",
    "get_durable_execution",
    "get_durable_execution_history",
    "get_durable_execution_state",
    "invoke",
    "list_durable_executions_by_function",
    "send_durable_execution_callback_failure",
    "send_durable_execution_callback_heartbeat",
    "send_durable_execution_callback_success",
    "stop_durable_execution",
)
_OPERATIONS = {
    "checkpoint_durable_execution": "CheckpointDurableExecution",
    "get_durable_execution": "GetDurableExecution",
    "get_durable_execution_history": "GetDurableExecutionHistory",
    "get_durable_execution_state": "GetDurableExecutionState",
    "invoke": "Invoke",
    "list_durable_executions_by_function": "ListDurableExecutionsByFunction",
    "send_durable_execution_callback_failure": "SendDurableExecutionCallbackFailure",
    "send_durable_execution_callback_heartbeat": "SendDurableExecutionCallbackHeartbeat",
    "send_durable_execution_callback_success": "SendDurableExecutionCallbackSuccess",
    "stop_durable_execution": "StopDurableExecution",
}


class LocalLambdaClient:
    """The durable-execution methods of a boto3 ``lambda`` client, served by a :class:`LocalDurableService`.

    Keyword arguments and responses are boto3's (timestamps as ``datetime``; ``invoke``'s ``Payload`` is
    ``bytes``); service errors are raised as ``botocore.exceptions.ClientError`` with the service's code.
    """

    def __init__(self, service: LocalDurableService) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in _METHODS:
            raise AttributeError(name)
        method = getattr(self.service, name)
        operation = _OPERATIONS[name]

        @functools.wraps(method)
        def call(**kwargs: Any) -> Any:
            from botocore.exceptions import ClientError

            try:
                if name in ("checkpoint_durable_execution", "get_durable_execution_state"):
                    return _datetimes(method(kwargs))
                return method(**kwargs)
            except ServiceError as error:
                response = {
                    "Error": {"Code": error.code, "Message": error.message},
                    "ResponseMetadata": {"HTTPStatusCode": error.status or 500},
                }
                raise ClientError(cast(Any, response), operation) from error

        return call


def _datetimes(response: Any) -> Any:
    """Operations' epoch-ms timestamps as ``datetime`` (what boto3 returns)."""
    from .engine import datetime_from_ms as _datetime

    state = response.get("NewExecutionState", response)
    operations = []
    for stored in state.get("Operations", []):
        op = dict(stored)
        for key in ("StartTimestamp", "EndTimestamp"):
            if key in op:
                op[key] = _datetime(op[key])
        for details, key in (("StepDetails", "NextAttemptTimestamp"), ("WaitDetails", "ScheduledEndTimestamp")):
            if key in op.get(details, {}):
                op[details] = {**op[details], key: _datetime(op[details][key])}
        operations.append(op)
    out = dict(response)
    if "NewExecutionState" in response:
        out["NewExecutionState"] = {**state, "Operations": operations}
    else:
        out["Operations"] = operations
    return out

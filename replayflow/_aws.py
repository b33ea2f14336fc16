"""The AWS transport: CheckpointDurableExecution and GetDurableExecutionState over boto3.

boto3 is imported when the first call is made, not when replayflow is imported. The endpoint follows
boto3's own resolution, so ``AWS_ENDPOINT_URL_LAMBDA`` (or ``endpoint_url=``) points it at another service,
such as ``replayflow serve``. Throttling and 5xx answers are retried by botocore's standard retry mode
(the ``ClientToken`` stays the same across those retries, so the service deduplicates them); what still
fails is raised as :class:`replayflow.ServiceError`.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import threading
from typing import Any

from ._errors import ServiceError
from ._wire import (
    CheckpointRequest,
    CheckpointResponse,
    ExecutionStateDict,
    GetStateRequest,
    GetStateResponse,
    OperationDict,
    epoch_ms,
)

__all__ = ["AwsTransport"]

_TIMESTAMPS = ("StartTimestamp", "EndTimestamp")
_DETAIL_TIMESTAMPS = (("StepDetails", "NextAttemptTimestamp"), ("WaitDetails", "ScheduledEndTimestamp"))


class AwsTransport:
    """A :class:`replayflow.Transport` over a boto3 ``lambda`` client (given, or created on first use)."""

    def __init__(
        self,
        client: Any = None,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        max_attempts: int = 5,
    ) -> None:
        self._client = client
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._max_attempts = max_attempts
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 ``lambda`` client."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    boto3 = _untyped("boto3")
                    config_class = _untyped("botocore.config").Config

                    from . import __version__

                    config = config_class(
                        retries={"mode": "standard", "max_attempts": self._max_attempts},
                        connect_timeout=5,
                        read_timeout=50,
                        user_agent_extra=f"replayflow/{__version__}",
                    )
                    self._client = boto3.client(
                        "lambda", endpoint_url=self._endpoint_url, region_name=self._region_name, config=config
                    )
        return self._client

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        response = self._call("checkpoint_durable_execution", request)
        state = response.get("NewExecutionState") or {}
        new_state: ExecutionStateDict = {"Operations": _normalize(state.get("Operations") or [])}
        if state.get("NextMarker"):
            new_state["NextMarker"] = state["NextMarker"]
        result: CheckpointResponse = {"NewExecutionState": new_state}
        if response.get("CheckpointToken"):
            result["CheckpointToken"] = response["CheckpointToken"]
        return result

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        response = self._call("get_durable_execution_state", request)
        result: GetStateResponse = {"Operations": _normalize(response.get("Operations") or [])}
        if response.get("NextMarker"):
            result["NextMarker"] = response["NextMarker"]
        return result

    def _call(self, method: str, request: CheckpointRequest | GetStateRequest) -> dict[str, Any]:
        errors = _untyped("botocore.exceptions")

        try:
            response: dict[str, Any] = getattr(self.client, method)(**request)
        except errors.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise ServiceError(
                str(error.get("Code") or "Unknown"), str(error.get("Message") or exc), status=status
            ) from exc
        except (errors.HTTPClientError, errors.ConnectionError) as exc:  # refused/reset, timeouts: transient
            raise ServiceError(type(exc).__name__, str(exc), status=None, retryable=True) from exc
        except errors.BotoCoreError as exc:  # configuration (no region, no credentials...): retrying will not help
            raise ServiceError(type(exc).__name__, str(exc), status=None, retryable=False) from exc
        return response


def _untyped(module: str) -> Any:
    """Import a boto3/botocore module: they ship no type hints, so what they hold is ``Any`` (here only)."""
    return importlib.import_module(module)


def _normalize(operations: list[Any]) -> list[OperationDict]:
    """boto3 gives datetimes; the interpreter reads epoch milliseconds, as in the invocation event.

    ``operations`` is what botocore parsed (untyped): the service model's ``Operation`` shapes.
    """
    for op in operations:
        for key in _TIMESTAMPS:
            value = op.get(key)
            if isinstance(value, _dt.datetime):
                op[key] = epoch_ms(value)
        for details_key, key in _DETAIL_TIMESTAMPS:
            details = op.get(details_key)
            if details and isinstance(details.get(key), _dt.datetime):
                details[key] = epoch_ms(details[key])
    return operations

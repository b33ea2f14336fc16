"""Hosting handlers written with AWS's own SDK (``aws-durable-execution-sdk-python``) on the local service.

A handler decorated with the official SDK's ``@durable_execution`` reads the protocol's invocation input
like a replayflow handler, but it checkpoints through its own service client (a boto3 ``lambda``
client), not through replayflow's transport. :class:`OfficialSdkInvoker` runs it in-process with a client
that reaches this service:

* ``endpoint_url=None``: the SDK's calls go straight to the service's transport (no HTTP);
* ``endpoint_url=URL`` (what ``replayflow serve`` does): the SDK's own ``LambdaClient`` over a boto3
  client on ``URL``, so every checkpoint crosses the HTTP face exactly as it crosses AWS's.

:func:`is_official_handler` detects such handlers (without importing the SDK when the handler's module
did not). The SDK is not a dependency of replayflow; it is only imported when such a handler runs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from replayflow._transport import Transport
from replayflow._wire import CheckpointRequest, GetStateRequest

from .context import LambdaContext
from .invokers import InvocationOutcome, run_in_process
from .records import Function

__all__ = ["OfficialSdkInvoker", "TransportServiceClient", "is_official_handler"]

_EXECUTION = "aws_durable_execution_sdk_python.execution"


def is_official_handler(obj: object) -> bool:
    """Whether ``obj`` is a handler made by the official SDK's ``durable_execution`` decorator."""
    module = sys.modules.get(_EXECUTION)
    code = getattr(obj, "__code__", None)
    if module is None or code is None:
        return False
    decorator = getattr(module, "durable_execution", None)
    return decorator is not None and code in decorator.__code__.co_consts


class TransportServiceClient:
    """The official SDK's ``DurableServiceClient`` answered by a replayflow :class:`Transport`."""

    def __init__(self, transport: Transport) -> None:
        from aws_durable_execution_sdk_python.lambda_service import CheckpointOutput, StateOutput

        self._transport = transport
        self._checkpoint_output = CheckpointOutput.from_dict
        self._state_output = StateOutput.from_dict

    def checkpoint(
        self, durable_execution_arn: str, checkpoint_token: str, updates: list[Any], client_token: Any
    ) -> Any:
        request: CheckpointRequest = {
            "DurableExecutionArn": durable_execution_arn,
            "CheckpointToken": checkpoint_token,
            "Updates": [update.to_dict() for update in updates],
        }
        if client_token is not None:
            request["ClientToken"] = client_token
        return self._checkpoint_output(dict(self._transport.checkpoint_durable_execution(request)))

    def get_execution_state(
        self, durable_execution_arn: str, checkpoint_token: str, next_marker: str, max_items: int = 1000
    ) -> Any:
        request: GetStateRequest = {
            "DurableExecutionArn": durable_execution_arn,
            "CheckpointToken": checkpoint_token,
            "Marker": next_marker,
            "MaxItems": max_items,
        }
        return self._state_output(dict(self._transport.get_durable_execution_state(request)))


class OfficialSdkInvoker:
    """Runs official-SDK handlers in this process (see the module docstring for ``endpoint_url``)."""

    def __init__(self, endpoint_url: str | None = None, *, region_name: str = "us-east-1") -> None:
        self.endpoint_url = endpoint_url
        self.region_name = region_name
        self._client: Any = None
        self._lock = threading.Lock()

    def invoke(self, function: Function, event: Any, context: LambdaContext, transport: Transport) -> InvocationOutcome:
        from aws_durable_execution_sdk_python.execution import (
            DurableExecutionInvocationInput,
            DurableExecutionInvocationInputWithClient,
        )

        def resolve() -> Callable[[Any, Any], Any]:
            handler = function.resolve()
            invocation = DurableExecutionInvocationInput.from_json_dict(event)
            client = self._service_client(transport)
            wrapped = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
                invocation, client
            )
            return lambda _event, lambda_context: handler(wrapped, lambda_context)

        return run_in_process(resolve, event, context, transport)

    def _service_client(self, transport: Transport) -> Any:
        if self.endpoint_url is None:
            return TransportServiceClient(transport)
        with self._lock:
            if self._client is None:
                self._client = self._http_client(self.endpoint_url)
            return self._client

    def _http_client(self, url: str) -> Any:
        import boto3
        from aws_durable_execution_sdk_python.lambda_service import LambdaClient
        from botocore.config import Config

        boto = boto3.client(
            "lambda",
            endpoint_url=url,
            region_name=self.region_name,
            aws_access_key_id="local",  # the local service does not check signatures
            aws_secret_access_key="local",
            config=Config(connect_timeout=5, read_timeout=50, max_pool_connections=32),
        )
        return LambdaClient(client=boto)

    def close(self) -> None:
        return None

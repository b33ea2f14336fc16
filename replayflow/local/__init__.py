"""The embedded local durable execution service: the service side of the protocol, in-process.

::

    from replayflow.local import LocalDurableService

    service = LocalDurableService()              # virtual clock, in-memory store
    service.register("orders", process_order)    # a @replayflow.durable handler
    result = service.run("orders", {"id": 7})    # drive it to the end (a 2-hour wait costs nothing)
    service.get_durable_execution_history(DurableExecutionArn=result.arn)["Events"]
"""

from __future__ import annotations

from ._http import Request as HttpRequest
from ._http import Response as HttpResponse
from .boto import LocalLambdaClient
from .clock import Clock, RealClock, VirtualClock
from .context import LambdaContext
from .errors import ProcessExit
from .invokers import InProcessInvoker, InvocationOutcome, Invoker
from .lambda_endpoint import LambdaInvokeServer
from .limits import Limits
from .official_sdk import OfficialSdkInvoker, is_official_handler
from .reads import ExecutionQuery
from .records import ExecutionResult, InvocationRetry
from .server import LocalHttpServer, serve
from .service import LocalDurableService, LocalTransport
from .store import MemoryStore, SqliteStore, Store, StoreError, StoreLockedError
from .subprocess_invoker import SubprocessInvoker
from .usage import Prices, Usage

__all__ = [
    "Clock",
    "ExecutionQuery",
    "ExecutionResult",
    "HttpRequest",
    "HttpResponse",
    "InProcessInvoker",
    "InvocationOutcome",
    "InvocationRetry",
    "Invoker",
    "LambdaContext",
    "LambdaInvokeServer",
    "Limits",
    "LocalDurableService",
    "LocalHttpServer",
    "LocalLambdaClient",
    "LocalTransport",
    "MemoryStore",
    "OfficialSdkInvoker",
    "Prices",
    "ProcessExit",
    "RealClock",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreLockedError",
    "SubprocessInvoker",
    "Usage",
    "VirtualClock",
    "is_official_handler",
    "serve",
]

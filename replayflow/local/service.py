"""The local durable execution service: its public API, and the driver that makes things happen.

:class:`LocalDurableService` implements the service side of the durable execution protocol in-process.
It starts executions of registered functions, invokes their handlers (through an :class:`Invoker`) with
the protocol's invocation input, answers their CheckpointDurableExecution / GetDurableExecutionState
calls, keeps the history, fires timers and re-invokes after every completion, and acts on each
invocation's output like the real service.

It is a facade over parts with one job each: :class:`~.engine.Engine` (executions, invocations, timers
firing, chained invokes, resuming), :class:`~.checkpoints.CheckpointApi` (the handler's two calls),
:class:`~.callbacks.CallbackApi`, :class:`~.reads.ReadApi`, :class:`~.scheduler.Scheduler` (the lock, the
ready queue, the timers) and :class:`~.scheduler.Driver` (who runs the work), over a :class:`~.store.Store`.

Who runs the work: nothing happens in the background until someone *drives* the service.
:meth:`~LocalDurableService.wait`, :meth:`~LocalDurableService.run`, :meth:`~LocalDurableService.advance`
and :meth:`~LocalDurableService.run_until_idle` drive it in the calling thread; :meth:`~LocalDurableService.start`
starts background driver threads (what the HTTP face uses). Invocations run outside the service's lock,
and at most one invocation of an execution runs at a time.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from replayflow._wire import CheckpointRequest, CheckpointResponse, GetStateRequest, GetStateResponse, OperationDict

from . import naming
from .callbacks import CallbackApi
from .checkpoints import CheckpointApi
from .clock import Clock, VirtualClock
from .engine import RUNNING, Engine, LocalTransport, datetime_from_ms
from .errors import (
    ConfigurationError,
    HandlerNotCallableError,
    InvalidParameterValueError,
    InvalidRequestContentError,
    NeedsVirtualClockError,
    RequestTooLargeError,
)
from .invokers import InProcessInvoker, Invoker
from .limits import Limits
from .official_sdk import OfficialSdkInvoker, is_official_handler
from .reads import ExecutionQuery, ReadApi, Timestamp
from .records import ExecutionResult, Function, InvocationRetry
from .scheduler import Driver, Scheduler
from .shapes import check_error_object, invoke_response
from .store import Store
from .usage import Prices, Usage

__all__ = ["ExecutionQuery", "LocalDurableService", "LocalTransport"]

_ALL = ExecutionQuery()
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


class LocalDurableService:
    """An in-process implementation of the AWS Lambda durable execution service.

    ``clock``: :class:`VirtualClock` (default; time jumps to the next timer) or :class:`RealClock`.
    ``store``: ``None``/``"memory"`` (default), a SQLite file path, or a :class:`Store`.
    ``limits``: :class:`Limits` (payload sizes, batch size, page size). ``invoker``: how handlers run
    (default :class:`InProcessInvoker`; a function may have its own). ``invocation_retry``: how failed
    invocations are retried. ``latency``: seconds slept in every Checkpoint/GetState call (benchmarks).
    ``execution_timeout`` / ``function_timeout``: defaults for registered functions (seconds).
    ``prices``: :class:`Prices` for the estimated cost in :meth:`usage`. ``read_only``: read a SQLite
    store another process may be writing (nothing is resumed, run or written; see :mod:`.store`).
    API calls are counted in :attr:`calls` (by operation name). The settings are attributes, fixed once
    the service is made.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        store: Store | str | None = None,
        limits: Limits | None = None,
        invoker: Invoker | None = None,
        invocation_retry: InvocationRetry | None = None,
        region: str = naming.DEFAULT_REGION,
        account: str = naming.DEFAULT_ACCOUNT,
        latency: float = 0.0,
        execution_timeout: int = 86_400,
        function_timeout: float = 900.0,
        prices: Prices | None = None,
        read_only: bool = False,
    ) -> None:
        self.execution_timeout = execution_timeout
        self.function_timeout = function_timeout
        self._scheduler = Scheduler()
        self._engine = Engine(
            self._scheduler,
            clock=clock if clock is not None else VirtualClock(),
            store=store,
            limits=limits or Limits(),
            invoker=invoker or InProcessInvoker(),
            invocation_retry=invocation_retry or InvocationRetry(),
            region=region,
            account=account,
            prices=prices or Prices(),
            read_only=read_only,
        )
        self._checkpoints = CheckpointApi(self._engine, latency)
        self._engine.handler_api = self._checkpoints
        self._callbacks = CallbackApi(self._engine)
        self._reads = ReadApi(self._engine)
        self._driver = Driver(self._scheduler, self._engine.clock, self._engine.fire_due, self._engine.timer_armed)
        # the settings, as the parts use them (fixed once the service is made)
        self.clock: Clock = self._engine.clock
        self.limits: Limits = self._engine.limits
        self.prices: Prices = self._engine.prices
        self.invoker: Invoker = self._engine.invoker
        self.invocation_retry: InvocationRetry = self._engine.invocation_retry
        self.region = region
        self.account = account
        self.latency = latency
        self.read_only = read_only
        #: API calls made to this service, by operation name (``"CheckpointDurableExecution"``...).
        self.calls: collections.Counter[str] = self._engine.calls

    # -- functions and executions

    def register(
        self,
        name: str,
        handler: Callable[..., Any] | str,
        *,
        durable: bool = True,
        invoker: Invoker | None = None,
        execution_timeout: int | None = None,
        function_timeout: float | None = None,
    ) -> None:
        """Register a function under ``name``: a durable handler (default), or a plain function.

        ``handler`` is a callable ``handler(event, lambda_context)`` or a ``"module:attribute"`` string.
        A plain function (``durable=False``) is a chained-invoke target called with the decoded payload.
        A handler made by the official SDK's ``@durable_execution`` gets an :class:`OfficialSdkInvoker`.
        """
        if not naming.valid_function_name(name):
            raise ConfigurationError(f"invalid function name {name!r}: use 1-64 letters, digits, '-' or '_'")
        if not callable(handler) and not isinstance(handler, str):
            raise HandlerNotCallableError(f"the handler of {name} must be callable or a 'module:attribute' string")
        if invoker is None and is_official_handler(handler):
            invoker = OfficialSdkInvoker()  # AWS's own SDK checkpoints through its own client
        timeout = self.execution_timeout if execution_timeout is None else execution_timeout
        if not 1 <= timeout <= 31_622_400:
            raise ConfigurationError("execution_timeout must be between 1 and 31622400 seconds")
        fn = Function(
            name=name,
            handler=handler,
            durable=durable,
            invoker=invoker,
            execution_timeout=timeout,
            function_timeout=self.function_timeout if function_timeout is None else function_timeout,
        )
        with self._engine.lock:
            self._engine.register(fn)

    def start_execution(
        self,
        function_name: str,
        payload: str | bytes | None = None,
        *,
        name: str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """Start an execution of a registered durable function with ``payload`` (JSON text); its ARN.

        Naming an execution twice returns the first one's ARN when the payload is the same, and raises
        ``DurableExecutionAlreadyStartedException`` when it differs.
        """
        text = payload.decode() if isinstance(payload, bytes) else payload
        with self._engine.lock:
            return self._engine.start_execution(function_name, text, name, tenant_id)

    def run(
        self, function_name: str, input: Any = None, *, name: str | None = None, timeout: float | None = None
    ) -> ExecutionResult:
        """Start an execution with ``input`` (JSON-encoded) and drive it to its end."""
        arn = self.start_execution(function_name, json.dumps(input), name=name)
        return self.wait(arn, timeout=timeout)

    # -- driving

    def wait(self, arn: str, timeout: float | None = None) -> ExecutionResult:
        """Drive the service until execution ``arn`` has ended; raise ``TimeoutError`` after ``timeout`` s."""
        with self._engine.lock:
            ex = self._engine.execution(arn)
        if not self._driver.drive(lambda: ex.status != RUNNING, timeout=timeout):
            raise TimeoutError(f"execution {arn} did not end within {timeout} seconds (status {ex.status})")
        return ex.result_view()

    def run_until_idle(self, timeout: float | None = None) -> None:
        """Drive until nothing is ready, running or armed (executions ended or waiting on the outside)."""
        if not self._driver.drive(self._driver.idle, timeout=timeout):
            raise TimeoutError(f"the service was still busy after {timeout} seconds")

    def advance(self, seconds: float) -> None:
        """Virtual clocks only: let ``seconds`` of time go by, firing timers and running invocations."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise NeedsVirtualClockError("advance() needs a VirtualClock")
        horizon = (round(clock.now() * 1000) + round(seconds * 1000)) / 1000
        self._driver.drive(lambda: self._driver.quiet_at(horizon), horizon=horizon)

    def start(self, workers: int = 2) -> None:
        """Start ``workers`` background driver threads (stopped by :meth:`close`)."""
        self._driver.start(workers)

    @property
    def driving(self) -> bool:
        """Whether background driver threads are running (see :meth:`start`)."""
        return self._driver.driving

    def close(self) -> None:
        """Stop background drivers, close invokers and the store."""
        self._driver.stop()
        invokers = {id(self.invoker): self.invoker}
        for fn in self._engine.functions.values():
            if fn.invoker is not None:
                invokers[id(fn.invoker)] = fn.invoker
        for invoker in invokers.values():
            invoker.close()
        with self._engine.lock:
            self._engine.store.close()

    def __enter__(self) -> LocalDurableService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the handler's calls

    def transport(self) -> LocalTransport:
        """A :class:`replayflow.Transport` to this service."""
        return LocalTransport(self._checkpoints)

    def checkpoint_durable_execution(self, request: CheckpointRequest) -> CheckpointResponse:
        """CheckpointDurableExecution (see :class:`~.checkpoints.CheckpointApi`)."""
        return self._checkpoints.checkpoint_durable_execution(request)

    def get_durable_execution_state(self, request: GetStateRequest) -> GetStateResponse:
        """GetDurableExecutionState: one page of operations (does not consume the token)."""
        return self._checkpoints.get_durable_execution_state(request)

    # -- callbacks and stopping

    def send_durable_execution_callback_success(
        self, CallbackId: str, Result: bytes | str | None = None
    ) -> dict[str, object]:
        """Complete a callback with ``Result`` (stored as the UTF-8 text of the bytes, verbatim)."""
        return self._callbacks.send_durable_execution_callback_success(CallbackId, Result)

    def send_durable_execution_callback_failure(
        self, CallbackId: str, Error: dict[str, Any] | None = None
    ) -> dict[str, object]:
        """Complete a callback with a failure (``Error`` is an ErrorObject)."""
        return self._callbacks.send_durable_execution_callback_failure(CallbackId, Error)

    def send_durable_execution_callback_heartbeat(self, CallbackId: str) -> dict[str, object]:
        """Keep a callback alive: its heartbeat timeout starts again (no history event)."""
        return self._callbacks.send_durable_execution_callback_heartbeat(CallbackId)

    def stop_durable_execution(
        self, DurableExecutionArn: str, Error: dict[str, Any] | None = None
    ) -> dict[str, _dt.datetime]:
        """Stop a running execution (status STOPPED, an ExecutionStopped event)."""
        engine = self._engine
        engine.calls["StopDurableExecution"] += 1
        error = check_error_object(Error, engine.limits)
        with engine.lock:
            ex = engine.execution(DurableExecutionArn)
            engine.stop(ex, error)
            return {"StopTimestamp": datetime_from_ms(ex.end_ms or 0)}

    # -- reads

    def get_durable_execution(self, DurableExecutionArn: str, IncludeExecutionData: bool = True) -> dict[str, Any]:
        """GetDurableExecution, boto3-shaped (timestamps as ``datetime``)."""
        return self._reads.describe(DurableExecutionArn, IncludeExecutionData, datetime_from_ms)

    def describe(
        self, arn: str, *, include_data: bool = True, timestamp: Timestamp = datetime_from_ms
    ) -> dict[str, Any]:
        """GetDurableExecution with timestamps converted by ``timestamp`` (from epoch ms)."""
        return self._reads.describe(arn, include_data, timestamp)

    def get_durable_execution_history(
        self,
        DurableExecutionArn: str,
        IncludeExecutionData: bool = True,
        MaxItems: int | None = None,
        Marker: str | None = None,
        ReverseOrder: bool = False,
    ) -> dict[str, Any]:
        """GetDurableExecutionHistory, boto3-shaped (timestamps as ``datetime``)."""
        return self._reads.history(
            DurableExecutionArn, IncludeExecutionData, MaxItems, Marker, ReverseOrder, datetime_from_ms
        )

    def history(
        self,
        arn: str,
        *,
        include_data: bool = True,
        max_items: int | None = None,
        marker: str | None = None,
        reverse: bool = False,
        timestamp: Timestamp = datetime_from_ms,
    ) -> dict[str, Any]:
        """One page of GetDurableExecutionHistory, timestamps converted by ``timestamp`` (from epoch ms)."""
        return self._reads.history(arn, include_data, max_items, marker, reverse, timestamp)

    def list_durable_executions_by_function(
        self,
        FunctionName: str,
        Qualifier: str | None = None,
        DurableExecutionName: str | None = None,
        Statuses: list[str] | None = None,
        StartedAfter: _dt.datetime | None = None,
        StartedBefore: _dt.datetime | None = None,
        ReverseOrder: bool = False,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        """ListDurableExecutionsByFunction (newest first unless ``ReverseOrder``), boto3-shaped."""
        query = ExecutionQuery(
            Qualifier, DurableExecutionName, Statuses, StartedAfter, StartedBefore, ReverseOrder, Marker, MaxItems
        )
        return self._reads.list_executions(FunctionName, query, datetime_from_ms)

    def list_executions(
        self, function_name: str, query: ExecutionQuery = _ALL, *, timestamp: Timestamp = datetime_from_ms
    ) -> dict[str, Any]:
        """One page of ListDurableExecutionsByFunction for ``query``, timestamps converted by ``timestamp``."""
        return self._reads.list_executions(function_name, query, timestamp)

    def execution(self, arn: str) -> ExecutionResult:
        """Where execution ``arn`` stands now (status, result, error)."""
        return self._reads.execution(arn)

    def invocation_operations(self, arn: str) -> list[OperationDict]:
        """The operations of ``arn`` as an invocation receives them now (all pages; none inside a finished
        context that does not replay its children): what the replay-equivalence checker replays."""
        return self._reads.invocation_operations(arn)

    def usage(self, arn: str) -> Usage:
        """What execution ``arn`` used of its quotas (operations, bytes written, invocations) and its cost."""
        return self._reads.usage(arn)

    def executions(self) -> Iterator[ExecutionResult]:
        """Every execution the service knows, oldest first."""
        return self._reads.executions()

    def functions(self) -> list[tuple[str, bool]]:
        """The registered functions as ``(name, durable)``, in registration order (the web console's list)."""
        return self._reads.functions()

    # -- Lambda Invoke

    def invoke(
        self,
        FunctionName: str,
        Payload: bytes | str | None = None,
        InvocationType: str = "RequestResponse",
        DurableExecutionName: str | None = None,
        Qualifier: str | None = None,
        TenantId: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Lambda ``Invoke``: starts an execution of a durable function (boto3-shaped response).

        ``RequestResponse`` drives the execution to its end and answers its result (``FunctionError``
        ``"Unhandled"`` and the error when it did not succeed); ``Event`` answers 202 at once. A plain
        function is simply called.
        """
        self.calls["Invoke"] += 1
        raw = Payload.encode() if isinstance(Payload, str) else (Payload or b"")
        self._check_invoke(raw, InvocationType)
        target = naming.parse_function_target(FunctionName)
        with self._engine.lock:
            fn = self._engine.function(target[0] if target else FunctionName)
        if InvocationType == "DryRun":
            return {"StatusCode": 204, "Payload": b""}
        payload = _json_payload(raw)
        if not fn.durable:
            outcome = self._engine.run_plain(fn, payload, TenantId)
            if InvocationType == "Event":
                return {"StatusCode": 202, "Payload": b""}
            return invoke_response(outcome.output, outcome.error, None)
        arn = self.start_execution(fn.name, payload, name=DurableExecutionName, tenant_id=TenantId)
        if InvocationType == "Event":
            return {"StatusCode": 202, "Payload": b"", "DurableExecutionArn": arn}
        return _invoke_answer(self.wait(arn, timeout=timeout))

    def _check_invoke(self, raw: bytes, invocation_type: str) -> None:
        if invocation_type not in _INVOCATION_TYPES:
            raise InvalidParameterValueError(f"Invalid InvocationType {invocation_type!r}.")
        limits = self.limits
        limit = (
            limits.invoke_payload_bytes if invocation_type == "RequestResponse" else limits.async_invoke_payload_bytes
        )
        if len(raw) > limit:
            raise RequestTooLargeError(f"Request must be smaller than {limit} bytes for the Invoke operation.")


def _invoke_answer(result: ExecutionResult) -> dict[str, Any]:
    """A synchronous Invoke's answer for an execution that ended."""
    if result.status == "SUCCEEDED":
        return {
            "StatusCode": 200,
            "Payload": (result.result or "null").encode(),
            "ExecutedVersion": naming.LATEST,
            "DurableExecutionArn": result.arn,
        }
    error = result.error or {"ErrorType": result.status, "ErrorMessage": f"The execution ended {result.status}"}
    return invoke_response(None, error, result.arn)


def _json_payload(raw: bytes) -> str | None:
    """An Invoke payload as text, refused like Lambda's ``InvalidRequestContentException`` unless it is JSON."""
    if not raw:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestContentError(f"Could not parse request body into json: {exc}") from exc
    return raw.decode()

"""The local durable execution service: its public API, and the driver that makes things happen.

:class:`LocalDurableService` implements the service side of the durable execution protocol in-process.
It starts executions of registered functions, invokes their handlers (through an :class:`Invoker`) with
the protocol's invocation input, answers their CheckpointDurableExecution / GetDurableExecutionState
calls, keeps the history, fires timers and re-invokes after every completion, and acts on each
invocation's output like the real service (the mechanics are in :mod:`.engine`, the callback APIs in
:mod:`.callbacks`).

Who runs the work: nothing happens in the background until someone *drives* the service.
:meth:`~LocalDurableService.wait`, :meth:`~LocalDurableService.run`, :meth:`~LocalDurableService.advance`
and :meth:`~LocalDurableService.run_until_idle` drive it in the calling thread; :meth:`~LocalDurableService.start`
starts background driver threads (what the HTTP face uses). Invocations run outside the service's lock,
and at most one invocation of an execution runs at a time.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from . import naming
from .callbacks import CallbackApi
from .clock import VirtualClock
from .engine import RUNNING, LocalTransport, _ms, datetime_from_ms
from .errors import (
    invalid_parameter,
    invalid_request_content,
    request_too_large,
)
from .events import data, render_event
from .invokers import Invoker
from .official_sdk import OfficialSdkInvoker, is_official_handler
from .records import Execution, ExecutionResult, Function
from .shapes import check_error_object, invoke_response, page_size, parse_marker
from .usage import Usage, execution_usage

__all__ = ["LocalDurableService", "LocalTransport"]


class LocalDurableService(CallbackApi):
    """An in-process implementation of the AWS Lambda durable execution service.

    ``clock``: :class:`VirtualClock` (default; time jumps to the next timer) or :class:`RealClock`.
    ``store``: ``None``/``"memory"`` (default), a SQLite file path, or a :class:`Store`.
    ``limits``: :class:`Limits` (payload sizes, batch size, page size). ``invoker``: how handlers run
    (default :class:`InProcessInvoker`; a function may have its own). ``invocation_retry``: how failed
    invocations are retried. ``latency``: seconds slept in every Checkpoint/GetState call (benchmarks).
    ``execution_timeout`` / ``function_timeout``: defaults for registered functions (seconds).
    ``prices``: :class:`Prices` for the estimated cost in :meth:`usage`. ``read_only``: read a SQLite
    store another process may be writing (nothing is resumed, run or written; see :mod:`.store`).
    API calls are counted in :attr:`calls` (by operation name).
    """

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
            raise ValueError(f"invalid function name {name!r}: use 1-64 letters, digits, '-' or '_'")
        if not callable(handler) and not isinstance(handler, str):
            raise TypeError(f"the handler of {name} must be callable or a 'module:attribute' string")
        if invoker is None and is_official_handler(handler):
            invoker = OfficialSdkInvoker()  # AWS's own SDK checkpoints through its own client
        timeout = self.execution_timeout if execution_timeout is None else execution_timeout
        if not 1 <= timeout <= 31_622_400:
            raise ValueError("execution_timeout must be between 1 and 31622400 seconds")
        with self._lock:
            waiting = self._on_register.pop(name, [])
            self._functions[name] = Function(
                name=name,
                handler=handler,
                durable=durable,
                invoker=invoker,
                execution_timeout=timeout,
                function_timeout=self.function_timeout if function_timeout is None else function_timeout,
            )
            for resume in waiting:
                resume()

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
        with self._lock:
            fn = self._function(function_name)
            if not fn.durable:
                raise invalid_parameter(f"Function {function_name} is not a durable function.")
            ex = self._create_execution(fn, text, name, tenant_id, parent=None)
            self._generation += 1
            self._cond.notify_all()
            return ex.arn

    def run(
        self, function_name: str, input: Any = None, *, name: str | None = None, timeout: float | None = None
    ) -> ExecutionResult:
        """Start an execution with ``input`` (JSON-encoded) and drive it to its end."""
        arn = self.start_execution(function_name, json.dumps(input), name=name)
        return self.wait(arn, timeout=timeout)

    def wait(self, arn: str, timeout: float | None = None) -> ExecutionResult:
        """Drive the service until execution ``arn`` has ended; raise ``TimeoutError`` after ``timeout`` s."""
        with self._lock:
            ex = self._execution(arn)
        if not self._drive(lambda: ex.status != RUNNING, timeout=timeout):
            raise TimeoutError(f"execution {arn} did not end within {timeout} seconds (status {ex.status})")
        return ex.result_view()

    def run_until_idle(self, timeout: float | None = None) -> None:
        """Drive until nothing is ready, running or armed (executions ended or waiting on the outside)."""
        if not self._drive(self._idle, timeout=timeout):
            raise TimeoutError(f"the service was still busy after {timeout} seconds")

    def advance(self, seconds: float) -> None:
        """Virtual clocks only: let ``seconds`` of time go by, firing timers and running invocations."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("advance() needs a VirtualClock")
        horizon = (round(clock.now() * 1000) + round(seconds * 1000)) / 1000
        self._drive(lambda: self._quiet_at(horizon), horizon=horizon)

    def start(self, workers: int = 2) -> None:
        """Start ``workers`` background driver threads (stopped by :meth:`close`)."""
        with self._lock:
            self._closing = False
            for index in range(workers):
                thread = threading.Thread(
                    target=self._drive, args=(lambda: self._closing,), name=f"replayflow-local-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def close(self) -> None:
        """Stop background drivers, close invokers and the store."""
        with self._lock:
            self._closing = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)
        invokers = {id(self.invoker): self.invoker}
        for fn in self._functions.values():
            if fn.invoker is not None:
                invokers[id(fn.invoker)] = fn.invoker
        for invoker in invokers.values():
            invoker.close()
        with self._lock:
            self._store.close()

    def __enter__(self) -> LocalDurableService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def driving(self) -> bool:
        """Whether background driver threads are running (see :meth:`start`)."""
        return bool(self._threads)

    def transport(self) -> LocalTransport:
        """A :class:`replayflow.Transport` to this service."""
        return LocalTransport(self)

    def _idle(self) -> bool:
        return not self._ready and self._busy == 0 and self._timers.next_due(self._timer_valid) is None

    def _quiet_at(self, horizon: float) -> bool:
        if self._ready or self._busy or self.clock.now() < horizon:
            return False
        due = self._timers.next_due(self._timer_valid)
        return due is None or due > horizon

    def _drive(self, done: Callable[[], bool], *, horizon: float | None = None, timeout: float | None = None) -> bool:
        """Run ready work, fire timers and move a virtual clock until ``done()``; ``False`` on timeout."""
        clock = self.clock
        virtual = isinstance(clock, VirtualClock)
        end = None if timeout is None else time.monotonic() + timeout
        cond = self._cond
        while True:
            with cond:
                while True:
                    if done():
                        return True
                    now = clock.now()
                    if self._fire_due(now):
                        continue
                    if self._ready:
                        job = self._ready.popleft()
                        self._busy += 1
                        break
                    due = self._timers.next_due(self._timer_valid)
                    if virtual and self._busy == 0:
                        assert isinstance(clock, VirtualClock)
                        target = due
                        if horizon is not None and (target is None or target > horizon):
                            target = horizon if now < horizon else None
                        if target is not None and (clock.autojump or horizon is not None):
                            if clock.autojump_threshold > 0 and horizon is None:
                                generation = self._generation
                                cond.wait(clock.autojump_threshold)
                                if generation != self._generation:
                                    continue
                            clock.jump_to(target)
                            continue
                    wait: float | None = None
                    if due is not None and not virtual:
                        wait = clock.real_delay(due - now)
                    if end is not None:
                        remaining = end - time.monotonic()
                        if remaining <= 0:
                            return False
                        wait = remaining if wait is None else min(wait, remaining)
                    cond.wait(wait)
            try:
                job()
            finally:
                with cond:
                    self._busy -= 1
                    self._generation += 1
                    cond.notify_all()

    def stop_durable_execution(self, DurableExecutionArn: str, Error: dict[str, Any] | None = None) -> dict[str, Any]:
        """Stop a running execution (status STOPPED, an ExecutionStopped event)."""
        self.calls["StopDurableExecution"] += 1
        error = check_error_object(Error, self.limits)
        with self._lock:
            ex = self._execution(DurableExecutionArn)
            if ex.status != RUNNING:
                raise invalid_parameter(f"Durable execution {DurableExecutionArn} is not running (status {ex.status}).")
            ex.error = error
            self._terminate(ex, "STOPPED", "ExecutionStopped", {"Error": data(error or {})})
            return {"StopTimestamp": datetime_from_ms(ex.end_ms or 0)}

    def get_durable_execution(self, DurableExecutionArn: str, IncludeExecutionData: bool = True) -> dict[str, Any]:
        """GetDurableExecution, boto3-shaped (timestamps as ``datetime``)."""
        return self.describe(DurableExecutionArn, include_data=IncludeExecutionData)

    def describe(
        self, arn: str, *, include_data: bool = True, timestamp: Callable[[int], Any] = datetime_from_ms
    ) -> dict[str, Any]:
        """GetDurableExecution with timestamps converted by ``timestamp`` (from epoch ms)."""
        self.calls["GetDurableExecution"] += 1
        with self._lock:
            return self._describe(self._execution(arn), include_data, timestamp)

    def _describe(self, ex: Execution, include: bool, timestamp: Callable[[int], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "DurableExecutionArn": ex.arn,
            "DurableExecutionName": ex.name,
            "FunctionArn": naming.function_arn(ex.function_name, ex.region, ex.account, naming.LATEST),
            "Status": ex.status,
            "StartTimestamp": timestamp(ex.start_ms),
            "Version": naming.LATEST,
            "ExecutionDataIncluded": include,
            "DurableConfig": {"ExecutionTimeout": ex.timeout, "RetentionPeriodInDays": 30},
        }
        if include and ex.input_payload is not None:
            out["InputPayload"] = ex.input_payload
        if include and ex.result is not None:
            out["Result"] = ex.result
        if ex.error is not None and ex.status != "SUCCEEDED":
            out["Error"] = ex.error if include else {k: v for k, v in ex.error.items() if k == "ErrorType"}
        if ex.end_ms is not None:
            out["EndTimestamp"] = timestamp(ex.end_ms)
        else:
            out["ExpectedExecutionTimeoutTimestamp"] = timestamp(ex.start_ms + ex.timeout * 1000)
        return out

    def get_durable_execution_history(
        self,
        DurableExecutionArn: str,
        IncludeExecutionData: bool = True,
        MaxItems: int | None = None,
        Marker: str | None = None,
        ReverseOrder: bool = False,
    ) -> dict[str, Any]:
        """GetDurableExecutionHistory, boto3-shaped (timestamps as ``datetime``)."""
        return self.history(
            DurableExecutionArn,
            include_data=IncludeExecutionData,
            max_items=MaxItems,
            marker=Marker,
            reverse=ReverseOrder,
        )

    def history(
        self,
        arn: str,
        *,
        include_data: bool = True,
        max_items: int | None = None,
        marker: str | None = None,
        reverse: bool = False,
        timestamp: Callable[[int], Any] = datetime_from_ms,
    ) -> dict[str, Any]:
        """One page of GetDurableExecutionHistory, timestamps converted by ``timestamp`` (from epoch ms)."""
        include = include_data
        self.calls["GetDurableExecutionHistory"] += 1
        size = page_size(max_items, 1000)
        start = parse_marker(marker)
        with self._lock:
            ex = self._execution(arn)
            events = ex.events[::-1] if reverse else ex.events
            page = events[start : start + size]
            out: dict[str, Any] = {"Events": [render_event(e, include, timestamp) for e in page]}
            if start + size < len(events):
                out["NextMarker"] = str(start + size)
            return out

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
        return self.list_executions(
            FunctionName,
            qualifier=Qualifier,
            name=DurableExecutionName,
            statuses=Statuses,
            started_after=StartedAfter,
            started_before=StartedBefore,
            reverse=ReverseOrder,
            marker=Marker,
            max_items=MaxItems,
        )

    def list_executions(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        name: str | None = None,
        statuses: list[str] | None = None,
        started_after: _dt.datetime | None = None,
        started_before: _dt.datetime | None = None,
        reverse: bool = False,
        marker: str | None = None,
        max_items: int | None = None,
        timestamp: Callable[[int], Any] = datetime_from_ms,
    ) -> dict[str, Any]:
        """One page of ListDurableExecutionsByFunction, timestamps converted by ``timestamp``."""
        after, before = started_after, started_before
        self.calls["ListDurableExecutionsByFunction"] += 1
        target = naming.parse_function_target(function_name)
        size = page_size(max_items, 1000)
        start = parse_marker(marker)
        with self._lock:
            fn = self._function(target[0] if target else function_name)
            if qualifier not in (None, naming.LATEST):
                executions: list[Execution] = []
            else:
                executions = list(self._by_function.get(fn.name, ()))
            if not reverse:
                executions.reverse()
            after_ms = None if after is None else _ms(after.timestamp())
            before_ms = None if before is None else _ms(before.timestamp())
            selected = [
                ex
                for ex in executions
                if (name is None or ex.name == name)
                and (not statuses or ex.status in statuses)
                and (after_ms is None or ex.start_ms > after_ms)
                and (before_ms is None or ex.start_ms < before_ms)
            ]
            page = selected[start : start + size]
            items = []
            for ex in page:
                item: dict[str, Any] = {
                    "DurableExecutionArn": ex.arn,
                    "DurableExecutionName": ex.name,
                    "FunctionArn": naming.function_arn(ex.function_name, ex.region, ex.account, naming.LATEST),
                    "Status": ex.status,
                    "StartTimestamp": timestamp(ex.start_ms),
                }
                if ex.end_ms is not None:
                    item["EndTimestamp"] = timestamp(ex.end_ms)
                items.append(item)
            out: dict[str, Any] = {"DurableExecutions": items}
            if start + size < len(selected):
                out["NextMarker"] = str(start + size)
            return out

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
        if InvocationType not in ("RequestResponse", "Event", "DryRun"):
            raise invalid_parameter(f"Invalid InvocationType {InvocationType!r}.")
        limit = (
            self.limits.invoke_payload_bytes
            if InvocationType == "RequestResponse"
            else self.limits.async_invoke_payload_bytes
        )
        if len(raw) > limit:
            raise request_too_large(f"Request must be smaller than {limit} bytes for the Invoke operation.")
        target = naming.parse_function_target(FunctionName)
        with self._lock:
            fn = self._function(target[0] if target else FunctionName)
        if InvocationType == "DryRun":
            return {"StatusCode": 204, "Payload": b""}
        payload = _json_payload(raw)
        if not fn.durable:
            outcome = self._run_plain(fn, payload, TenantId)
            if InvocationType == "Event":
                return {"StatusCode": 202, "Payload": b""}
            return invoke_response(outcome.output, outcome.error, None)
        arn = self.start_execution(fn.name, payload, name=DurableExecutionName, tenant_id=TenantId)
        if InvocationType == "Event":
            return {"StatusCode": 202, "Payload": b"", "DurableExecutionArn": arn}
        result = self.wait(arn, timeout=timeout)
        if result.status == "SUCCEEDED":
            return {
                "StatusCode": 200,
                "Payload": (result.result or "null").encode(),
                "ExecutedVersion": naming.LATEST,
                "DurableExecutionArn": arn,
            }
        error = result.error or {"ErrorType": result.status, "ErrorMessage": f"The execution ended {result.status}"}
        return invoke_response(None, error, arn)

    def execution(self, arn: str) -> ExecutionResult:
        """Where execution ``arn`` stands now (status, result, error)."""
        with self._lock:
            return self._execution(arn).result_view()

    def invocation_operations(self, arn: str) -> list[dict[str, Any]]:
        """The operations of ``arn`` as an invocation receives them now (all pages; none inside a finished
        context that does not replay its children): what the replay-equivalence checker replays."""
        with self._lock:
            ex = self._execution(arn)
            out: list[dict[str, Any]] = []
            start: int | None = 0
            while start is not None:
                page, marker = self._page(ex, start, len(ex.order))
                out.extend(dict(op) for op in page)
                start = int(marker) if marker else None
            return out

    def usage(self, arn: str) -> Usage:
        """What execution ``arn`` used of its quotas (operations, bytes written, invocations) and its cost."""
        with self._lock:
            return execution_usage(self._execution(arn), self.limits, self.prices, self._now_ms())

    def executions(self) -> Iterator[ExecutionResult]:
        """Every execution the service knows, oldest first."""
        with self._lock:
            views = [ex.result_view() for ex in self._executions.values()]
        return iter(views)

    def functions(self) -> list[tuple[str, bool]]:
        """The registered functions as ``(name, durable)``, in registration order (the web console's list)."""
        with self._lock:
            return [(fn.name, fn.durable) for fn in self._functions.values()]


def _json_payload(raw: bytes) -> str | None:
    """An Invoke payload as text, refused like Lambda's ``InvalidRequestContentException`` unless it is JSON."""
    if not raw:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request_content(f"Could not parse request body into json: {exc}") from exc
    return raw.decode()
